"""The detector folder: plain files only, so loading one runs no code from it.

``detector.json`` holds the settings (curve length, normalisation, inference batch) and each
residual detector's JSON part under ``detectors``; ``autoencoder.pt`` is the network's
checkpoint (kind, config, weights; read with ``weights_only=True``); a residual detector may
add plain files of its own (the forests: ``<name>.npz`` node tables, read with
``allow_pickle=False``). Format 1 (one top-level key per detector, before detectors packed
themselves) is still read.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ae_anomaly.core.storage import save_json, unreadable_file
from ae_anomaly.core.types import InputError, NotFitted
from ae_anomaly.detectors.location import AnomalyLocator
from ae_anomaly.detectors.residual import ResidualDetector
from ae_anomaly.features.preprocessing import Normalize

#: 2: the residual detectors under ``detectors``; 1 (still read): one top-level key each.
FORMAT_VERSION = 2


CONFIG_FILE = "detector.json"


NETWORK_FILE = "autoencoder.pt"


#: The key of the detector folder among an MLflow model's artifacts.
DETECTOR_ARTIFACT = "detector"


class DetectorFileError(InputError):
    """A folder that is not a detector this version can load."""


def read_config(folder: Path) -> dict[str, Any]:
    """``detector.json`` of ``folder``, or a message saying why it is not a detector folder."""
    try:
        return json.loads((folder / CONFIG_FILE).read_text())
    except FileNotFoundError:
        raise DetectorFileError(f"{folder}: no {CONFIG_FILE}; not a detector folder") from None
    except (OSError, ValueError) as error:
        raise unreadable_file(folder / CONFIG_FILE, error) from None


def detector_entries(folder: Path, config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each residual detector's JSON part, by name, from either folder format."""
    version = config.get("format")
    if version == FORMAT_VERSION:
        return dict(config["detectors"])
    if version == 1:  # one top-level key per detector, before detectors packed themselves
        return {name: config[name] for name in _FORMAT_1_DETECTORS}
    raise DetectorFileError(
        f"{folder}: detector format {version!r}, this version reads {FORMAT_VERSION} (and 1)"
    )


def read_locator(config: dict[str, Any]) -> AnomalyLocator | None:
    """The anomaly locator of ``detector.json``; ``None`` in a folder written before
    detectors located anomalies (it scores, but returns no locations)."""
    entry = config.get("locator")
    return None if entry is None else AnomalyLocator.unpack(entry)


def fitted_detector_names(folder: str | Path) -> list[str]:
    """The residual detectors a detector folder scores with (those fitted), in its order:
    each gives a ``<name>_score`` and a ``<name>_label`` column."""
    folder = Path(folder)
    entries = detector_entries(folder, read_config(folder))
    return [name for name, entry in entries.items() if "not_fitted" not in entry]


#: The residual detectors a format-1 folder holds, in its order.
_FORMAT_1_DETECTORS = ("ae_threshold", "difference_forest", "histogram_forest")


def pack_detector(
    folder: str | Path,
    network_file: str | Path,
    curve_length: int,
    normalize: Normalize,
    detectors: Mapping[str, ResidualDetector | NotFitted],
    batch_size: int,
    locator: AnomalyLocator | None = None,
) -> Path:
    """Write the detector folder from what the pipeline fitted: the network's checkpoint
    (copied byte for byte), every residual detector (packed by itself, or the reason it
    could not be fitted) and the anomaly locator. Needs no torch: the network is only
    copied."""
    folder = Path(folder)
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    shutil.copyfile(network_file, folder / NETWORK_FILE)
    entries = {
        name: (
            {"not_fitted": detector.reason}
            if isinstance(detector, NotFitted)
            else detector.pack(folder, name)
        )
        for name, detector in detectors.items()
    }
    save_json(
        folder / CONFIG_FILE,
        {
            "format": FORMAT_VERSION,
            "curve_length": curve_length,
            "normalize": normalize,
            "batch_size": batch_size,
            "detectors": entries,
            **({} if locator is None else {"locator": locator.pack()}),
            "versions": _versions(),
        },
    )
    return folder


def folder_digest(folder: str | Path) -> str:
    """sha256 over a detector folder's file names and bytes: same digest, same detector."""
    digest = hashlib.sha256()
    for path in sorted(Path(folder).iterdir()):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def _versions() -> dict[str, str]:
    """The library versions that read these files (the forests' node tables are
    scikit-learn's own layout)."""
    import sklearn

    return {"numpy": np.__version__, "scikit-learn": sklearn.__version__}
