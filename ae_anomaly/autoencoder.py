"""The article's fully connected autoencoder, its training loop and its persistence.

The architecture is rebuilt from a small JSON-able config saved next to the weights, so a
checkpoint loads with ``torch.load(..., weights_only=True)`` (no pickled classes) and the
input width always comes from the data, never from a constant.
"""

from __future__ import annotations

import itertools
import logging
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
from tqdm.auto import tqdm

from ae_anomaly.params import TrainAEParams

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class AutoencoderConfig:
    """Everything needed to rebuild the network; stored inside the checkpoint."""

    input_size: int
    hidden_sizes: tuple[int, ...]
    latent_dim: int
    activation: str
    negative_slope: float
    output_activation: str

    @classmethod
    def from_params(cls, input_size: int, params: TrainAEParams) -> AutoencoderConfig:
        return cls(
            input_size=input_size,
            hidden_sizes=tuple(params.hidden_sizes),
            latent_dim=params.latent_dim,
            activation=params.activation,
            negative_slope=params.negative_slope,
            output_activation=params.output_activation,
        )

    def to_dict(self) -> dict[str, Any]:
        config = asdict(self)
        config["hidden_sizes"] = list(self.hidden_sizes)
        return config

    @classmethod
    def from_dict(cls, config: dict[str, Any]) -> AutoencoderConfig:
        return cls(**{**config, "hidden_sizes": tuple(config["hidden_sizes"])})


def make_activation(name: str, negative_slope: float) -> nn.Module:
    activations: dict[str, nn.Module] = {
        "leaky_relu": nn.LeakyReLU(negative_slope),
        "relu": nn.ReLU(),
        "elu": nn.ELU(),
        "tanh": nn.Tanh(),
        "gelu": nn.GELU(),
        "identity": nn.Identity(),
        "sigmoid": nn.Sigmoid(),
    }
    if name not in activations:
        raise ValueError(f"unknown activation {name!r}; choose from {sorted(activations)}")
    return activations[name]


def _stack(sizes: list[int], config: AutoencoderConfig, last_activation: str) -> nn.Sequential:
    layers: list[nn.Module] = []
    for index, (fan_in, fan_out) in enumerate(itertools.pairwise(sizes)):
        layers.append(nn.Linear(fan_in, fan_out))
        is_last = index == len(sizes) - 2
        layers.append(
            make_activation(
                last_activation if is_last else config.activation, config.negative_slope
            )
        )
    return nn.Sequential(*layers)


class Autoencoder(nn.Module):
    """Linear encoder input -> hidden... -> latent, mirrored decoder back to the input width.

    With the article's config every Linear, the output layer included, is followed by
    ``LeakyReLU(0.2)``; ``output_activation`` can replace that last one.
    """

    def __init__(self, config: AutoencoderConfig):
        super().__init__()
        self.config = config
        widths = [config.input_size, *config.hidden_sizes, config.latent_dim]
        output = (
            config.activation if config.output_activation == "same" else config.output_activation
        )
        self.encoder = _stack(widths, config, config.activation)
        self.decoder = _stack(widths[::-1], config, output)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))


def select_device(preference: str = "auto") -> torch.device:
    """CUDA when present (or asked for), else CPU; asking for CUDA without one is an error."""
    if preference == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("train_ae.device is 'cuda' but no CUDA device is available")
    if preference == "cpu" or not torch.cuda.is_available():
        return torch.device("cpu")
    return torch.device("cuda")


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


def _as_tensor(x: np.ndarray, device: torch.device) -> torch.Tensor:
    return torch.as_tensor(np.ascontiguousarray(x, dtype=np.float32), device=device)


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
    params: TrainAEParams,
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
        batch_size=params.batch_size,
        shuffle=True,
        generator=generator,
    )
    holdout = _as_tensor(holdout_x, device)
    monitor = _as_tensor(monitor_x, device)
    optimizer = torch.optim.Adam(model.parameters(), lr=params.lr, weight_decay=params.weight_decay)
    scheduler = (
        torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=params.epochs)
        if params.lr_schedule == "cosine"
        else None
    )
    loss_fn = nn.MSELoss()
    history = TrainingHistory()
    best_loss, best_state, stale_epochs = float("inf"), None, 0

    progress = tqdm(range(1, params.epochs + 1), desc="train_ae", unit="epoch", dynamic_ncols=True)
    for epoch in progress:
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

        if holdout_loss < best_loss:
            best_loss, stale_epochs, history.best_epoch = holdout_loss, 0, epoch
            if params.early_stopping_patience is not None:
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        else:
            stale_epochs += 1
        if (
            params.early_stopping_patience is not None
            and stale_epochs >= params.early_stopping_patience
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


@torch.inference_mode()
def reconstruct(
    model: nn.Module, x: np.ndarray, device: torch.device, batch_size: int
) -> np.ndarray:
    """The model's reconstruction of every row of ``x``, computed in batches, as float32."""
    model.to(device).eval()
    tensor = _as_tensor(x, device)
    outputs = [model(batch).cpu() for batch in torch.split(tensor, batch_size)]
    return torch.cat(outputs).numpy() if outputs else np.empty_like(x, dtype=np.float32)


def save_autoencoder(path: str | Path, model: Autoencoder) -> None:
    """Weights plus the config that rebuilds the architecture (plain types only)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {name: tensor.detach().cpu() for name, tensor in model.state_dict().items()}
    torch.save({"config": model.config.to_dict(), "state_dict": state}, path)


def load_autoencoder(path: str | Path, device: torch.device | None = None) -> Autoencoder:
    """Rebuild the model from a checkpoint written by :func:`save_autoencoder`."""
    checkpoint = torch.load(Path(path), map_location=device or "cpu", weights_only=True)
    model = Autoencoder(AutoencoderConfig.from_dict(checkpoint["config"]))
    model.load_state_dict(checkpoint["state_dict"])
    return model.eval()


def split_holdout(n_rows: int, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the rows to train on and of the held-out rows (at least one of each)."""
    if n_rows < 2:
        raise ValueError(f"need at least 2 normal training curves to hold some out, got {n_rows}")
    order = np.random.default_rng(seed).permutation(n_rows)
    n_holdout = min(max(1, round(n_rows * fraction)), n_rows - 1)
    return np.sort(order[n_holdout:]), np.sort(order[:n_holdout])
