"""What every network kind provides, and what running any of them needs.

A network kind is one module with a frozen config (everything that rebuilds it, stored in
the checkpoint) and a :class:`Network` subclass: built from that config, ``forward`` gives
the reconstruction of a batch of curves, ``training_loss`` what the trainer minimises (the
MSE for a plain autoencoder; a VAE returns its ELBO). The trainer, the checkpoint, the
residuals and the deployable detector only ever see this interface.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any, ClassVar, Protocol, Self

import numpy as np
import torch
from torch import nn

from ae_anomaly.core.types import InputError


class NetworkConfig(Protocol):
    """A kind's settings: ``input_size`` (from the data) plus whatever rebuilds the network."""

    input_size: int

    def to_dict(self) -> dict[str, Any]: ...


class ListedConfig:
    """``to_dict`` / ``from_dict`` for a kind's frozen dataclass config: tuple fields are
    stored as lists (the checkpoint holds plain values) and read back as tuples."""

    def to_dict(self) -> dict[str, Any]:
        return {
            key: list(value) if isinstance(value, tuple) else value
            for key, value in asdict(self).items()  # type: ignore[call-overload]
        }

    @classmethod
    def from_dict(cls, config: dict[str, Any]) -> Self:
        return cls(
            **{
                key: tuple(value) if isinstance(value, list) else value
                for key, value in config.items()
            }
        )


class Network(nn.Module):
    """Base class of the network kinds: a module that reconstructs curves."""

    #: The ``train_ae.network.kind`` that selects this class; stored in checkpoints.
    kind: ClassVar[str]
    config: NetworkConfig

    @classmethod
    def from_config_dict(cls, config: dict[str, Any]) -> Self:
        """Rebuild the (untrained) network from the config a checkpoint stores."""
        raise NotImplementedError

    @property
    def input_size(self) -> int:
        return self.config.input_size

    def training_loss(self, batch: torch.Tensor) -> torch.Tensor:
        """What the trainer minimises for a batch of curves: the mean squared reconstruction
        error, unless the kind says otherwise."""
        return nn.functional.mse_loss(self(batch), batch)


def select_device(preference: str = "auto") -> torch.device:
    """CUDA when present (or asked for), else CPU; asking for CUDA without one is an error."""
    if preference == "cuda" and not torch.cuda.is_available():
        raise InputError("device 'cuda' asked for, but no CUDA device is available; use 'auto'")
    if preference == "cpu" or not torch.cuda.is_available():
        return torch.device("cpu")
    return torch.device("cuda")


def as_tensor(x: np.ndarray, device: torch.device) -> torch.Tensor:
    """``x`` as a contiguous float32 tensor on ``device``."""
    return torch.as_tensor(np.ascontiguousarray(x, dtype=np.float32), device=device)


@torch.inference_mode()
def reconstruct(
    model: nn.Module, x: np.ndarray, device: torch.device, batch_size: int
) -> np.ndarray:
    """The model's reconstruction of every row of ``x``, computed in batches, as float32."""
    model.to(device).eval()
    tensor = as_tensor(x, device)
    outputs = [model(batch).cpu() for batch in torch.split(tensor, batch_size)]
    return torch.cat(outputs).numpy() if outputs else np.empty_like(x, dtype=np.float32)


@torch.inference_mode()
def per_sample_mse(model: nn.Module, x: torch.Tensor, batch_size: int) -> torch.Tensor:
    """Mean squared reconstruction error of every row, computed in batches."""
    model.eval()
    errors = [
        torch.mean((model(batch) - batch) ** 2, dim=1) for batch in torch.split(x, batch_size)
    ]
    return torch.cat(errors) if errors else torch.empty(0, device=x.device)
