"""Features of the autoencoder's residuals ``x - reconstruction``: folding, per-curve errors,
and row histograms (the article's "difference scores" and their histograms)."""

from __future__ import annotations

from typing import Literal

import numpy as np

ResidualKind = Literal["signed", "absolute", "squared"]
ErrorKind = Literal["mse", "max_abs"]


def residuals(x: np.ndarray, reconstruction: np.ndarray) -> np.ndarray:
    """The article's difference score: per curve and point, ``x - reconstruction``."""
    if x.shape != reconstruction.shape:
        raise ValueError(f"shape mismatch: x {x.shape} vs reconstruction {reconstruction.shape}")
    return x - reconstruction


def transform_residuals(values: np.ndarray, kind: ResidualKind) -> np.ndarray:
    """Signed residuals keep the sign of the bump; absolute/squared fold both tails together."""
    if kind == "signed":
        return values
    if kind == "absolute":
        return np.abs(values)
    if kind == "squared":
        return np.square(values)
    raise ValueError(f"unknown residual kind {kind!r}")


def reconstruction_errors(values: np.ndarray, kind: ErrorKind = "mse") -> np.ndarray:
    """One error per curve: mean squared residual (the article's loss) or the largest |residual|.

    ``max_abs`` reacts to a narrow bump that the mean dilutes over all points.
    """
    if kind == "mse":
        return np.mean(np.square(values, dtype=np.float64), axis=1)
    if kind == "max_abs":
        return np.max(np.abs(values), axis=1).astype(np.float64)
    raise ValueError(f"unknown error kind {kind!r}")


def learned_histogram_range(
    values: np.ndarray, kind: ResidualKind, quantile: float
) -> tuple[float, float]:
    """The histogram range for residuals like ``values``: the ``quantile`` of their magnitude,
    symmetric for signed residuals and from 0 for folded ones (how the article chose its
    (-0.3, 0.3) by eye from the test residuals)."""
    extent = float(np.quantile(np.abs(transform_residuals(values, kind)), quantile))
    extent = extent if extent > 0 else 1.0
    return (-extent, extent) if kind == "signed" else (0.0, extent)


def row_histograms(values: np.ndarray, bins: int, value_range: tuple[float, float]) -> np.ndarray:
    """``np.histogram(row, bins, range)`` for every row at once, as an (n_rows, bins) int array.

    Bin edges and edge cases match NumPy's: bins are half-open ``[edge_i, edge_i+1)`` except the
    last, which includes its right edge, and values outside the range are not counted.
    """
    if values.ndim != 2:
        raise ValueError(f"expected a 2-D array of rows, got shape {values.shape}")
    low, high = value_range
    if not low < high:
        raise ValueError(f"histogram range must have low < high, got {value_range}")
    edges = np.linspace(low, high, bins + 1)
    index = np.searchsorted(edges, values, side="right") - 1
    index[values == high] = bins - 1
    inside = (index >= 0) & (index < bins)
    rows = np.broadcast_to(np.arange(values.shape[0])[:, None], values.shape)
    flat = rows[inside] * bins + index[inside]
    return np.bincount(flat, minlength=values.shape[0] * bins).reshape(values.shape[0], bins)
