"""The deployable detector: one object that scores new curves exactly as ``evaluate`` measured
it, from the command line, from Python and over HTTP.

It holds everything between a raw curve and a verdict: the curve length it expects, the
per-curve normalisation, the autoencoder, and the three detectors on its residuals
(``ae_threshold``, ``histogram_forest``, ``difference_forest``) with their cuts. ``evaluate``
scores the validation curves with this very object, loaded from the pipeline's output, so the
figures a reviewer reads are the deployed detector's.

On disk it is a folder of plain files and nothing else (no pickle, loadable from an
untrusted source without running code): ``detector.json`` (settings and cuts),
``autoencoder.pt`` (weights, loaded with ``weights_only=True``) and one ``.npz`` of node tables
per fitted forest (loaded with ``allow_pickle=False``).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import shutil
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ae_anomaly.core.models import RESIDUAL_MODEL_NAMES
from ae_anomaly.core.storage import load_arrays, save_arrays, save_json, unreadable_file
from ae_anomaly.core.types import InputError, ModelOutput, NotFitted, Predictions
from ae_anomaly.detectors.forest import anomaly_score, forest_labels
from ae_anomaly.detectors.packed_forest import ForestScorer, PackedForest
from ae_anomaly.detectors.reconstruction import ReconstructionThresholdDetector
from ae_anomaly.detectors.residual_forests import DifferenceForest, HistogramForest
from ae_anomaly.features.preprocessing import Normalize, normalize_curves
from ae_anomaly.features.residuals import (
    ErrorKind,
    ResidualKind,
    reconstruction_errors,
    residuals,
    row_histograms,
    transform_residuals,
)

if TYPE_CHECKING:
    from ae_anomaly.networks.base import Network

FORMAT_VERSION = 1
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


@dataclass(frozen=True)
class ResidualForest:
    """A fitted residual forest, packed: how its features are made, its trees, its cut."""

    residual: ResidualKind
    forest: PackedForest
    threshold: float
    votes_decide: bool
    #: The histogram forest's bins and range; ``None`` for the difference forest.
    bins: int | None = None
    value_range: tuple[float, float] | None = None

    @classmethod
    def from_fitted(cls, fitted: HistogramForest | DifferenceForest) -> ResidualForest:
        is_histogram = isinstance(fitted, HistogramForest)
        return cls(
            residual=fitted.residual,
            forest=PackedForest.from_sklearn(fitted.forest_.model_),
            threshold=float(fitted.forest_.threshold_),
            votes_decide=bool(fitted.forest_.votes_decide_),
            bins=fitted.bins if is_histogram else None,
            value_range=fitted.value_range_ if is_histogram else None,
        )

    def features(self, values: np.ndarray) -> np.ndarray:
        """What the forest sees of residual rows: a histogram per row, or the folded rows."""
        return self.features_of_folded(transform_residuals(values, self.residual))

    def features_of_folded(self, folded: np.ndarray) -> np.ndarray:
        """:meth:`features` from rows already folded as ``residual`` says."""
        if self.bins is None:
            return folded
        assert self.value_range is not None
        return row_histograms(folded, self.bins, self.value_range)

    def config(self) -> dict[str, Any]:
        return {
            "residual": self.residual,
            "threshold": self.threshold,
            "votes_decide": self.votes_decide,
            "bins": self.bins,
            "value_range": None if self.value_range is None else list(self.value_range),
        }

    @classmethod
    def from_config(
        cls, config: Mapping[str, Any], arrays: Mapping[str, np.ndarray]
    ) -> ResidualForest:
        value_range = config["value_range"]
        return cls(
            residual=config["residual"],
            forest=PackedForest.from_arrays(arrays),
            threshold=float(config["threshold"]),
            votes_decide=bool(config["votes_decide"]),
            bins=config["bins"],
            value_range=None if value_range is None else (value_range[0], value_range[1]),
        )


class CurveDetector:
    """Scores raw curves: ``score`` gives each detector's anomaly scores (higher = more
    anomalous) and 0/1 labels; ``score_table`` the same as named columns. Built by
    :meth:`load` from a folder that :func:`pack_detector` wrote."""

    def __init__(
        self,
        network: Network,
        normalize: Normalize,
        threshold_error: ErrorKind,
        threshold: float,
        forests: Mapping[str, ResidualForest | NotFitted],
        batch_size: int = 1024,
        threads: int = 1,
        device: str = "cpu",
    ):
        from ae_anomaly.networks.base import select_device

        self.network = network.eval()
        self.normalize = normalize
        self.threshold_error = threshold_error
        self.threshold = threshold
        self.forests = dict(forests)
        self.batch_size = batch_size
        self.threads = max(1, threads)
        self.device = select_device(device)
        self.network.to(self.device)
        self._scorers: dict[str, ForestScorer] = {
            name: forest.forest.scorer()
            for name, forest in self.forests.items()
            if isinstance(forest, ResidualForest)
        }
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
        autoencoder), in the order of :data:`~ae_anomaly.core.models.RESIDUAL_MODEL_NAMES`.

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
        folded: dict[ResidualKind, np.ndarray] = {}  # each folding computed once, shared

        def fold(kind: ResidualKind) -> np.ndarray:
            if kind not in folded:
                folded[kind] = transform_residuals(values, kind)
            return folded[kind]

        if self.threshold_error == "max_abs":  # the same numbers reconstruction_errors gives
            errors = fold("absolute").max(axis=1).astype(np.float64)
        else:
            errors = reconstruction_errors(values, self.threshold_error)
        outputs: dict[str, ModelOutput] = {
            "ae_threshold": Predictions(errors, (errors > self.threshold).astype(np.int64))
        }
        for name, forest in self.forests.items():
            if isinstance(forest, NotFitted):
                outputs[name] = forest
                continue
            features = forest.features_of_folded(fold(forest.residual))
            proba = self._scorers[name].predict_proba(features)
            classes = forest.forest.classes
            outputs[name] = Predictions(
                anomaly_score(proba, classes),
                forest_labels(proba, classes, forest.votes_decide, forest.threshold),
            )
        return {name: outputs[name] for name in RESIDUAL_MODEL_NAMES}

    def score(self, x: np.ndarray) -> dict[str, ModelOutput]:
        """Each detector's anomaly scores and labels for raw curves ``x``."""
        return self.score_residuals(self.residuals(x)[1])

    def score_table(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """``{"ae_threshold_score": ..., "ae_threshold_label": ..., ...}`` for every fitted
        detector: the columns the command line writes and the served model answers."""
        return table_columns(self.score(x))

    def features(self, name: str, values: np.ndarray) -> np.ndarray:
        """What the forest ``name`` sees of residual rows (the histogram forest's histograms)."""
        forest = self.forests[name]
        if isinstance(forest, NotFitted):
            raise ValueError(f"{name} is not fitted: {forest.reason}")
        return forest.features(values)

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
        if config.get("format") != FORMAT_VERSION:
            raise DetectorFileError(
                f"{folder}: detector format {config.get('format')!r}, this version reads "
                f"{FORMAT_VERSION}"
            )
        forests: dict[str, ResidualForest | NotFitted] = {}
        for name in RESIDUAL_MODEL_NAMES[1:]:
            entry = config[name]
            forests[name] = (
                NotFitted(entry["not_fitted"])
                if "not_fitted" in entry
                else ResidualForest.from_config(entry, load_arrays(folder / f"{name}.npz"))
            )
        return cls(
            load_network(folder / NETWORK_FILE),
            normalize=config["normalize"],
            threshold_error=config["ae_threshold"]["error"],
            threshold=float(config["ae_threshold"]["threshold"]),
            forests=forests,
            batch_size=int(config["batch_size"]),
            threads=threads,
            device=device,
        )


def pack_detector(
    folder: str | Path,
    network_file: str | Path,
    curve_length: int,
    normalize: Normalize,
    ae_threshold: ReconstructionThresholdDetector,
    histogram_forest: HistogramForest | NotFitted,
    difference_forest: DifferenceForest | NotFitted,
    batch_size: int,
) -> Path:
    """Write the detector folder from what the pipeline fitted: the autoencoder's checkpoint
    (copied byte for byte), the threshold's cut and the two forests (packed, or the reason
    they could not be fitted). Needs no torch: the network is only copied."""
    folder = Path(folder)
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    shutil.copyfile(network_file, folder / NETWORK_FILE)
    forests: dict[str, Any] = {}
    for name, fitted in (
        ("histogram_forest", histogram_forest),
        ("difference_forest", difference_forest),
    ):
        if isinstance(fitted, NotFitted):
            forests[name] = {"not_fitted": fitted.reason}
            continue
        packed = ResidualForest.from_fitted(fitted)
        forests[name] = packed.config()
        save_arrays(folder / f"{name}.npz", packed.forest.to_arrays())
    save_json(
        folder / CONFIG_FILE,
        {
            "format": FORMAT_VERSION,
            "curve_length": curve_length,
            "normalize": normalize,
            "batch_size": batch_size,
            "ae_threshold": {
                "error": ae_threshold.error,
                "threshold": float(ae_threshold.threshold_),
            },
            **forests,
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
