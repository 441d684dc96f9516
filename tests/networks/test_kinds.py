"""The shipped network kinds (``mlp``, ``conv``, ``vae``): each builds from its params section,
reconstructs curves of any length, trains with the one trainer, and survives a checkpoint."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ae_anomaly.core.params import NetworkParams, load_params
from ae_anomaly.networks.base import reconstruct
from ae_anomaly.networks.checkpoint import load_network, save_network
from ae_anomaly.networks.conv import ConvAutoencoder
from ae_anomaly.networks.registry import NETWORK_KINDS, build_network
from ae_anomaly.networks.training import TrainingConfig, seed_everything, train_network
from ae_anomaly.networks.vae import VariationalAutoencoder

SMALL = {
    "mlp": {
        "hidden_sizes": [16, 8],
        "latent_dim": 2,
        "activation": "leaky_relu",
        "negative_slope": 0.2,
        "output_activation": "identity",
    },
    "conv": {
        "channels": [4, 8],
        "kernel_size": 5,
        "latent_dim": 4,
        "activation": "leaky_relu",
        "negative_slope": 0.2,
    },
    "vae": {
        "hidden_sizes": [16, 8],
        "latent_dim": 2,
        "activation": "leaky_relu",
        "negative_slope": 0.2,
        "beta": 0.1,
    },
}
KINDS = pytest.mark.parametrize("kind", sorted(SMALL))


def test_params_and_registry_know_the_same_kinds():
    assert set(NetworkParams.model_fields) - {"kind"} == set(NETWORK_KINDS) == set(SMALL)
    network = load_params("params.yaml").train_ae.network
    for kind in NETWORK_KINDS:
        assert getattr(network, kind) is not None, f"params.yaml has no train_ae.network.{kind}"


@KINDS
@pytest.mark.parametrize("length", [24, 150, 251])
def test_every_kind_reconstructs_curves_of_any_length(kind, length):
    network = build_network(kind, length, SMALL[kind])
    curves = torch.randn(3, length)
    assert network(curves).shape == (3, length)
    assert network.training_loss(curves).ndim == 0


@KINDS
def test_every_kind_trains_deterministically_and_round_trips_a_checkpoint(
    kind, small_dataset, tmp_path
):
    def train() -> torch.nn.Module:
        seed_everything(3)
        network = build_network(kind, small_dataset.x.shape[1], SMALL[kind])
        config = TrainingConfig(epochs=20, batch_size=16, lr=3e-3)
        history = train_network(
            network,
            small_dataset.normal[:60],
            small_dataset.normal[60:],
            small_dataset.x,
            config,
            3,
            torch.device("cpu"),
        )
        assert history.holdout_loss[-1] < history.holdout_loss[0]
        return network

    first, second = train(), train()
    for a, b in zip(first.state_dict().values(), second.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    save_network(tmp_path / "ae.pt", first)
    loaded = load_network(tmp_path / "ae.pt")
    assert loaded.kind == kind
    x = small_dataset.x
    np.testing.assert_array_equal(
        reconstruct(loaded, x, torch.device("cpu"), 32),
        reconstruct(first, x, torch.device("cpu"), 32),
    )


def test_the_conv_kind_shares_weights_along_the_curve():
    """Its convolution weights are the same for any curve length (only the bottleneck's
    Linear grows), and lengths are padded to what the strides halve exactly."""
    short = build_network("conv", 64, SMALL["conv"])
    long = build_network("conv", 256, SMALL["conv"])
    conv_weights = [name for name, _ in long.named_parameters() if name.startswith("encoder.0")]
    assert conv_weights and all(
        dict(short.named_parameters())[name].shape == dict(long.named_parameters())[name].shape
        for name in conv_weights
    )
    assert isinstance(long, ConvAutoencoder) and long.config.padded_size == 256


def test_the_conv_kind_needs_an_odd_kernel():
    with pytest.raises(ValueError, match="odd"):
        build_network("conv", 64, {**SMALL["conv"], "kernel_size": 4})


def test_the_vae_reconstructs_its_posterior_mean_deterministically():
    torch.manual_seed(0)
    vae = build_network("vae", 32, SMALL["vae"])
    assert isinstance(vae, VariationalAutoencoder)
    curves = torch.randn(4, 32)
    vae.eval()
    assert torch.equal(vae(curves), vae(curves))
    mean, _ = vae.posterior(curves)
    assert torch.equal(vae(curves), vae.decoder(mean))
    first, second = vae.negative_elbo(curves), vae.negative_elbo(curves)
    assert first.shape == (4,) and not torch.equal(first, second)  # training samples


def test_the_vae_kl_term_pulls_the_posterior_to_the_prior():
    torch.manual_seed(0)
    curves = torch.randn(4, 32)
    no_kl = build_network("vae", 32, {**SMALL["vae"], "beta": 0.0})
    with_kl = build_network("vae", 32, {**SMALL["vae"], "beta": 10.0})
    with_kl.load_state_dict(no_kl.state_dict())
    torch.manual_seed(1)
    plain = no_kl.negative_elbo(curves)
    torch.manual_seed(1)
    assert torch.all(with_kl.negative_elbo(curves) >= plain)
