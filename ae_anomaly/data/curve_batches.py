"""What every curve-file reader yields and how it reports a problem.

Layouts of a table (``.npz`` always uses ``x``/``y``):

- ``ucr``: no header, the label in the first column (the UCR time-series archive's layout);
- ``header``: a header row naming the columns, the label in ``label_column``;
- ``unlabelled``: every column is a point of the curve; every curve counts as normal.

Every problem is a :class:`CurveFileError` naming the file and, where it applies, the line
(or row) and column, 1-based as a text editor shows them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, NoReturn

import numpy as np

from ae_anomaly.core.types import InputError

Layout = Literal["ucr", "header", "unlabelled"]


class CurveFileError(InputError):
    """A curve file that cannot be used; the message names the file, line and column."""


@dataclass(frozen=True)
class CurveBatch:
    """Consecutive curves of a file: ``x`` (rows, length) float32 (what the models compute
    in), their raw ``labels`` (or ``None`` for an unlabelled file), and where they are, for
    messages: the first one's line of a text file (or row of a binary one) and the file column
    of each point."""

    x: np.ndarray
    labels: np.ndarray | None
    first_line: int
    unit: Literal["line", "row"] = "line"
    columns: Sequence[int] = ()


def fail(
    path: Path,
    message: str,
    line: int | None = None,
    column: int | None = None,
    unit: str = "line",
) -> NoReturn:
    where = (f", {unit} {line}" if line else "") + (f", column {column}" if column else "")
    raise CurveFileError(f"{path}{where}: {message}")


def as_float32(path: Path, batch: CurveBatch) -> CurveBatch:
    """The batch in float32, refused if any value is missing, infinite, or too large for
    float32 (naming its line or row and column)."""
    x = batch.x.astype(np.float32, copy=False)
    bad = ~np.isfinite(x)
    if bad.any():
        row, point = np.argwhere(bad)[0]
        value = batch.x[row, point]
        what = (
            "a missing value"
            if np.isnan(value)
            else f"{value} (not a finite number)"
            if not np.isfinite(value)
            else f"{value} (too large for float32)"
        )
        fail(
            path,
            f"{what}; curves must be finite numbers",
            batch.first_line + int(row),
            batch.columns[point],
            batch.unit,
        )
    return CurveBatch(x, batch.labels, batch.first_line, batch.unit, batch.columns)


def find_label_column(
    path: Path, layout: Layout, label_column: str | None, names: Sequence[str] | None
) -> int | None:
    if layout == "unlabelled":
        return None
    if layout == "ucr":
        return 0
    if not label_column:
        fail(path, "the header layout needs generate.files.label_column (or --label-column)")
    assert names is not None
    stripped = [name.strip() for name in names]
    if label_column not in stripped:
        shown = ", ".join(stripped[:12]) + (", ..." if len(stripped) > 12 else "")
        fail(path, f"no column {label_column!r} in the header (columns: {shown})", 1)
    return stripped.index(label_column)


@dataclass(frozen=True)
class CurveFile:
    """A whole curve file: curves as float32 and their raw labels (``None``: unlabelled)."""

    x: np.ndarray
    labels: np.ndarray | None
