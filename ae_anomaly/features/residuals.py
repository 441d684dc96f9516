"""Features of the autoencoder's residuals ``x - reconstruction``: folding, per-curve errors,
and row histograms (the article's "difference scores" and their histograms)."""

from __future__ import annotations

from typing import Literal

import numpy as np

ResidualKind = Literal["signed", "absolute", "squared"]
ErrorKind = Literal["mse", "mae", "max_abs"]


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


class ResidualRows:
    """Residual rows with each folding computed at most once, shared by every detector that
    scores them (the histogram and difference forests both fold to ``absolute``)."""

    def __init__(self, values: np.ndarray):
        self.values = values
        self._folded: dict[ResidualKind, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.values)

    def folded(self, kind: ResidualKind) -> np.ndarray:
        if kind not in self._folded:
            self._folded[kind] = transform_residuals(self.values, kind)
        return self._folded[kind]

    def errors(self, kind: ErrorKind) -> np.ndarray:
        """:func:`reconstruction_errors`, from the shared folding where one serves."""
        if kind == "max_abs":
            return self.folded("absolute").max(axis=1).astype(np.float64)
        if kind == "mae":
            return self.folded("absolute").mean(axis=1, dtype=np.float64)
        return reconstruction_errors(self.values, kind)


def reconstruction_errors(values: np.ndarray, kind: ErrorKind = "mse") -> np.ndarray:
    """One error per curve: mean squared residual (the article's loss), mean |residual|, or
    the largest |residual|.

    ``max_abs`` reacts to a narrow bump that the mean dilutes over all points; ``mae`` lets a
    shape that differs a little along much of the curve count as much as a few points that
    differ a lot (which ``mse`` lets dominate).
    """
    if kind == "mse":
        return np.mean(np.square(values, dtype=np.float64), axis=1)
    if kind == "mae":
        return np.mean(np.abs(values), axis=1, dtype=np.float64)
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


#: Rows histogrammed at once: their temporaries stay in the CPU cache.
_HISTOGRAM_BLOCK_ROWS = 512


def _float32_ceiling(edges: np.ndarray) -> np.ndarray:
    """For each float64 edge, the smallest float32 not below it: for a float32 ``v``,
    ``v >= edge`` exactly when ``v >= ceiling``, so float32 values compare without casts."""
    rounded = edges.astype(np.float32)
    below = rounded.astype(np.float64) < edges
    rounded[below] = np.nextafter(rounded[below], np.float32(np.inf))
    return rounded


def row_histograms(values: np.ndarray, bins: int, value_range: tuple[float, float]) -> np.ndarray:
    """``np.histogram(row, bins, range)`` for every row at once, as an (n_rows, bins) int array.

    Bins are half-open ``[edge_i, edge_i+1)`` over ``np.linspace(low, high, bins + 1)``, except
    the last, which also holds values equal to ``high``; values outside the range are not
    counted. Each value's bin is first estimated arithmetically (the edges are evenly spaced),
    then corrected by comparing it exactly with its neighbouring edges: the same bins a binary
    search over the edges gives (``np.searchsorted``), several times faster. float32 values
    are compared with the edges rounded up to float32, which decides exactly the same.
    """
    if values.ndim != 2:
        raise ValueError(f"expected a 2-D array of rows, got shape {values.shape}")
    low, high = value_range
    if not low < high:
        raise ValueError(f"histogram range must have low < high, got {value_range}")
    edges = np.linspace(low, high, bins + 1)
    if values.dtype == np.float32:
        edges, dtype = _float32_ceiling(edges), np.float32
    else:
        values, dtype = values.astype(np.float64, copy=False), np.float64
    # bounds[j] is edge j - 1: slot 0 holds values below the range, slot bins + 1 those above.
    bounds = np.concatenate([[-np.inf], edges, [np.inf]]).astype(dtype)
    upper = bounds[1:]  # upper[j] is bounds[j + 1]
    start_at, scale = dtype(low), dtype(bins / (high - low))
    n_rows, width = values.shape
    counts = np.empty((n_rows, bins), dtype=np.int64)
    # One set of buffers, reused block after block: every pass stays in cache and allocates
    # nothing (this runs on every curve the deployed detector scores).
    block_rows = min(_HISTOGRAM_BLOCK_ROWS, max(n_rows, 1))
    estimate = np.empty((block_rows, width), dtype=dtype)
    slots = np.empty((block_rows, width), dtype=np.int32)
    mask = np.empty((block_rows, width), dtype=bool)
    row_offsets = (np.arange(block_rows, dtype=np.int32) * (bins + 2))[:, None]
    for start in range(0, n_rows, block_rows):
        block = values[start : start + block_rows]
        rows = len(block)
        guess, slot, flag = estimate[:rows], slots[:rows], mask[:rows]
        with np.errstate(over="ignore", invalid="ignore"):  # huge values: clipped just below
            np.subtract(block, start_at, out=guess)
            np.multiply(guess, scale, out=guess)
        np.clip(guess, -1, bins + 1, out=guess)
        slot[...] = guess  # truncates toward zero, as astype does
        slot += 1
        np.clip(slot, 0, bins + 1, out=slot)
        np.less(block, np.take(bounds, slot), out=flag)
        slot -= flag
        np.greater_equal(block, np.take(upper, slot), out=flag)
        slot += flag
        np.equal(block, high, out=flag)
        slot[flag] = bins  # the right edge belongs to the last bin
        slot += row_offsets[:rows]
        per_row = np.bincount(slot.ravel(), minlength=rows * (bins + 2)).reshape(rows, bins + 2)
        counts[start : start + rows] = per_row[:, 1 : bins + 1]
    return counts
