"""Training any network kind on normal curves: one autograd loop, its per-epoch history,
and the held-out split of the normal training curves.

The network supplies its loss (:meth:`~ae_anomaly.networks.base.Network.training_loss`);
this module shuffles, batches, steps Adam, schedules the learning rate, records the history
and stops early. How a batch becomes an update is a :class:`Stepper`: autograd with
PyTorch's fused Adam for every kind (:class:`AutogradStepper`), or, for the ``mlp`` kind
with ``train_ae.trainer: auto``, the hand-written step of :mod:`ae_anomaly.networks.fast_mlp`,
which gives the same weights bit for bit (``tests/networks/test_training.py``).

Everything takes plain arguments (:class:`TrainingConfig`); :mod:`ae_anomaly.pipeline.wiring`
builds them from ``params.yaml``.
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import numpy as np
import torch

from ae_anomaly.core.progress import Progress
from ae_anomaly.networks.base import Network, as_tensor, per_sample_mse

logger = logging.getLogger(__name__)

Trainer = Literal["auto", "autograd"]


@dataclass(frozen=True)
class TrainingConfig:
    """How to fit the network: Adam on the network's loss over mini-batches, optional cosine
    decay of the learning rate to 0, optional early stopping on the held-out loss."""

    epochs: int
    batch_size: int
    lr: float
    weight_decay: float = 0.0
    lr_schedule: Literal["constant", "cosine"] = "constant"
    early_stopping_patience: int | None = None


def seed_everything(seed: int) -> None:
    """Seed torch (CPU and CUDA), so the initial weights and the batches are reproducible.
    Each :class:`Stepper` asks for deterministic kernels before it trains."""
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.manual_seed(seed)
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


class Stepper(Protocol):
    """Turns one batch into one optimiser update of the network's weights."""

    lr: float

    def step(self, batch: torch.Tensor) -> torch.Tensor:
        """Update the weights from ``batch``; return the batch's loss (a 0-d tensor)."""
        ...

    def snapshot(self) -> Any:
        """A copy of the weights, for early stopping."""
        ...

    def restore(self, snapshot: Any) -> None: ...

    def finish(self) -> None:
        """Leave the network as a plain module (called once, after the last epoch)."""
        ...


class AutogradStepper:
    """The general step, for every kind: the network's loss, ``backward``, and
    ``torch.optim.Adam(fused=True)`` (one kernel updates every tensor)."""

    def __init__(self, model: Network, config: TrainingConfig):
        torch.use_deterministic_algorithms(True, warn_only=True)
        self.model = model
        self.optimizer = torch.optim.Adam(
            model.parameters(), lr=config.lr, weight_decay=config.weight_decay, fused=True
        )
        self.lr = config.lr

    def step(self, batch: torch.Tensor) -> torch.Tensor:
        for group in self.optimizer.param_groups:
            group["lr"] = self.lr
        self.model.train()
        loss = self.model.training_loss(batch)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return loss.detach()

    def snapshot(self) -> dict[str, torch.Tensor]:
        return {name: value.detach().clone() for name, value in self.model.state_dict().items()}

    def restore(self, snapshot: dict[str, torch.Tensor]) -> None:
        self.model.load_state_dict(snapshot)

    def finish(self) -> None:
        self.optimizer.zero_grad(set_to_none=True)
        self.model.eval()


def make_stepper(model: Network, config: TrainingConfig, trainer: Trainer) -> Stepper:
    """The fast path where ``trainer`` is ``auto`` and the kind has one (``mlp``), else
    autograd. The fast path never falls back silently: on a torch without the kernels it
    needs it raises, naming them and ``train_ae.trainer: autograd``."""
    if trainer == "auto" and model.kind == "mlp":
        from ae_anomaly.networks.fast_mlp import FlatMLPStepper

        return FlatMLPStepper(model, config)  # type: ignore[arg-type]
    return AutogradStepper(model, config)


