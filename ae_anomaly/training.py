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
from torch.utils.data import DataLoader, TensorDataset

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
    """
    model.to(device)
    generator = torch.Generator().manual_seed(seed)
    loader = DataLoader(
        TensorDataset(torch.as_tensor(np.ascontiguousarray(train_x, dtype=np.float32))),
        batch_size=config.batch_size,
        shuffle=True,
        generator=generator,
    )
    holdout = as_tensor(holdout_x, device)
    monitor = as_tensor(monitor_x, device)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    scheduler = (
        torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=config.epochs)
        if config.lr_schedule == "cosine"
        else None
    )
    loss_fn = nn.MSELoss()
    history = TrainingHistory()
    best_loss, best_state, stale_epochs = float("inf"), None, 0

    progress = Progress(config.epochs, "train_ae", "epoch")
    for epoch in range(1, config.epochs + 1):
        model.train()
        loss_sum = torch.zeros((), device=device)
        for (batch,) in loader:
            batch = batch.to(device, non_blocking=True)
            loss = loss_fn(model(batch), batch)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            loss_sum += loss.detach() * len(batch)
        if scheduler is not None:
            scheduler.step()

        train_loss = float(loss_sum) / len(train_x)
        holdout_loss = float(per_sample_mse(model, holdout, inference_batch_size).mean())
        history.train_loss.append(train_loss)
        history.holdout_loss.append(holdout_loss)
        history.monitor_errors.append(
            per_sample_mse(model, monitor, inference_batch_size).cpu().numpy()
        )
        progress.set_postfix(train=f"{train_loss:.2e}", holdout=f"{holdout_loss:.2e}")
        progress.update()

        if holdout_loss < best_loss:
            best_loss, stale_epochs, history.best_epoch = holdout_loss, 0, epoch
            if config.early_stopping_patience is not None:
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
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
        model.load_state_dict(best_state)
    else:
        history.best_epoch = history.epochs_run
    return history


def split_holdout(n_rows: int, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the rows to train on and of the held-out rows (at least one of each)."""
    if n_rows < 2:
        raise ValueError(f"need at least 2 normal training curves to hold some out, got {n_rows}")
    order = np.random.default_rng(seed).permutation(n_rows)
    n_holdout = min(max(1, round(n_rows * fraction)), n_rows - 1)
    return np.sort(order[n_holdout:]), np.sort(order[:n_holdout])
