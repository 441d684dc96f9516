"""Network kind ``vae``: a variational autoencoder, the article's own next step.

The encoder (fully connected, as ``mlp``) gives each curve a Gaussian posterior over the
latent space, mean and log-variance; training minimises the negative ELBO: the squared
reconstruction error of a sampled latent vector plus ``beta`` times the KL divergence of the
posterior from the standard normal prior, both per point. The KL term keeps normal curves in
one smooth region of the latent space, so a curve unlike them is decoded towards a normal
one and its residual shows where it differs.

``forward`` decodes the posterior *mean*: the reconstruction that residuals, the deployed
detector and ``ae_threshold`` see is deterministic, so scores reproduce; only training
samples.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ae_anomaly.networks.base import ListedConfig, Network
from ae_anomaly.networks.mlp import dense_stack


@dataclass(frozen=True)
class VAEConfig(ListedConfig):
    """Everything needed to rebuild the network; stored inside the checkpoint."""

    input_size: int
    hidden_sizes: tuple[int, ...]
    latent_dim: int
    activation: str
    negative_slope: float
    beta: float


class VariationalAutoencoder(Network):
    """Gaussian encoder ``input -> hidden... -> (mean, log-variance)``, mirrored decoder with
    a linear output layer."""

    kind = "vae"

    def __init__(self, config: VAEConfig):
        super().__init__()
        self.config = config
        activation, slope = config.activation, config.negative_slope
        encoder_widths = [config.input_size, *config.hidden_sizes]
        self.encoder = dense_stack(encoder_widths, activation, slope, activation)
        self.mean = nn.Linear(encoder_widths[-1], config.latent_dim)
        self.log_variance = nn.Linear(encoder_widths[-1], config.latent_dim)
        decoder_widths = [config.latent_dim, *config.hidden_sizes[::-1]]
        self.decoder = nn.Sequential(
            *dense_stack(decoder_widths, activation, slope, activation),
            nn.Linear(decoder_widths[-1], config.input_size),
        )

    @classmethod
    def from_config_dict(cls, config: dict[str, Any]) -> VariationalAutoencoder:
        return cls(VAEConfig.from_dict(config))

    def posterior(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and log-variance of each curve's latent Gaussian."""
        hidden = self.encoder(x)
        return self.mean(hidden), self.log_variance(hidden)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.posterior(x)[0])

    def negative_elbo(self, x: torch.Tensor) -> torch.Tensor:
        """Per curve: squared error of one sampled reconstruction plus ``beta`` times the KL
        divergence from the prior, both averaged over the curve's points."""
        mean, log_variance = self.posterior(x)
        latent = mean + torch.randn_like(mean) * torch.exp(0.5 * log_variance)
        squared_error = torch.mean((self.decoder(latent) - x) ** 2, dim=1)
        kl = -0.5 * torch.sum(1 + log_variance - mean**2 - torch.exp(log_variance), dim=1)
        return squared_error + self.config.beta * kl / self.config.input_size

    def training_loss(self, batch: torch.Tensor) -> torch.Tensor:
        return self.negative_elbo(batch).mean()
