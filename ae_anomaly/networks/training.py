"""Training the autoencoder on normal curves: the loop, its per-epoch history, and the
held-out split of the normal training curves.

Everything takes plain arguments (:class:`TrainingConfig`); :mod:`ae_anomaly.pipeline.wiring` builds
them from ``params.yaml``.
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from ae_anomaly.core.progress import Progress
from ae_anomaly.networks.autoencoder import Autoencoder, as_tensor

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainingConfig:
    """How to fit the network: Adam on the MSE over mini-batches, optional cosine decay of
    the learning rate to 0, optional early stopping on the held-out loss."""

    epochs: int
    batch_size: int
    lr: float
    weight_decay: float = 0.0
    lr_schedule: Literal["constant", "cosine"] = "constant"
    early_stopping_patience: int | None = None


def seed_everything(seed: int) -> None:
    """Seed torch (CPU and CUDA) and ask for deterministic kernels, so reruns are identical."""
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.manual_seed(seed)
    deterministic_kernels()
    torch.backends.cudnn.benchmark = False


def deterministic_kernels() -> None:
    """``torch.use_deterministic_algorithms(True, warn_only=True)`` for eager kernels.

    The public function also imports the ``torch.compile`` backend (``torch._inductor``) to
    set its own flag: 0.9 s of a ``train_ae`` process that never compiles. This sets the
    kernels' flag alone, where this torch has the setter the public function calls.
    """
    setter = getattr(torch._C, "_set_deterministic_algorithms", None)
    if setter is None:
        torch.use_deterministic_algorithms(True, warn_only=True)
    else:
        setter(True, warn_only=True)


@dataclass
class TrainingHistory:
    """Per-epoch record of training; ``monitor_errors`` is (epochs_run, n_monitor)."""

    train_loss: list[float] = field(default_factory=list)
    holdout_loss: list[float] = field(default_factory=list)
    monitor_errors: list[np.ndarray] = field(default_factory=list)
    best_epoch: int = 0

    @property
    def epochs_run(self) -> int:
        return len(self.train_loss)

    def monitor_errors_array(self) -> np.ndarray:
        return np.stack(self.monitor_errors).astype(np.float32)

    def summary(self, **extra: Any) -> dict[str, Any]:
        """Scalars worth tracking as DVC metrics: final and best losses, epochs run."""
        best = self.best_epoch - 1
        return {
            "epochs_run": self.epochs_run,
            "best_epoch": self.best_epoch,
            "final_train_loss": self.train_loss[-1],
            "final_holdout_loss": self.holdout_loss[-1],
            "best_holdout_loss": self.holdout_loss[best],
            **extra,
        }


@torch.inference_mode()
def per_sample_mse(model: nn.Module, x: torch.Tensor, batch_size: int) -> torch.Tensor:
    """Mean squared reconstruction error of every row, computed in batches."""
    model.eval()
    errors = [
        torch.mean((model(batch) - batch) ** 2, dim=1) for batch in torch.split(x, batch_size)
    ]
    return torch.cat(errors) if errors else torch.empty(0, device=x.device)


class FusedAdam:
    """Adam as ``torch.optim.Adam(..., fused=True)`` computes it, without the Python
    bookkeeping around the kernel.

    The fused kernel updates every tensor in one call, but ``Adam.step`` spends about as long
    again in Python around it (grouping tensors, state lookups, profiling hooks), once per
    mini-batch. :meth:`update` calls the same kernel with the same arguments, so the weights
    are bit for bit those of ``torch.optim.Adam(fused=True)``. Each tensor's gradient is its
    ``grad``; the learning rate is the attribute ``lr``, set before each update.

    It is deliberately not a ``torch.optim.Optimizer``: building one imports torch's compiler
    (``torch._dynamo``, 0.8 s of a ``train_ae`` process that never compiles).
    """

    def __init__(
        self,
        parameters: list[torch.Tensor],
        lr: float,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ):
        self.parameters = list(parameters)
        self.lr, self.betas, self.eps, self.weight_decay = lr, betas, eps, weight_decay
        self._gradients = [parameter.grad for parameter in self.parameters]
        if not self.parameters or any(gradient is None for gradient in self._gradients):
            raise ValueError("FusedAdam needs every tensor's grad set before it is built")
        self._averages = [torch.zeros_like(parameter) for parameter in self.parameters]
        self._square_averages = [torch.zeros_like(parameter) for parameter in self.parameters]
        # torch keeps the step count as a float32 tensor on the parameters' device.
        self._step = torch.zeros((), dtype=torch.float32, device=self.parameters[0].device)
        self._steps = [self._step] * len(self.parameters)

    @torch.no_grad()
    def update(self) -> None:
        """One Adam step from the gradients, in place."""
        beta1, beta2 = self.betas
        self._step += 1
        torch._fused_adam_(
            self.parameters,
            self._gradients,
            self._averages,
            self._square_averages,
            [],
            self._steps,
            lr=self.lr,
            beta1=beta1,
            beta2=beta2,
            weight_decay=self.weight_decay,
            eps=self.eps,
            amsgrad=False,
            maximize=False,
        )


def _leaky_relu(z: torch.Tensor, slope: float) -> torch.Tensor:
    return torch._C._nn.leaky_relu(z, slope)


_aten = torch.ops.aten

#: Each activation's forward and its derivative as autograd computes it (same ATen kernels):
#: backward(grad, pre-activation, activation output, negative slope) -> grad before it.
_ACTIVATIONS: dict[str, tuple[Any, Any]] = {
    "leaky_relu": (
        _leaky_relu,
        lambda g, z, a, slope: _aten.leaky_relu_backward.default(g, z, slope, False),
    ),
    "relu": (
        lambda z, slope: torch.relu(z),
        lambda g, z, a, slope: _aten.threshold_backward.default(g, a, 0),
    ),
    "elu": (
        lambda z, slope: torch.nn.functional.elu(z),
        lambda g, z, a, slope: _aten.elu_backward.default(g, 1.0, 1, 1, False, z),
    ),
    "tanh": (
        lambda z, slope: torch.tanh(z),
        lambda g, z, a, slope: _aten.tanh_backward.default(g, a),
    ),
    "gelu": (
        lambda z, slope: torch.nn.functional.gelu(z),
        lambda g, z, a, slope: _aten.gelu_backward.default(g, z),
    ),
    "sigmoid": (
        lambda z, slope: torch.sigmoid(z),
        lambda g, z, a, slope: _aten.sigmoid_backward.default(g, a),
    ),
    "identity": (lambda z, slope: z, lambda g, z, a, slope: g),
}

#: Floats per 64 bytes: a multiple of every CPU vector width (4, 8 or 16 floats).
_VECTOR_FLOATS = 16


class _FlatNetwork:
    """The network's parameters as views into one flat tensor (and their gradients into
    another), and one training step written out layer by layer.

    autograd's bookkeeping (a graph per step, a dozen gradient tensors) costs more than the
    arithmetic of this small MLP at batch 32; the step here calls the kernels autograd would
    call for ``Linear`` + activation layers and the MSE loss, in the same order, so every
    gradient is bit for bit the same.
    """

    def __init__(self, model: Autoencoder):
        self.model = model
        parameters = list(model.parameters())
        device = parameters[0].device
        self._sizes = [parameter.numel() for parameter in parameters]
        # Each parameter starts on a 64-byte boundary, as a tensor of its own does: MKL picks
        # its matrix-multiply kernel by the alignment of the output too, and on some CPUs
        # (seen on an AMD EPYC) a misaligned weight gradient rounds differently.
        self._offsets, total = [], 0
        for size in self._sizes:
            total = -(-total // _VECTOR_FLOATS) * _VECTOR_FLOATS
            self._offsets.append(total)
            total += size
        self.values = torch.zeros(total, device=device)
        self.gradients = torch.zeros(total, device=device)
        for parameter, offset, size in zip(parameters, self._offsets, self._sizes, strict=True):
            self.values[offset : offset + size].copy_(parameter.detach().reshape(-1))
            parameter.data = self.values[offset : offset + size].view_as(parameter)
            parameter.grad = self.gradients[offset : offset + size].view_as(parameter)
        self.layers = [
            (
                linear.weight.t(),  # a view: it follows the in-place updates
                linear.bias,
                linear.weight,
                linear.weight.grad,
                linear.bias.grad,
                *_ACTIVATIONS[activation],
            )
            for linear, activation in model.layer_plan()
        ]
        self.slope = model.config.negative_slope
        self._one = torch.ones((), device=device)

    def optimizer_tensors(self) -> list[torch.Tensor]:
        """The parameters as a few long runs of the flat buffer, each with its gradient.

        A fused optimiser then makes a few long passes instead of one per tensor. On CPU it
        computes the last ``size % vector width`` elements of a tensor with scalar code,
        which rounds differently from its vector code; a run therefore ends after any tensor
        whose size is not a multiple of 64 bytes, so every element takes the same code path
        as it would tensor by tensor, and the update is bit for bit the same.
        """
        runs, start = [], None
        for index, (offset, size) in enumerate(zip(self._offsets, self._sizes, strict=True)):
            start = offset if start is None else start
            if size % _VECTOR_FLOATS or index == len(self._sizes) - 1:
                run = self.values[start : offset + size]
                run.grad = self.gradients[start : offset + size]
                runs.append(run)
                start = None
        return runs

    @torch.no_grad()
    def step_gradients(self, batch: torch.Tensor) -> torch.Tensor:
        """Forward, loss and backward for one batch; gradients land in ``self.gradients``."""
        saved = []
        h = batch
        slope = self.slope
        for weight_t, bias, _, _, _, forward, _ in self.layers:
            z = torch.addmm(bias, h, weight_t)
            saved.append((h, z))
            h = forward(z, slope)
            saved[-1] += (h,)
        loss = _aten.mse_loss.default(h, batch, 1)
        grad = _aten.mse_loss_backward.default(self._one, h, batch, 1)
        for index in range(len(self.layers) - 1, -1, -1):
            _, _, weight, weight_grad, bias_grad, _, backward = self.layers[index]
            h, z, a = saved[index]
            grad = backward(grad, z, a, slope)
            torch.mm(grad.t(), h, out=weight_grad)
            torch.sum(grad, 0, out=bias_grad)
            if index:
                grad = grad.mm(weight)
        return loss

    def release(self) -> None:
        """Give every parameter its own storage again (a checkpoint then holds exactly the
        weights, as if trained without the flat buffer)."""
        for parameter in self.model.parameters():
            parameter.data = parameter.data.clone()
            parameter.grad = None


def learning_rates(config: TrainingConfig) -> list[float]:
    """Every epoch's learning rate exactly as ``torch.optim.lr_scheduler.CosineAnnealingLR``
    (``eta_min`` 0, stepped once per epoch) sets it: its recursive formula, each epoch's rate
    from the previous one, so the rounding is the same (``tests/test_training.py`` compares
    them). Worked out here because any torch optimiser, even a stand-in for a scheduler,
    imports torch's compiler on creation (0.8 s)."""
    rates: list[float] = []
    for epoch in range(config.epochs):
        if epoch == 0 or config.lr_schedule == "constant":
            rates.append(config.lr)
            continue
        ratio = (1 + math.cos(math.pi * epoch / config.epochs)) / (
            1 + math.cos(math.pi * (epoch - 1) / config.epochs)
        )
        rates.append(ratio * rates[-1])
    return rates


