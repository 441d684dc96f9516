"""Where on the curve: the location of each curve's strongest anomaly, from its residual.

The autoencoder's residual ``x - reconstruction`` peaks where a curve departs from what the
network learnt, but residuals of *normal* curves are not flat either: some positions are
always reconstructed worse than others. So the anomaly map compares each point's residual
with what normal residuals look like at that position, fitted on held-out normal curves
(never on anomaly labels):

    map[i] = |r[i] - mean_normal[i]| / scale[i],  scale[i] = sqrt(std_normal[i]^2 + s^2)

where ``s`` is the median of ``std_normal`` over positions: a position where normal residuals
vary more counts for less, but none is divided by a spread close to zero (the flat tails of
a curve), which would turn float noise into the strongest anomaly.

The window is the run of points around the map's peak where the map stays at or above
``window_level`` times its peak value. The default, ``exp(-2)``, is where a Gaussian-shaped
defect of width sigma falls at two sigmas from its centre: the window then spans
``[centre - 2 sigma, centre + 2 sigma]``, 95 % of such a defect's mass.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

#: The map's share of its peak value at which the window ends (see the module docstring).
DEFAULT_WINDOW_LEVEL = math.exp(-2)

#: The columns every location adds to a score table, in this order.
LOCATION_COLUMNS = ("anomaly_start", "anomaly_end", "anomaly_peak")


@dataclass(frozen=True)
class Locations:
    """Per curve: the window of its strongest anomaly (``start`` to ``end``, inclusive point
    indices) and the point where the anomaly map peaks."""

    start: np.ndarray
    end: np.ndarray
    peak: np.ndarray

    def columns(self) -> dict[str, np.ndarray]:
        return dict(zip(LOCATION_COLUMNS, (self.start, self.end, self.peak), strict=True))


class AnomalyLocator:
    """Fitted on held-out normal residuals; locates the strongest anomaly of any residual row.

    Parameters
    ----------
    window_level:
        The window is where the anomaly map stays at or above this share of its peak.
    """

    def __init__(self, window_level: float = DEFAULT_WINDOW_LEVEL):
        self.window_level = window_level

    def fit(self, normal_residuals: np.ndarray) -> AnomalyLocator:
        """Learn each position's mean and spread of normal residuals."""
        values = np.asarray(normal_residuals, dtype=np.float64)
        if values.ndim != 2 or len(values) == 0:
            raise ValueError(f"expected a non-empty (curves, points) array, got {values.shape}")
        if not 0 < self.window_level < 1:
            raise ValueError(f"window_level must lie in (0, 1), got {self.window_level}")
        spread = values.std(axis=0)
        typical = float(np.median(spread))
        self.centre_ = values.mean(axis=0)
        self._set_scale(np.sqrt(spread**2 + typical**2) if typical > 0 else np.ones_like(spread))
        return self

    def _set_scale(self, scale: np.ndarray) -> None:
        self.scale_ = scale
        # The map is float32, as the curves are: half the memory traffic of float64.
        self.inverse_scale_ = (1.0 / scale).astype(np.float32)

    @property
    def curve_length(self) -> int:
        return len(self.centre_)

    def anomaly_map(self, residuals: np.ndarray) -> np.ndarray:
        """One value per point, higher = more anomalous (see the module docstring)."""
        values = np.asarray(residuals)
        if values.ndim != 2 or values.shape[1] != self.curve_length:
            raise ValueError(
                f"expected residual rows of {self.curve_length} points, got {values.shape}"
            )
        values = np.subtract(values, self.centre_, dtype=np.float32)
        np.abs(values, out=values)
        values *= self.inverse_scale_
        return values

    def locate(self, residuals: np.ndarray, anomaly_map: np.ndarray | None = None) -> Locations:
        """Each row's window and peak; ``anomaly_map`` when it has been computed already."""
        values = self.anomaly_map(residuals) if anomaly_map is None else anomaly_map
        rows, points = values.shape
        peak = values.argmax(axis=1)
        every_row = np.arange(rows)
        level = values[every_row, peak] * self.window_level
        below = values < level[:, None]
        before = np.arange(points, dtype=np.int32) < peak.astype(np.int32)[:, None]
        left = below & before
        right = below > before  # below and after the peak (the peak itself is never below)
        # The last point below the level before the peak, and the first one after it.
        last_left = points - 1 - np.argmax(left[:, ::-1], axis=1)
        first_right = np.argmax(right, axis=1)
        start = np.where(left[every_row, last_left], last_left + 1, 0)
        end = np.where(right[every_row, first_right], first_right - 1, points - 1)
        return Locations(start.astype(np.int64), end.astype(np.int64), peak.astype(np.int64))

    # The detector folder's JSON part ------------------------------------------------------

    def pack(self) -> dict[str, Any]:
        return {
            "window_level": self.window_level,
            "centre": self.centre_.tolist(),
            "scale": self.scale_.tolist(),
        }

    @classmethod
    def unpack(cls, entry: dict[str, Any]) -> AnomalyLocator:
        locator = cls(float(entry["window_level"]))
        locator.centre_ = np.asarray(entry["centre"], dtype=np.float64)
        locator._set_scale(np.asarray(entry["scale"], dtype=np.float64))
        return locator
