"""Network kind ``mlp``: the article's fully connected autoencoder.

Linear encoder input -> hidden... -> latent and a mirrored decoder back to the input width;
the input width always comes from the data, never from a constant.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ae_anomaly.networks.base import ListedConfig, Network


@dataclass(frozen=True)
class MLPConfig(ListedConfig):
    """Everything needed to rebuild the network; stored inside the checkpoint."""

    input_size: int
    hidden_sizes: tuple[int, ...]
    latent_dim: int
    activation: str
    negative_slope: float
    output_activation: str


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


def dense_stack(
    sizes: list[int], activation: str, negative_slope: float, last_activation: str
) -> nn.Sequential:
    """``Linear`` layers through ``sizes``, each followed by ``activation``, the last by
    ``last_activation``."""
    layers: list[nn.Module] = []
    for index, (fan_in, fan_out) in enumerate(itertools.pairwise(sizes)):
        layers.append(nn.Linear(fan_in, fan_out))
        is_last = index == len(sizes) - 2
        layers.append(make_activation(last_activation if is_last else activation, negative_slope))
    return nn.Sequential(*layers)


class MLPAutoencoder(Network):
    """Linear encoder input -> hidden... -> latent, mirrored decoder back to the input width.

    With the article's config every Linear, the output layer included, is followed by
    ``LeakyReLU(0.2)``; ``output_activation`` can replace that last one.
    """

    kind = "mlp"

    def __init__(self, config: MLPConfig):
        super().__init__()
        self.config = config
        widths = [config.input_size, *config.hidden_sizes, config.latent_dim]
        slope = config.negative_slope
        self.encoder = dense_stack(widths, config.activation, slope, config.activation)
        self.decoder = dense_stack(widths[::-1], config.activation, slope, self.output_activation)

    @classmethod
    def from_config_dict(cls, config: dict[str, Any]) -> MLPAutoencoder:
        return cls(MLPConfig.from_dict(config))

    @property
    def output_activation(self) -> str:
        config = self.config
        return config.activation if config.output_activation == "same" else config.output_activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))

    def layer_plan(self) -> list[tuple[nn.Linear, str]]:
        """Every ``Linear`` layer, encoder then decoder, with the name of the activation
        that follows it (what a hand-written training step needs to know)."""
        encoder = [layer for layer in self.encoder if isinstance(layer, nn.Linear)]
        decoder = [layer for layer in self.decoder if isinstance(layer, nn.Linear)]
        names = [self.config.activation] * (len(encoder) + len(decoder) - 1)
        return list(zip([*encoder, *decoder], [*names, self.output_activation], strict=True))
