"""Checking curves handed to the deployed detector, with messages that say what is wrong and
what it expects (the served model answers them as HTTP 400)."""

from __future__ import annotations

from dataclasses import dataclass

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


@dataclass(frozen=True)
class CheckedRows:
    """A batch checked curve by curve: the curves that can be scored, which rows they are, and
    for every row either ``None`` (scored) or what is wrong with it."""

    curves: np.ndarray
    scored: np.ndarray
    errors: list[str | None]

    @property
    def refused(self) -> int:
        return int(len(self.errors) - self.scored.sum())


def check_rows(rows: object, curve_length: int) -> CheckedRows:
    """Each row of ``rows`` (a 2-D array, or a sequence of curves in which a curve may be
    ``None``, of any length, or hold NaN) checked on its own, so that one bad curve refuses
    itself and not its batch (Spark, ``bad_rows="null"``)."""
    expected = f"expected {curve_length} points"
    if isinstance(rows, np.ndarray) and rows.ndim == 2 and rows.dtype.kind in "iuf":
        if rows.shape[1] != curve_length:
            message = f"curve of {rows.shape[1]} points; {expected}"
            return CheckedRows(
                np.empty((0, curve_length), np.float32),
                np.zeros(len(rows), bool),
                [message] * len(rows),
            )
        candidates = np.asarray(rows, dtype=np.float32)
        errors: list[str | None] = [None] * len(rows)
    else:
        rows = list(rows)  # type: ignore[call-overload]
        if all(
            isinstance(row, np.ndarray) and row.shape == (curve_length,) and row.dtype.kind in "iuf"
            for row in rows
        ):  # what Spark hands over: arrays of the right length, their values checked below
            errors = [None] * len(rows)
        else:
            errors = [_row_problem(row, curve_length) for row in rows]
        good = [row for row, error in zip(rows, errors, strict=True) if error is None]
        candidates = (
            np.asarray(np.stack(good), dtype=np.float32)
            if good
            else np.empty((0, curve_length), np.float32)
        )
    finite = np.isfinite(candidates)
    good_indices = [index for index, error in enumerate(errors) if error is None]
    for position in np.flatnonzero(~finite.all(axis=1)):
        point = int(np.argmin(finite[position]))
        errors[good_indices[position]] = (
            f"point {point + 1} is {candidates[position, point]} (NaN, null or infinite): "
            "curves must be finite numbers"
        )
    scored = np.array([error is None for error in errors], dtype=bool)
    keep = finite.all(axis=1)
    return CheckedRows(candidates[keep], scored, errors)


def _row_problem(row: object, curve_length: int) -> str | None:
    """What makes one curve unscorable before its values are looked at, or ``None``."""
    if row is None:
        return "the curve is null"
    try:
        values = np.asarray(row, dtype=np.float64)
    except (TypeError, ValueError):
        return f"curves must be numbers; expected {curve_length} points"
    if values.ndim != 1 or values.size != curve_length:
        return f"curve of {values.size} points; expected {curve_length} points"
    return None