def _float32_weighted_sum(batch_losses: np.ndarray, rows: int, batch_size: int) -> float:
    """Sum of each batch's loss times its size, accumulated in float32 in batch order: the
    epoch's training loss exactly as a running float32 tensor sum would give it, computed
    once per epoch instead of two tensor operations per batch."""
    total = np.float32(0)
    for index, loss in enumerate(batch_losses):
        size = np.float32(min(batch_size, rows - index * batch_size))
        total = np.float32(total + np.float32(loss * size))
    return float(total)


def _epoch_order(generator: torch.Generator, rows: int) -> torch.Tensor:
    """This epoch's shuffled row order, drawing from ``generator`` exactly what a shuffling
    ``DataLoader`` draws (a worker seed, the permutation, and the permutation that its sampler
    starts and discards when the epoch ends), so the batches are the same ones."""
    torch.empty((), dtype=torch.int64).random_(generator=generator)
    order = torch.randperm(rows, generator=generator)
    torch.randperm(rows, generator=generator)
    return order


def train_autoencoder(
    model: Autoencoder,
    train_x: np.ndarray,
    holdout_x: np.ndarray,
    monitor_x: np.ndarray,
    config: TrainingConfig,
    seed: int,
    device: torch.device,
    inference_batch_size: int = 1024,
) -> TrainingHistory:
    """Fit ``model`` to reconstruct ``train_x`` (normal curves only) with MSE and Adam.

    After every epoch it records the mean training loss, the loss on ``holdout_x`` (normal
    curves the model never trains on) and each ``monitor_x`` row's error (the article's
    per-epoch boxplots). With ``early_stopping_patience`` set, training stops once the held-out
    loss has not improved for that many epochs and the best weights are restored.

    The data live on ``device`` for the whole run and batches are taken by index; the step
    is :class:`_FlatNetwork`'s and the optimiser :class:`FusedAdam`; nothing waits for the
    device within an epoch; the held-out and monitored curves go through the network in one
    pass per epoch. The weights are bit for bit those of the plain PyTorch loop
    (``tooling/reference_trainer.py``) run with ``torch.optim.Adam(fused=True)``, in under
    half the time of that loop with the default (unfused) Adam it used to run.
    """
    model.to(device)
    generator = torch.Generator().manual_seed(seed)
    data = as_tensor(train_x, device)
    watched = as_tensor(np.concatenate([holdout_x, monitor_x]), device)
    n_holdout = len(holdout_x)
    network = _FlatNetwork(model)
    optimizer = FusedAdam(
        network.optimizer_tensors(), lr=config.lr, weight_decay=config.weight_decay
    )
    rates = learning_rates(config)
    history = TrainingHistory()
    best_loss, best_state, stale_epochs = float("inf"), None, 0

    progress = Progress(config.epochs, "train_ae", "epoch")
    for epoch in range(1, config.epochs + 1):
        optimizer.lr = rates[epoch - 1]
        order = _epoch_order(generator, len(data)).to(device, non_blocking=True)
        losses = []
        for batch in torch.split(data[order], config.batch_size):
            losses.append(network.step_gradients(batch))
            optimizer.update()

        errors = per_sample_mse(model, watched, inference_batch_size)
        train_loss = _float32_weighted_sum(
            torch.stack(losses).cpu().numpy(), len(data), config.batch_size
        ) / len(train_x)
        holdout_loss = float(errors[:n_holdout].mean())
        history.train_loss.append(train_loss)
        history.holdout_loss.append(holdout_loss)
        history.monitor_errors.append(errors[n_holdout:].cpu().numpy())
        progress.set_postfix(train=f"{train_loss:.2e}", holdout=f"{holdout_loss:.2e}")
        progress.update()

        if holdout_loss < best_loss:
            best_loss, stale_epochs, history.best_epoch = holdout_loss, 0, epoch
            if config.early_stopping_patience is not None:
                best_state = network.values.detach().clone()
        else:
            stale_epochs += 1
        if (
            config.early_stopping_patience is not None
            and stale_epochs >= config.early_stopping_patience
        ):
            logger.info(
                "early stop at epoch %d; best held-out loss %.3e at epoch %d",
                epoch,
                best_loss,
                history.best_epoch,
            )
            break
    progress.close()

    if best_state is not None:
        network.values.copy_(best_state)
    else:
        history.best_epoch = history.epochs_run
    network.release()
    return history


def split_holdout(n_rows: int, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the rows to train on and of the held-out rows (at least one of each)."""
    if n_rows < 2:
        raise ValueError(f"need at least 2 normal training curves to hold some out, got {n_rows}")
    order = np.random.default_rng(seed).permutation(n_rows)
    n_holdout = min(max(1, round(n_rows * fraction)), n_rows - 1)
    return np.sort(order[n_holdout:]), np.sort(order[:n_holdout])
