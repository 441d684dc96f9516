"""The deployable detector: one object that scores new curves exactly as ``evaluate`` measured
it, from the command line, from Python and over HTTP.

It holds everything between a raw curve and a verdict: the curve length it expects, the
per-curve normalisation, the network, every detector on its residuals (the model list's residual
detectors: ``ae_threshold``, ``difference_forest``, ``histogram_forest``) with their cuts, and
the anomaly locator that says where on each curve its strongest anomaly lies
(:mod:`ae_anomaly.detectors.location`). ``evaluate`` scores the validation curves with this
very object, loaded from the pipeline's output, so the figures a reviewer reads are the
deployed detector's.

Nothing here knows one residual detector from another: each packs itself into the folder and
unpacks into the object that scores it (:mod:`ae_anomaly.detectors.residual`).

On disk it is a folder of plain files and nothing else (:mod:`ae_anomaly.deploy.folder`);
the checks of incoming curves are :mod:`ae_anomaly.deploy.curves`.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ae_anomaly.core.types import ModelOutput, NotFitted, Predictions
from ae_anomaly.deploy.curves import check_curves
from ae_anomaly.deploy.folder import (
    NETWORK_FILE,
    DetectorFileError,
    detector_entries,
    read_config,
    read_locator,
)
from ae_anomaly.detectors.location import AnomalyLocator
from ae_anomaly.detectors.registry import residual_detector_classes
from ae_anomaly.detectors.residual import PackedResidualDetector
from ae_anomaly.features.preprocessing import Normalize, normalize_curves
from ae_anomaly.features.residuals import ResidualRows, residuals

if TYPE_CHECKING:
    from ae_anomaly.networks.base import Network

#: Fewer rows than this per thread are not worth a second thread.
_MIN_CHUNK_ROWS = 1024


class CurveDetector:
    """Scores raw curves: ``score`` gives each detector's anomaly scores (higher = more
    anomalous) and 0/1 labels; ``score_table`` the same as named columns, with where each
    curve's strongest anomaly lies (and, on request, its anomaly map). Built by :meth:`load`
    from a folder that :func:`pack_detector` wrote."""

    def __init__(
        self,
        network: Network,
        normalize: Normalize,
        detectors: Mapping[str, PackedResidualDetector | NotFitted],
        batch_size: int = 1024,
        threads: int = 1,
        device: str = "cpu",
        locator: AnomalyLocator | None = None,
    ):
        from ae_anomaly.networks.base import select_device

        self.network = network.eval()
        self.normalize = normalize
        #: Every residual detector by model name, in the model list's order.
        self.detectors = dict(detectors)
        #: Locates each curve's strongest anomaly; ``None`` for a folder written before
        #: detectors did.
        self.locator = locator
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
        return check_curves(x, self.curve_length)

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

    def locations(self, values: np.ndarray) -> dict[str, np.ndarray]:
        """``anomaly_start``, ``anomaly_end``, ``anomaly_peak`` of residual rows (none without
        a locator)."""
        return {} if self.locator is None else self.locator.locate(values).columns()

    def anomaly_maps(self, values: np.ndarray) -> np.ndarray:
        """One value per point of residual rows, higher = more anomalous."""
        if self.locator is None:
            raise DetectorFileError(
                "this detector folder holds no anomaly locator (written before detectors "
                "located anomalies): rerun `dvc repro` to get anomaly maps"
            )
        return self.locator.anomaly_map(values)

    def result_columns(
        self, values: np.ndarray, anomaly_map: bool = False
    ) -> dict[str, np.ndarray]:
        """Everything said about residual rows: each detector's score and label columns, the
        location columns, and with ``anomaly_map`` the map as a (rows, points) array."""
        columns = {**table_columns(self.score_residuals(values)), **self.locations(values)}
        if anomaly_map:
            columns["anomaly_map"] = self.anomaly_maps(values)
        return columns

    def score_table(self, x: np.ndarray, anomaly_map: bool = False) -> dict[str, np.ndarray]:
        """``{"ae_threshold_score": ..., "ae_threshold_label": ..., ..., "anomaly_start":
        ..., "anomaly_end": ..., "anomaly_peak": ...}``: the columns the command line writes
        and the served model answers (see :meth:`result_columns`)."""
        return self.result_columns(self.residuals(x)[1], anomaly_map)

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
        config = read_config(folder)
        classes = residual_detector_classes()
        detectors: dict[str, PackedResidualDetector | NotFitted] = {}
        for name, entry in detector_entries(folder, config).items():
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
            locator=read_locator(config),
        )


def table_columns(outputs: Mapping[str, ModelOutput]) -> dict[str, np.ndarray]:
    """``<model>_score`` and ``<model>_label`` columns for every fitted model."""
    columns: dict[str, np.ndarray] = {}
    for name, output in outputs.items():
        if isinstance(output, Predictions):
            columns[f"{name}_score"] = np.asarray(output.score, dtype=np.float64)
            columns[f"{name}_label"] = np.asarray(output.label, dtype=np.int64)
    return columns
