"""Network kind ``conv``: a 1-D convolutional autoencoder.

A fully connected network gives every point its own weights, so a curve shifted by a few
points is a new curve to it; convolutions share their weights along the curve, which suits
long or shifted curves (spectra, sensor cycles). Encoder: strided ``Conv1d`` layers, each
halving the length, then one ``Linear`` to the latent vector; the decoder mirrors it with
``ConvTranspose1d`` layers. Curves of any length: the input is padded at its end (repeating
the last point) to a multiple of ``2 ** len(channels)`` and the output cropped back.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ae_anomaly.networks.base import ListedConfig, Network
from ae_anomaly.networks.mlp import make_activation


@dataclass(frozen=True)
class ConvConfig(ListedConfig):
    """Everything needed to rebuild the network; stored inside the checkpoint."""

    input_size: int
    channels: tuple[int, ...]
    kernel_size: int
    latent_dim: int
    activation: str
    negative_slope: float

    def __post_init__(self) -> None:
        if self.kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd, got {self.kernel_size}")

    @property
    def padded_size(self) -> int:
        """The input length rounded up so that every strided layer halves it exactly."""
        factor = 2 ** len(self.channels)
        return factor * math.ceil(self.input_size / factor)


class ConvAutoencoder(Network):
    """Strided convolutions down to a latent vector and transposed convolutions back."""

    kind = "conv"

    def __init__(self, config: ConvConfig):
        super().__init__()
        self.config = config
        widths = [1, *config.channels]
        kernel, padding = config.kernel_size, config.kernel_size // 2
        encoder: list[nn.Module] = []
        for fan_in, fan_out in itertools.pairwise(widths):
            encoder += [
                nn.Conv1d(fan_in, fan_out, kernel, stride=2, padding=padding),
                make_activation(config.activation, config.negative_slope),
            ]
        self.bottom_length = config.padded_size // 2 ** len(config.channels)
        flat = config.channels[-1] * self.bottom_length
        self.encoder = nn.Sequential(*encoder, nn.Flatten(), nn.Linear(flat, config.latent_dim))
        decoder: list[nn.Module] = [
            nn.Linear(config.latent_dim, flat),
            make_activation(config.activation, config.negative_slope),
            nn.Unflatten(1, (config.channels[-1], self.bottom_length)),
        ]
        reversed_widths = widths[::-1]
        for index, (fan_in, fan_out) in enumerate(itertools.pairwise(reversed_widths)):
            decoder.append(
                nn.ConvTranspose1d(
                    fan_in, fan_out, kernel, stride=2, padding=padding, output_padding=1
                )
            )
            if index < len(config.channels) - 1:  # the output layer stays linear
                decoder.append(make_activation(config.activation, config.negative_slope))
        self.decoder = nn.Sequential(*decoder)

    @classmethod
    def from_config_dict(cls, config: dict[str, Any]) -> ConvAutoencoder:
        return cls(ConvConfig.from_dict(config))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        extra = self.config.padded_size - x.shape[1]
        padded = (
            nn.functional.pad(x.unsqueeze(1), (0, extra), mode="replicate") if extra else x[:, None]
        )
        return self.decoder(self.encoder(padded))[:, 0, : x.shape[1]]
