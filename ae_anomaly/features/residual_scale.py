"""Residuals measured against the normal curves' own residuals at each point.

A plain reconstruction error weighs every point alike. On real curves the autoencoder
reconstructs some stretches of a normal curve well and others poorly (a noisy plateau, a
peak whose position wanders): a large residual there is normal, while the same residual on
a stretch the network always gets right is not. Dividing each point's residual by the spread
of the normal curves' residuals at that point (a diagonal Mahalanobis distance) makes the
error ask "unusual *here*?".

Real pools are small, so each point's variance is shrunk toward the curve-wide mean
variance, as if ``prior_curves`` extra curves had that variance: with a handful of curves a
point's own estimate is noise, with hundreds it dominates.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Self

import numpy as np

#: Below this, a variance is treated as this (a point every normal residual leaves at 0).
_MIN_VARIANCE = 1e-12


@dataclass(frozen=True)
class PointwiseScale:
    """Per point: the normal residuals' mean and (shrunk) standard deviation."""

    center: np.ndarray
    scale: np.ndarray

    @classmethod
    def fit(cls, residuals: np.ndarray, prior_curves: float) -> Self:
        """From the residuals of normal curves (one row each); see the module docstring."""
        if residuals.ndim != 2 or len(residuals) == 0:
            raise ValueError(
                f"need at least one normal residual row to scale by, got shape {residuals.shape}"
            )
        if prior_curves < 0:
            raise ValueError(f"prior_curves must be >= 0, got {prior_curves}")
        values = residuals.astype(np.float64, copy=False)
        variance = values.var(axis=0)
        rows = len(values)
        shrunk = (rows * variance + prior_curves * variance.mean()) / (rows + prior_curves)
        return cls(values.mean(axis=0), np.sqrt(np.maximum(shrunk, _MIN_VARIANCE)))

    def standardize(self, residuals: np.ndarray) -> np.ndarray:
        """Each point's residual in units of the normal residuals' spread at that point."""
        if residuals.shape[-1] != self.center.shape[0]:
            raise ValueError(
                f"residuals of {residuals.shape[-1]} points; the scale was fitted on "
                f"{self.center.shape[0]}"
            )
        return (residuals - self.center) / self.scale

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {"center": self.center, "scale": self.scale}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> Self:
        return cls(np.asarray(arrays["center"]), np.asarray(arrays["scale"]))
