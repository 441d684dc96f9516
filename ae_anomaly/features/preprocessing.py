"""The per-curve normalisation that is part of every model: the pipeline fits on normalised
curves, and whatever scores new curves (the deployable detector) applies the same transform.

Each curve is transformed on its own (no statistics are learned from a training set), so
the transform needs no fitting and behaves the same on one curve or a million.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

Normalize = Literal["none", "zscore", "minmax"]


def normalize_curves(x: np.ndarray, method: Normalize) -> np.ndarray:
    """``none``: ``x`` itself (untouched, same object); ``zscore``: each curve minus its mean,
    divided by its standard deviation; ``minmax``: each curve rescaled to [0, 1]. A flat curve
    (no spread) becomes all zeros rather than NaN. The dtype is kept."""
    if method == "none":
        return x
    values = np.asarray(x)
    if method == "zscore":
        centre = values.mean(axis=1, keepdims=True)
        spread = values.std(axis=1, keepdims=True)
    elif method == "minmax":
        centre = values.min(axis=1, keepdims=True)
        spread = values.max(axis=1, keepdims=True) - centre
    else:
        raise ValueError(f"unknown normalisation {method!r}; use none, zscore or minmax")
    scale = np.where(spread > 0, spread, 1)
    return ((values - centre) / scale).astype(values.dtype, copy=False)
