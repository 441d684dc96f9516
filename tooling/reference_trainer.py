"""The plain PyTorch training loop: the yardstick of the speed benchmark (not part of the
package, whose one trainer is ``ae_anomaly.networks.training``).
"""

from __future__ import annotations

import logging

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from ae_anomaly.core.progress import Progress
from ae_anomaly.networks.base import Network, as_tensor, per_sample_mse
from ae_anomaly.networks.training import TrainingConfig, TrainingHistory

logger = logging.getLogger(__name__)


def train_autoencoder_reference(
    model: Network,
    train_x: np.ndarray,
    holdout_x: np.ndarray,
    monitor_x: np.ndarray,
    config: TrainingConfig,
    seed: int,
    device: torch.device,
    inference_batch_size: int = 1024,
    fused_adam: bool = False,
) -> TrainingHistory:
    """The loop as a PyTorch user writes it: a ``DataLoader``, autograd on the MSE,
    ``torch.optim.Adam`` over every parameter tensor, and two inference passes per epoch.
    ``make bench-speed`` measures the package's trainer against it (``fused_adam=False``, as
    it was written); with ``fused_adam=True`` it must train bit for bit what the package's
    trainer trains (``tests/networks/test_training.py``), which checks the batches are a
    ``DataLoader``'s.

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
    optimizer = torch.optim.Adam(
        model.parameters(), lr=config.lr, weight_decay=config.weight_decay, fused=fused_adam
    )
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
