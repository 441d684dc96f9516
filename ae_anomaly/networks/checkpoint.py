"""A trained network on disk: its kind, the config that rebuilds it, and its weights.

The checkpoint holds plain types and tensors only, so it loads with
``torch.load(..., weights_only=True)`` (no pickled classes); the kind picks the class that
rebuilds the architecture. Checkpoints written before network kinds existed hold no kind:
they are the ``mlp`` kind.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import torch

from ae_anomaly.core.storage import atomic_output, unreadable_file
from ae_anomaly.core.types import ReportedError
from ae_anomaly.networks.base import Network
from ae_anomaly.networks.registry import UnknownNetworkKindError, network_class

#: The kind of a checkpoint that names none (written before kinds existed).
UNNAMED_KIND = "mlp"


class CheckpointKindError(ReportedError):
    """A checkpoint of a kind this version cannot rebuild; the message says what to do."""


def save_network(path: str | Path, model: Network) -> None:
    """The kind, the config that rebuilds the architecture, and the weights (plain types)."""
    state = {name: tensor.detach().cpu() for name, tensor in model.state_dict().items()}
    payload = {"kind": model.kind, "config": model.config.to_dict(), "state_dict": state}
    with atomic_output(path) as partial:
        torch.save(payload, partial)


def load_network(path: str | Path, device: torch.device | None = None) -> Network:
    """Rebuild the network from a checkpoint written by :func:`save_network` (or by a version
    before network kinds, which saved the ``mlp`` kind without naming it)."""
    try:
        checkpoint = torch.load(Path(path), map_location=device or "cpu", weights_only=True)
        kind = checkpoint.get("kind", UNNAMED_KIND)
        model = network_class(kind).from_config_dict(checkpoint["config"])
        model.load_state_dict(checkpoint["state_dict"])
    except UnknownNetworkKindError as error:
        raise CheckpointKindError(
            f"{path}: {error}. Rebuild it with this version: dvc repro --force -s train_ae"
        ) from None
    except (
        OSError,
        EOFError,
        RuntimeError,  # a truncated file: torch's zip reader
        pickle.UnpicklingError,  # weights_only refusing anything but tensors and plain types
        ValueError,
        KeyError,  # a checkpoint of something else
        TypeError,
        AttributeError,  # not a mapping at all
    ) as error:
        raise unreadable_file(path, error) from None
    return model.eval()
