"""The network kinds ``train_ae.network.kind`` can name, and building one by kind.

Adding a kind is one module (a :class:`~ae_anomaly.networks.base.Network` subclass), its
settings class in :mod:`ae_anomaly.core.params` and one entry here.
"""

from __future__ import annotations

from typing import Any

from ae_anomaly.networks.base import Network
from ae_anomaly.networks.conv import ConvAutoencoder
from ae_anomaly.networks.mlp import MLPAutoencoder
from ae_anomaly.networks.vae import VariationalAutoencoder

NETWORK_KINDS: dict[str, type[Network]] = {
    MLPAutoencoder.kind: MLPAutoencoder,
    ConvAutoencoder.kind: ConvAutoencoder,
    VariationalAutoencoder.kind: VariationalAutoencoder,
}


class UnknownNetworkKindError(ValueError):
    """A kind this version does not know (a checkpoint of a newer version, or a typo)."""


def network_class(kind: str) -> type[Network]:
    if kind not in NETWORK_KINDS:
        raise UnknownNetworkKindError(
            f"unknown network kind {kind!r}; this version knows {', '.join(sorted(NETWORK_KINDS))}"
        )
    return NETWORK_KINDS[kind]


def build_network(kind: str, input_size: int, settings: dict[str, Any]) -> Network:
    """An untrained network of ``kind`` for curves of ``input_size`` points; ``settings`` are
    the ``train_ae.network`` section without ``kind``."""
    return network_class(kind).from_config_dict({"input_size": input_size, **settings})
