"""Training the autoencoder on normal curves: the loop, its per-epoch history, and the
held-out split of the normal training curves.

Everything takes plain arguments (:class:`TrainingConfig`); :mod:`ae_anomaly.wiring` builds
them from ``params.yaml``.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from ae_anomaly.autoencoder import Autoencoder, as_tensor
from ae_anomaly.progress import Progress

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
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cudnn.benchmark = False


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


class FlatAdam(torch.optim.Optimizer):
    """Adam over one flat parameter tensor, with its scratch buffers allocated once.

    The same arithmetic, element by element and in the same order, as
    ``torch.optim.Adam(foreach=False)`` (whose per-step temporaries and per-tensor loop over
    a dozen parameter tensors cost more than the arithmetic on this small network), so the
    trained weights are bit for bit those of ``torch.optim.Adam``. Works with torch's
    learning-rate schedulers.
    """

    def __init__(
        self,
        parameter: torch.Tensor,
        lr: float,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ):
        super().__init__(
            [parameter], {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay}
        )
        self._average = torch.zeros_like(parameter)
        self._square_average = torch.zeros_like(parameter)
        self._denominator = torch.empty_like(parameter)
        self._steps = 0

    @torch.no_grad()
    def step(self, closure: None = None) -> None:
        group = self.param_groups[0]
        parameter = group["params"][0]
        gradient = parameter.grad
        beta1, beta2 = group["betas"]
        if group["weight_decay"]:
            gradient = gradient.add(parameter, alpha=group["weight_decay"])
        self._steps += 1
        step = float(self._steps)
        self._average.lerp_(gradient, 1 - beta1)
        self._square_average.mul_(beta2).addcmul_(gradient, gradient, value=1 - beta2)
        bias_correction1 = 1 - beta1**step
        bias_correction2_sqrt = (1 - beta2**step) ** 0.5
        torch.sqrt(self._square_average, out=self._denominator)
        self._denominator.div_(bias_correction2_sqrt).add_(group["eps"])
        parameter.addcdiv_(self._average, self._denominator, value=-group["lr"] / bias_correction1)


#: Each activation's forward and its derivative as autograd computes it (same ATen kernels):
#: backward(grad, pre-activation, activation output, negative slope) -> grad before it.
_ACTIVATIONS: dict[str, tuple[Any, Any]] = {
    "leaky_relu": (
        lambda z, slope: torch.nn.functional.leaky_relu(z, slope),
        lambda g, z, a, slope: torch.ops.aten.leaky_relu_backward(g, z, slope, False),
    ),
    "relu": (
        lambda z, slope: torch.relu(z),
        lambda g, z, a, slope: torch.ops.aten.threshold_backward(g, a, 0),
    ),
    "elu": (
        lambda z, slope: torch.nn.functional.elu(z),
        lambda g, z, a, slope: torch.ops.aten.elu_backward(g, 1.0, 1, 1, False, z),
    ),
    "tanh": (
        lambda z, slope: torch.tanh(z),
        lambda g, z, a, slope: torch.ops.aten.tanh_backward(g, a),
    ),
    "gelu": (
        lambda z, slope: torch.nn.functional.gelu(z),
        lambda g, z, a, slope: torch.ops.aten.gelu_backward(g, z),
    ),
    "sigmoid": (
        lambda z, slope: torch.sigmoid(z),
        lambda g, z, a, slope: torch.ops.aten.sigmoid_backward(g, a),
    ),
    "identity": (lambda z, slope: z, lambda g, z, a, slope: g),
}


class _FlatNetwork:
    """The network's parameters as views into one flat tensor (and their gradients into
    another), and one training step written out layer by layer.

    autograd's bookkeeping (a graph per step, a dozen gradient tensors) costs more than the
    arithmetic of this small MLP at batch 32; the step here calls the kernels autograd would
    call for ``Linear`` + activation layers and the MSE loss, in the same order, so every
    gradient, and so every trained weight, is bit for bit the same.
    """

    def __init__(self, model: Autoencoder):
        self.model = model
        parameters = list(model.parameters())
        total = sum(parameter.numel() for parameter in parameters)
        device = parameters[0].device
        self.values = torch.zeros(total, device=device)
        self.gradients = torch.zeros(total, device=device)
        offset = 0
        views = []
        for parameter in parameters:
            size = parameter.numel()
            self.values[offset : offset + size].copy_(parameter.detach().reshape(-1))
            parameter.data = self.values[offset : offset + size].view_as(parameter)
            views.append(self.gradients[offset : offset + size].view_as(parameter))
            offset += size
        self.flat = torch.nn.Parameter(self.values)
        self.flat.grad = self.gradients
        self.layers = [
            (linear.weight, linear.bias, weight_grad, bias_grad, *_ACTIVATIONS[activation])
            for (linear, activation), weight_grad, bias_grad in zip(
                model.layer_plan(), views[0::2], views[1::2], strict=True
            )
        ]
        self.slope = model.config.negative_slope
        self._one = torch.ones((), device=device)

    @torch.no_grad()
    def step_gradients(self, batch: torch.Tensor) -> torch.Tensor:
        """Forward, loss and backward for one batch; gradients land in ``self.gradients``."""
        inputs, pre_activations, outputs = [], [], []
        h = batch
        for weight, bias, _, _, forward, _ in self.layers:
            inputs.append(h)
            z = torch.addmm(bias, h, weight.t())
            h = forward(z, self.slope)
            pre_activations.append(z)
            outputs.append(h)
        loss = torch.ops.aten.mse_loss(h, batch, 1)
        grad = torch.ops.aten.mse_loss_backward(self._one, h, batch, 1)
        for index in range(len(self.layers) - 1, -1, -1):
            weight, _, weight_grad, bias_grad, _, backward = self.layers[index]
            grad = backward(grad, pre_activations[index], outputs[index], self.slope)
            weight_grad.copy_(grad.t().mm(inputs[index]))
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
    is :class:`_FlatNetwork`'s and the optimiser :class:`FlatAdam`; nothing waits for the
    device within an epoch; the held-out and monitored curves go through the network in one
    pass per epoch. The weights are bit for bit those of the plain PyTorch loop
    (``tooling/reference_trainer.py``), several times faster.
    """
    model.to(device)
    generator = torch.Generator().manual_seed(seed)
    data = as_tensor(train_x, device)
    watched = as_tensor(np.concatenate([holdout_x, monitor_x]), device)
    n_holdout = len(holdout_x)
    network = _FlatNetwork(model)
    optimizer = FlatAdam(network.flat, lr=config.lr, weight_decay=config.weight_decay)
    scheduler = (
        torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=config.epochs)
        if config.lr_schedule == "cosine"
        else None
    )
    history = TrainingHistory()
    best_loss, best_state, stale_epochs = float("inf"), None, 0

    progress = Progress(config.epochs, "train_ae", "epoch")
    for epoch in range(1, config.epochs + 1):
        model.train()
        loss_sum = torch.zeros((), device=device)
        order = _epoch_order(generator, len(data)).to(device, non_blocking=True)
        for rows in torch.split(order, config.batch_size):
            batch = data[rows]
            loss = network.step_gradients(batch)
            optimizer.step()
            loss_sum += loss * len(batch)
        if scheduler is not None:
            scheduler.step()

        errors = per_sample_mse(model, watched, inference_batch_size)
        train_loss = float(loss_sum) / len(train_x)
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
