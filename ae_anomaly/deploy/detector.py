"""The deployable detector: one object that scores new curves exactly as ``evaluate`` measured
it, from the command line, from Python and over HTTP.

It holds everything between a raw curve and a verdict: the curve length it expects, the
per-curve normalisation, the network, and every detector on its residuals (the model list's
residual detectors: ``ae_threshold``, ``difference_forest``, ``histogram_forest``) with their
cuts. ``evaluate`` scores the validation curves with this very object, loaded from the
pipeline's output, so the figures a reviewer reads are the deployed detector's.

Nothing here knows one residual detector from another: each packs itself into the folder and
unpacks into the object that scores it (:mod:`ae_anomaly.detectors.residual`).

On disk it is a folder of plain files and nothing else (no pickle, loadable from an
untrusted source without running code): ``detector.json`` (settings, and each residual
detector's JSON part), ``autoencoder.pt`` (the network's kind, config and weights, loaded
with ``weights_only=True``) and whatever plain files a residual detector writes (the forests:
one ``.npz`` of node tables each, loaded with ``allow_pickle=False``).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import shutil
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ae_anomaly.core.storage import save_json, unreadable_file
from ae_anomaly.core.types import InputError, ModelOutput, NotFitted, Predictions
from ae_anomaly.detectors.registry import residual_detector_classes
from ae_anomaly.detectors.residual import PackedResidualDetector, ResidualDetector
from ae_anomaly.features.preprocessing import Normalize, normalize_curves
from ae_anomaly.features.residuals import ResidualRows, residuals

if TYPE_CHECKING:
    from ae_anomaly.networks.base import Network

#: 2: the residual detectors under ``detectors``; 1 (still read): one top-level key each.
FORMAT_VERSION = 2
#: Fewer rows than this per thread are not worth a second thread.
_MIN_CHUNK_ROWS = 1024
CONFIG_FILE = "detector.json"
NETWORK_FILE = "autoencoder.pt"
#: The key of the detector folder among an MLflow model's artifacts.
DETECTOR_ARTIFACT = "detector"


class CurveInputError(InputError):
    """Curves the detector cannot score; the message says what is wrong and what it expects."""


class DetectorFileError(InputError):
    """A folder that is not a detector this version can load."""


class CurveDetector:
    """Scores raw curves: ``score`` gives each detector's anomaly scores (higher = more
    anomalous) and 0/1 labels; ``score_table`` the same as named columns. Built by
    :meth:`load` from a folder that :func:`pack_detector` wrote."""

    def __init__(
        self,
        network: Network,
        normalize: Normalize,
        detectors: Mapping[str, PackedResidualDetector | NotFitted],
        batch_size: int = 1024,
        threads: int = 1,
        device: str = "cpu",
    ):
        from ae_anomaly.networks.base import select_device

        self.network = network.eval()
        self.normalize = normalize
        #: Every residual detector by model name, in the model list's order.
        self.detectors = dict(detectors)
        self.batch_size = batch_size
        self.threads = max(1, threads)
        self.device = select_device(device)
        self.network.to(self.device)
        self._pool: ThreadPoolExecutor | None = None

    @property
    def curve_length(self) -> int:
        return self.network.input_size

    # Scoring ----------------------------------------------------------------------------------

    def check_curves(self, x: object) -> np.ndarray:
        """``x`` as a (curves, points) float32 array, or a :class:`CurveInputError` that names
        the problem and the expected curve length."""
        expected = f"expected a batch of curves of {self.curve_length} points each"
        try:
            array = np.asarray(x, dtype=np.float32)
        except (TypeError, ValueError):
            lengths = {len(row) for row in x} if _is_rows(x) else set()
            if len(lengths) > 1:
                raise CurveInputError(
                    f"got curves of different lengths ({min(lengths)} to {max(lengths)} "
                    f"points); {expected}"
                ) from None
            raise CurveInputError(f"curves must be numbers; {expected}") from None
        if array.ndim == 1 and array.size == self.curve_length:
            array = array[None, :]
        if array.ndim != 2 or array.shape[0] == 0:
            raise CurveInputError(f"got an array of shape {array.shape}; {expected}")
        if array.shape[1] != self.curve_length:
            raise CurveInputError(f"got curves of {array.shape[1]} points; {expected}")
        bad = ~np.isfinite(array)
        if bad.any():
            row, point = np.argwhere(bad)[0]
            raise CurveInputError(
                f"curve {row + 1}, point {point + 1} is {array[row, point]}: curves must be "
                f"finite numbers; {expected}"
            )
        return array

    def residuals(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The curves as the model sees them (normalised) and their residuals."""
        from ae_anomaly.networks.base import reconstruct

        curves = normalize_curves(self.check_curves(x), self.normalize)
        reconstruction = reconstruct(self.network, curves, self.device, self.batch_size)
        return curves, residuals(curves, reconstruction)

    def score_residuals(self, values: np.ndarray) -> dict[str, ModelOutput]:
        """Every residual detector's output on residual rows (what ``score`` does after the
        network), in the model list's order.

        With ``threads`` > 1, the rows are split into that many chunks scored side by side
        (the histograms, the trees and NumPy release the GIL); every row's numbers are the
        same either way."""
        if self.threads == 1 or len(values) < 2 * _MIN_CHUNK_ROWS:
            return self._score_chunk(values)
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="detector")
        bounds = np.linspace(0, len(values), self.threads + 1).astype(int)
        chunks = [values[start:end] for start, end in itertools.pairwise(bounds)]
        parts = list(self._pool.map(self._score_chunk, chunks))
        merged: dict[str, ModelOutput] = {}
        for name, first in parts[0].items():
            if isinstance(first, NotFitted):
                merged[name] = first
                continue
            pieces = [part[name] for part in parts]
            merged[name] = Predictions(
                np.concatenate([piece.score for piece in pieces]),
                np.concatenate([piece.label for piece in pieces]),
            )
        return merged

    def _score_chunk(self, values: np.ndarray) -> dict[str, ModelOutput]:
        rows = ResidualRows(values)  # each folding computed once, shared by the detectors
        return {
            name: detector if isinstance(detector, NotFitted) else detector.score(rows)
            for name, detector in self.detectors.items()
        }

    def score(self, x: np.ndarray) -> dict[str, ModelOutput]:
        """Each detector's anomaly scores and labels for raw curves ``x``."""
        return self.score_residuals(self.residuals(x)[1])

    def score_table(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """``{"ae_threshold_score": ..., "ae_threshold_label": ..., ...}`` for every fitted
        detector: the columns the command line writes and the served model answers."""
        return table_columns(self.score(x))

    def features(self, name: str, values: np.ndarray) -> np.ndarray:
        """What the residual detector ``name`` sees of residual rows (the histogram forest's
        histograms), for the figures."""
        detector = self.detectors[name]
        if isinstance(detector, NotFitted):
            raise ValueError(f"{name} is not fitted: {detector.reason}")
        return detector.features(values)  # type: ignore[attr-defined]

    # Files ------------------------------------------------------------------------------------

    @classmethod
    def load(cls, folder: str | Path, device: str = "cpu", threads: int = 1) -> CurveDetector:
        """Read a folder written by :func:`pack_detector` (no pickle is read)."""
        from ae_anomaly.networks.checkpoint import load_network

        folder = Path(folder)
        try:
            config = json.loads((folder / CONFIG_FILE).read_text())
        except FileNotFoundError:
            raise DetectorFileError(f"{folder}: no {CONFIG_FILE}; not a detector folder") from None
        except (OSError, ValueError) as error:
            raise unreadable_file(folder / CONFIG_FILE, error) from None
        classes = residual_detector_classes()
        detectors: dict[str, PackedResidualDetector | NotFitted] = {}
        for name, entry in _detector_entries(folder, config).items():
            if "not_fitted" in entry:
                detectors[name] = NotFitted(entry["not_fitted"])
            elif name not in classes:
                raise DetectorFileError(
                    f"{folder}: holds a residual detector {name!r} this version does not know "
                    f"(it knows {', '.join(classes)}); score it with the version that wrote it"
                )
            else:
                detectors[name] = classes[name].unpack(entry, folder, name, threads)
        return cls(
            load_network(folder / NETWORK_FILE),
            normalize=config["normalize"],
            detectors=detectors,
            batch_size=int(config["batch_size"]),
            threads=threads,
            device=device,
        )


def _detector_entries(folder: Path, config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each residual detector's JSON part, by name, from either folder format."""
    version = config.get("format")
    if version == FORMAT_VERSION:
        return dict(config["detectors"])
    if version == 1:  # one top-level key per detector, before detectors packed themselves
        return {name: config[name] for name in _FORMAT_1_DETECTORS}
    raise DetectorFileError(
        f"{folder}: detector format {version!r}, this version reads {FORMAT_VERSION} (and 1)"
    )


def fitted_detector_names(folder: str | Path) -> list[str]:
    """The residual detectors a detector folder scores with (those fitted), in its order:
    each gives a ``<name>_score`` and a ``<name>_label`` column."""
    folder = Path(folder)
    config = json.loads((folder / CONFIG_FILE).read_text())
    entries = _detector_entries(folder, config)
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
) -> Path:
    """Write the detector folder from what the pipeline fitted: the network's checkpoint
    (copied byte for byte) and every residual detector (packed by itself, or the reason it
    could not be fitted). Needs no torch: the network is only copied."""
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
            "versions": _versions(),
        },
    )
    return folder


def _is_rows(x: object) -> bool:
    try:
        return all(hasattr(row, "__len__") and not isinstance(row, str) for row in x)
    except TypeError:
        return False


def table_columns(outputs: Mapping[str, ModelOutput]) -> dict[str, np.ndarray]:
    """``<model>_score`` and ``<model>_label`` columns for every fitted model."""
    columns: dict[str, np.ndarray] = {}
    for name, output in outputs.items():
        if isinstance(output, Predictions):
            columns[f"{name}_score"] = np.asarray(output.score, dtype=np.float64)
            columns[f"{name}_label"] = np.asarray(output.label, dtype=np.int64)
    return columns


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
