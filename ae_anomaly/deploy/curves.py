"""Checking curves handed to the deployed detector, with messages that say what is wrong and
what it expects (the served model answers them as HTTP 400)."""

from __future__ import annotations

import numpy as np

from ae_anomaly.core.types import InputError


class CurveInputError(InputError):
    """Curves the detector cannot score; the message says what is wrong and what it expects."""


def check_curves(x: object, curve_length: int) -> np.ndarray:
    """``x`` as a (curves, points) float32 array, or a :class:`CurveInputError` that names
    the problem and the expected curve length."""
    expected = f"expected a batch of curves of {curve_length} points each"
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
    if array.ndim == 1 and array.size == curve_length:
        array = array[None, :]
    if array.ndim != 2 or array.shape[0] == 0:
        raise CurveInputError(f"got an array of shape {array.shape}; {expected}")
    if array.shape[1] != curve_length:
        raise CurveInputError(f"got curves of {array.shape[1]} points; {expected}")
    bad = ~np.isfinite(array)
    if bad.any():
        row, point = np.argwhere(bad)[0]
        raise CurveInputError(
            f"curve {row + 1}, point {point + 1} is {array[row, point]}: curves must be "
            f"finite numbers; {expected}"
        )
    return array


def _is_rows(x: object) -> bool:
    try:
        return all(hasattr(row, "__len__") and not isinstance(row, str) for row in x)
    except TypeError:
        return False