def learning_rates(config: TrainingConfig) -> list[float]:
    """Every epoch's learning rate exactly as ``torch.optim.lr_scheduler.CosineAnnealingLR``
    (``eta_min`` 0, stepped once per epoch) sets it: its recursive formula, each epoch's rate
    from the previous one, so the rounding is the same (``tests/networks/test_training.py`` compares
    them). Worked out here because a scheduler needs a torch optimiser, and the fast path
    has none."""
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


def float32_weighted_sum(batch_losses: np.ndarray, rows: int, batch_size: int) -> float:
    """Sum of each batch's loss times its size, accumulated in float32 in batch order: the
    epoch's training loss exactly as a running float32 tensor sum would give it, computed
    once per epoch instead of two tensor operations per batch."""
    total = np.float32(0)
    for index, loss in enumerate(batch_losses):
        size = np.float32(min(batch_size, rows - index * batch_size))
        total = np.float32(total + np.float32(loss * size))
    return float(total)


def epoch_order(generator: torch.Generator, rows: int) -> torch.Tensor:
    """This epoch's shuffled row order, drawing from ``generator`` exactly what a shuffling
    ``DataLoader`` draws (a worker seed, the permutation, and the permutation that its sampler
    starts and discards when the epoch ends), so the batches are the same ones."""
    torch.empty((), dtype=torch.int64).random_(generator=generator)
    order = torch.randperm(rows, generator=generator)
    torch.randperm(rows, generator=generator)
    return order


def train_network(
    model: Network,
    train_x: np.ndarray,
    holdout_x: np.ndarray,
    monitor_x: np.ndarray,
    config: TrainingConfig,
    seed: int,
    device: torch.device,
    trainer: Trainer = "auto",
    inference_batch_size: int = 1024,
) -> TrainingHistory:
    """Fit ``model`` to ``train_x`` (normal curves only), minimising its own loss with Adam.

    After every epoch it records the mean training loss, the reconstruction loss on
    ``holdout_x`` (normal curves the model never trains on) and each ``monitor_x`` row's
    error (the article's per-epoch boxplots). With ``early_stopping_patience`` set, training
    stops once the held-out loss has not improved for that many epochs and the best weights
    are restored.

    The data live on ``device`` for the whole run and batches are taken by index; nothing
    waits for the device within an epoch; the held-out and monitored curves go through the
    network in one pass per epoch.
    """
    logger.info(
        "%s network: %d normal curves to train on, %d held out",
        model.kind,
        len(train_x),
        len(holdout_x),
    )
    if len(train_x) < config.batch_size:
        logger.warning(
            "only %d training curves, fewer than one batch of %d: each epoch is one step on "
            "all of them; with so few, watch the held-out loss (metrics/train_ae.json) for "
            "over-fitting",
            len(train_x),
            config.batch_size,
        )
    model.to(device)
    generator = torch.Generator().manual_seed(seed)
    data = as_tensor(train_x, device)
    watched = as_tensor(np.concatenate([holdout_x, monitor_x]), device)
    n_holdout = len(holdout_x)
    stepper = make_stepper(model, config, trainer)
    rates = learning_rates(config)
    history = TrainingHistory()
    best_loss, best_state, stale_epochs = float("inf"), None, 0

    progress = Progress(config.epochs, "train_ae", "epoch")
    for epoch in range(1, config.epochs + 1):
        stepper.lr = rates[epoch - 1]
        order = epoch_order(generator, len(data)).to(device, non_blocking=True)
        losses = [stepper.step(batch) for batch in torch.split(data[order], config.batch_size)]

        errors = per_sample_mse(model, watched, inference_batch_size)
        train_loss = float32_weighted_sum(
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
                best_state = stepper.snapshot()
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
        stepper.restore(best_state)
    else:
        history.best_epoch = history.epochs_run
    stepper.finish()
    return history


def split_holdout(n_rows: int, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the rows to train on and of the held-out rows (at least one of each)."""
    if n_rows < 2:
        raise ValueError(f"need at least 2 normal training curves to hold some out, got {n_rows}")
    order = np.random.default_rng(seed).permutation(n_rows)
    n_holdout = min(max(1, round(n_rows * fraction)), n_rows - 1)
    return np.sort(order[n_holdout:]), np.sort(order[:n_holdout])
