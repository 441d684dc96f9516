"""The most anomalous curves of a scored file, kept while it streams by, for a figure.

``ae-anomaly score --figures DIR --top N`` draws the N curves one detector scores highest,
with their reconstructions and anomaly windows. A file may be larger than memory, so only
those N curves (as the model sees them, normalised) are ever held, batch after batch.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ae_anomaly.core.types import InputError
from ae_anomaly.detectors.location import LOCATION_COLUMNS


class TopCurves:
    """The ``count`` curves with the highest ``<rank_by>_score`` seen so far (ties: the
    earlier row first), with their reconstructions, scores and locations."""

    def __init__(self, count: int, rank_by: str = "ae_threshold"):
        if count < 1:
            raise InputError(f"--top {count}: draw at least 1 curve")
        self.count = count
        self.rank_by = rank_by
        self.rows = np.empty(0, dtype=np.int64)
        self.scores = np.empty(0)
        self.curves = np.empty((0, 0), dtype=np.float32)
        self.reconstructions = np.empty((0, 0), dtype=np.float32)
        self.locations: dict[str, np.ndarray] = {}

    def add(
        self,
        first_row: int,
        curves: np.ndarray,
        residuals: np.ndarray,
        columns: Mapping[str, np.ndarray],
    ) -> None:
        """One scored batch: its first row number, normalised curves, residuals, and the
        result columns the detector gave it."""
        key = f"{self.rank_by}_score"
        if key not in columns:
            fitted = [name.removesuffix("_score") for name in columns if name.endswith("_score")]
            raise InputError(
                f"--rank-by {self.rank_by}: not a fitted detector of this folder "
                f"(it has {', '.join(fitted)})"
            )
        if len(self.rows) == 0:
            self.curves = np.empty((0, curves.shape[1]), dtype=curves.dtype)
            self.reconstructions = np.empty_like(self.curves)
            self.locations = {name: np.empty(0, dtype=np.int64) for name in LOCATION_COLUMNS}
        rows = np.concatenate([self.rows, np.arange(first_row, first_row + len(curves))])
        scores = np.concatenate([self.scores, np.asarray(columns[key], dtype=np.float64)])
        keep = np.lexsort((rows, -scores))[: self.count]
        self.rows, self.scores = rows[keep], scores[keep]
        self.curves = np.concatenate([self.curves, curves])[keep]
        self.reconstructions = np.concatenate([self.reconstructions, curves - residuals])[keep]
        self.locations = {
            name: np.concatenate([self.locations[name], columns[name]])[keep]
            for name in LOCATION_COLUMNS
            if name in columns
        }
