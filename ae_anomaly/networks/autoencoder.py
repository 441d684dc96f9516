"""The article's fully connected autoencoder: the network, inference and its checkpoint.

The architecture is rebuilt from a small JSON-able config saved next to the weights, so a
checkpoint loads with ``torch.load(..., weights_only=True)`` (no pickled classes) and the
input width always comes from the data, never from a constant. Training lives in
:mod:`ae_anomaly.networks.training`, so the stages that only run the network do not depend on it.
"""

from __future__ import annotations

import itertools
import pickle
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ae_anomaly.core.storage import atomic_output, unreadable_file
from ae_anomaly.core.types import InputError


@dataclass(frozen=True)
class AutoencoderConfig:
    """Everything needed to rebuild the network; stored inside the checkpoint."""

    input_size: int
    hidden_sizes: tuple[int, ...]
    latent_dim: int
    activation: str
    negative_slope: float
    output_activation: str

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

    def layer_plan(self) -> list[tuple[nn.Linear, str]]:
        """Every ``Linear`` layer, encoder then decoder, with the name of the activation
        that follows it (what a hand-written training step needs to know)."""
        config = self.config
        output = (
            config.activation if config.output_activation == "same" else config.output_activation
        )
        encoder = [layer for layer in self.encoder if isinstance(layer, nn.Linear)]
        decoder = [layer for layer in self.decoder if isinstance(layer, nn.Linear)]
        names = [config.activation] * (len(encoder) + len(decoder) - 1) + [output]
        return list(zip([*encoder, *decoder], names, strict=True))


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


def save_autoencoder(path: str | Path, model: Autoencoder) -> None:
    """Weights plus the config that rebuilds the architecture (plain types only)."""
    state = {name: tensor.detach().cpu() for name, tensor in model.state_dict().items()}
    with atomic_output(path) as partial:
        torch.save({"config": model.config.to_dict(), "state_dict": state}, partial)


def load_autoencoder(path: str | Path, device: torch.device | None = None) -> Autoencoder:
    """Rebuild the model from a checkpoint written by :func:`save_autoencoder`."""
    try:
        checkpoint = torch.load(Path(path), map_location=device or "cpu", weights_only=True)
        model = Autoencoder(AutoencoderConfig.from_dict(checkpoint["config"]))
        model.load_state_dict(checkpoint["state_dict"])
    except (
        OSError,
        EOFError,
        RuntimeError,  # a truncated file: torch's zip reader
        pickle.UnpicklingError,  # weights_only refusing anything but tensors and plain types
        ValueError,
        KeyError,  # a checkpoint of something else
        TypeError,
    ) as error:
        raise unreadable_file(path, error) from None
    return model.eval()
