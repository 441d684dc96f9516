"""Reading users' curve files: one curve per row, with or without a label per curve.

Formats, chosen by the file's suffix:

- ``.tsv`` / ``.csv`` / ``.txt``: text tables (tab, comma, whitespace separated);
- ``.parquet``: the same tables, typed;
- ``.npy``: a 2-D array; ``.npz``: arrays ``x`` (curves) and optionally ``y`` (labels).

Layouts of a table (``.npz`` always uses ``x``/``y``):

- ``ucr``: no header, the label in the first column (the UCR time-series archive's layout);
- ``header``: a header row naming the columns, the label in ``label_column``;
- ``unlabelled``: every column is a point of the curve; every curve counts as normal.

Every problem is reported as a :class:`CurveFileError` naming the file and, where it applies,
the line and column (1-based, as a text editor shows them), before anything is written.
Files are read in batches (:func:`iter_curve_batches`), so scoring a file larger than memory
works; the pipeline reads its (small) files whole with :func:`read_curves`.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, NoReturn

import numpy as np

from ae_anomaly.core.types import ANOMALY, NORMAL, Dataset, InputError

Layout = Literal["ucr", "header", "unlabelled"]

TEXT_DELIMITERS = {".csv": ",", ".tsv": "\t", ".txt": None}  # None: any run of whitespace
SUFFIXES = (*TEXT_DELIMITERS, ".parquet", ".npy", ".npz")
DEFAULT_BATCH_ROWS = 65_536


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


def _fail(
    path: Path,
    message: str,
    line: int | None = None,
    column: int | None = None,
    unit: str = "line",
) -> NoReturn:
    where = (f", {unit} {line}" if line else "") + (f", column {column}" if column else "")
    raise CurveFileError(f"{path}{where}: {message}")


def _as_float32(path: Path, batch: CurveBatch) -> CurveBatch:
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
        _fail(
            path,
            f"{what}; curves must be finite numbers",
            batch.first_line + int(row),
            batch.columns[point],
            batch.unit,
        )
    return CurveBatch(x, batch.labels, batch.first_line, batch.unit, batch.columns)


# Text tables --------------------------------------------------------------------------------


def _first_row(path: Path, delimiter: str | None) -> list[str]:
    with open(path, newline="") as handle:
        for line in handle:
            if line.strip():
                if delimiter is None:
                    return line.split()
                return next(csv.reader([line], delimiter=delimiter))
    _fail(path, "no curves: the file is empty")


def _locate_text_problem(path: Path, delimiter: str | None, header: bool, width: int) -> None:
    """Scan the file in Python for the first ragged row or non-numeric cell and report it
    (only called once the fast reader has failed, so its cost does not matter)."""
    with open(path, newline="") as handle:
        lines = (line for line in handle)
        rows = (
            (line.split() for line in lines)
            if delimiter is None
            else csv.reader(lines, delimiter=delimiter)
        )
        for number, row in enumerate(rows, 1):
            if (header and number == 1) or not row:
                continue
            if len(row) != width:
                _fail(path, f"{len(row)} values, but the first row has {width}", number)


def _text_value_error(
    path: Path, delimiter: str | None, header: bool, value_columns: Sequence[int]
) -> None:
    with open(path, newline="") as handle:
        lines = (line for line in handle)
        rows = (
            (line.split() for line in lines)
            if delimiter is None
            else csv.reader(lines, delimiter=delimiter)
        )
        for number, row in enumerate(rows, 1):
            if (header and number == 1) or not row:
                continue
            for column in value_columns:
                cell = row[column - 1].strip()
                try:
                    float(cell)
                except ValueError:
                    shown = repr(cell) if cell else "an empty cell"
                    _fail(path, f"{shown} is not a number", number, column)


def _iter_text(
    path: Path, layout: Layout, label_column: str | None, batch_rows: int
) -> Iterator[CurveBatch]:
    delimiter = TEXT_DELIMITERS[path.suffix.lower()]
    first = _first_row(path, delimiter)
    header = layout == "header"
    width = len(first)
    label_index = _label_index(path, layout, label_column, first if header else None)
    value_columns = [column for column in range(1, width + 1) if column - 1 != label_index]
    if not value_columns:
        _fail(path, "no curve values: every row holds only a label")
    if delimiter is None:  # whitespace tables (the UCR archive's older .txt files) are small
        yield from _iter_whitespace(path, width, label_index, value_columns, batch_rows)
        return

    import pyarrow as pa
    import pyarrow.csv as pa_csv

    names = [f"c{column}" for column in range(1, width + 1)]
    types = {name: pa.float64() for name in names}
    if label_index is not None:
        types[names[label_index]] = pa.string()
    line = 2 if header else 1
    try:
        reader = pa_csv.open_csv(
            path,
            read_options=pa_csv.ReadOptions(
                column_names=names, skip_rows=1 if header else 0, block_size=1 << 22
            ),
            parse_options=pa_csv.ParseOptions(delimiter=delimiter),
            convert_options=pa_csv.ConvertOptions(column_types=types),
        )
        for record_batch in reader:
            for start in range(0, record_batch.num_rows, batch_rows):
                part = record_batch.slice(start, batch_rows)
                x = np.column_stack(
                    [
                        part.column(column - 1).to_numpy(zero_copy_only=False)
                        for column in value_columns
                    ]
                ).astype(np.float64, copy=False)
                labels = (
                    np.asarray(part.column(label_index).to_pylist(), dtype=object)
                    if label_index is not None
                    else None
                )
                yield CurveBatch(x, labels, line, "line", value_columns)
                line += part.num_rows
    except pa.ArrowInvalid as error:
        _locate_text_problem(path, delimiter, header, width)
        _text_value_error(path, delimiter, header, value_columns)
        _fail(path, f"cannot be read as a table of curves ({error})")


def _iter_whitespace(
    path: Path,
    width: int,
    label_index: int | None,
    value_columns: Sequence[int],
    batch_rows: int,
) -> Iterator[CurveBatch]:
    rows: list[list[float]] = []
    labels: list[str] = []
    first_line = 1
    with open(path) as handle:
        for number, line in enumerate(handle, 1):
            cells = line.split()
            if not cells:
                continue
            if len(cells) != width:
                _fail(path, f"{len(cells)} values, but the first row has {width}", number)
            values = []
            for column in value_columns:
                try:
                    values.append(float(cells[column - 1]))
                except ValueError:
                    _fail(path, f"{cells[column - 1]!r} is not a number", number, column)
            rows.append(values)
            if label_index is not None:
                labels.append(cells[label_index])
            if len(rows) == batch_rows:
                yield _whitespace_batch(path, rows, labels, label_index, value_columns, first_line)
                rows, labels, first_line = [], [], number + 1
    if rows:
        yield _whitespace_batch(path, rows, labels, label_index, value_columns, first_line)


def _whitespace_batch(
    path: Path,
    rows: list[list[float]],
    labels: list[str],
    label_index: int | None,
    value_columns: Sequence[int],
    first_line: int,
) -> CurveBatch:
    return CurveBatch(
        np.asarray(rows, dtype=np.float64),
        np.asarray(labels, dtype=object) if label_index is not None else None,
        first_line,
        "line",
        value_columns,
    )


def _label_index(
    path: Path, layout: Layout, label_column: str | None, names: Sequence[str] | None
) -> int | None:
    if layout == "unlabelled":
        return None
    if layout == "ucr":
        return 0
    if not label_column:
        _fail(path, "the header layout needs generate.files.label_column (or --label-column)")
    assert names is not None
    stripped = [name.strip() for name in names]
    if label_column not in stripped:
        shown = ", ".join(stripped[:12]) + (", ..." if len(stripped) > 12 else "")
        _fail(path, f"no column {label_column!r} in the header (columns: {shown})", 1)
    return stripped.index(label_column)


# Parquet and NumPy --------------------------------------------------------------------------


def _iter_parquet(
    path: Path, layout: Layout, label_column: str | None, batch_rows: int
) -> Iterator[CurveBatch]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        # pre_buffer=False: read one row group's pages at a time, not the whole file ahead.
        table_file = pq.ParquetFile(path, pre_buffer=False)
    except (pa.ArrowInvalid, OSError) as error:
        _fail(path, f"not a readable Parquet file ({error})")
    names = table_file.schema_arrow.names
    label_index = _label_index(path, layout, label_column, names)
    value_columns = [column for column in range(1, len(names) + 1) if column - 1 != label_index]
    if not value_columns:
        _fail(path, "no curve values: the only column is the label")
    for column in value_columns:
        kind = table_file.schema_arrow.field(column - 1).type
        if not (pa.types.is_integer(kind) or pa.types.is_floating(kind)):
            _fail(path, f"column {names[column - 1]!r} holds {kind}, not numbers", column=column)
    line = 1
    for record_batch in table_file.iter_batches(batch_size=batch_rows):
        x = np.column_stack(
            [
                record_batch.column(column - 1).to_numpy(zero_copy_only=False)
                for column in value_columns
            ]
        ).astype(np.float64, copy=False)
        labels = (
            np.asarray(record_batch.column(label_index).to_pylist(), dtype=object)
            if label_index is not None
            else None
        )
        yield CurveBatch(x, labels, line, "row", value_columns)
        line += record_batch.num_rows


def _numeric_array(path: Path, array: np.ndarray, name: str) -> np.ndarray:
    if array.dtype.kind not in "iuf":
        _fail(path, f"array {name!r} holds {array.dtype}, not numbers")
    return array


def _float_rows(rows: np.ndarray) -> np.ndarray:
    """Curves as floating point: float32 and float64 as they are, integers as float64."""
    return rows if rows.dtype.kind == "f" else rows.astype(np.float64)


def _iter_npy(path: Path, layout: Layout, batch_rows: int) -> Iterator[CurveBatch]:
    """Rows of a ``.npy`` read batch by batch from the file (not memory-mapped: mapped pages
    would count towards memory until the whole file had been touched)."""
    with open(path, "rb") as handle:
        try:
            version = np.lib.format.read_magic(handle)
            read_header = (
                np.lib.format.read_array_header_1_0
                if version == (1, 0)
                else np.lib.format.read_array_header_2_0
            )
            shape, fortran_order, dtype = read_header(handle)
        except ValueError as error:
            _fail(path, f"not a NumPy .npy file ({error})")
        if dtype.hasobject:
            _fail(path, "holds Python objects (a pickle), not numbers; save plain arrays")
        if len(shape) != 2:
            _fail(path, f"curves must be a 2-D array (curves x points), got shape {shape}")
        if dtype.kind not in "iuf":
            _fail(path, f"holds {dtype}, not numbers")
        if fortran_order:  # column-major: rows are not contiguous on disk
            whole = np.load(path, allow_pickle=False)
            chunks = (whole[start : start + batch_rows] for start in range(0, shape[0], batch_rows))
        else:
            chunks = (
                np.fromfile(
                    handle, dtype=dtype, count=min(batch_rows, shape[0] - start) * shape[1]
                ).reshape(-1, shape[1])
                for start in range(0, shape[0], batch_rows)
            )
        with_labels = layout == "ucr"
        first_column = 2 if with_labels else 1
        value_columns = list(range(first_column, first_column + shape[1] - with_labels))
        for start, rows in zip(range(0, shape[0], batch_rows), chunks, strict=True):
            labels, values = (rows[:, 0], rows[:, 1:]) if with_labels else (None, rows)
            yield CurveBatch(_float_rows(values), labels, start + 1, "row", value_columns)


def _iter_npz(path: Path, batch_rows: int) -> Iterator[CurveBatch]:
    try:
        with np.load(path, allow_pickle=False) as archive:
            if "x" not in archive.files:
                _fail(path, f"no array 'x' of curves (arrays: {', '.join(archive.files)})")
            x = archive["x"]
            labels = archive["y"] if "y" in archive.files else None
    except ValueError as error:  # pickled objects, a damaged file
        _fail(path, f"not a plain NumPy array file ({error})")
    if x.ndim != 2:
        _fail(path, f"curves must be a 2-D array (curves x points), got shape {x.shape}")
    _numeric_array(path, x, "x")
    if labels is not None and len(labels) != len(x):
        _fail(path, f"{len(labels)} labels for {len(x)} curves")
    value_columns = list(range(1, x.shape[1] + 1))
    for start in range(0, len(x), batch_rows):
        yield CurveBatch(
            _float_rows(x[start : start + batch_rows]),
            None if labels is None else np.asarray(labels[start : start + batch_rows]),
            start + 1,
            "row",
            value_columns,
        )


# Public API ---------------------------------------------------------------------------------


def input_file(name: str, inputs: str | Path, key: str) -> Path:
    """The data file ``name`` (a params value such as ``inputs/train.csv``), which must lie
    under the ``inputs`` folder: that folder is what DVC tracks as the pipeline's input, so a
    file elsewhere would not rerun anything when it changes."""
    path, folder = Path(name), Path(inputs)
    if not path.resolve().is_relative_to(folder.resolve()):
        raise CurveFileError(
            f"{key} is {name!r}: data files must lie under {folder}/ (DVC tracks that folder); "
            f"copy or `dvc add` the file there"
        )
    if not path.is_file():
        raise CurveFileError(f"{key} is {name!r}: no such file")
    return path


def iter_curve_batches(
    path: str | Path,
    layout: Layout = "ucr",
    label_column: str | None = None,
    batch_rows: int = DEFAULT_BATCH_ROWS,
) -> Iterator[CurveBatch]:
    """The curves of ``path`` in batches of at most ``batch_rows`` rows, each checked."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        _fail(path, f"unknown format {suffix or '(no suffix)'!r}; use one of {', '.join(SUFFIXES)}")
    if not path.is_file():
        _fail(path, "no such file")
    if suffix in TEXT_DELIMITERS:
        batches = _iter_text(path, layout, label_column, batch_rows)
    elif suffix == ".parquet":
        batches = _iter_parquet(path, layout, label_column, batch_rows)
    elif suffix == ".npy":
        batches = _iter_npy(path, layout, batch_rows)
    else:
        batches = _iter_npz(path, batch_rows)
    width = None
    for batch in batches:
        if width is not None and batch.x.shape[1] != width:  # cannot happen in one table
            _fail(path, f"curves of {batch.x.shape[1]} and {width} points", batch.first_line)
        width = batch.x.shape[1]
        yield _as_float32(path, batch)


@dataclass(frozen=True)
class CurveFile:
    """A whole curve file: curves as float32 and their raw labels (``None``: unlabelled)."""

    x: np.ndarray
    labels: np.ndarray | None


def read_curves(
    path: str | Path, layout: Layout = "ucr", label_column: str | None = None
) -> CurveFile:
    batches = list(iter_curve_batches(path, layout, label_column))
    if not batches or not sum(len(batch.x) for batch in batches):
        _fail(Path(path), "no curves: the file holds no rows")
    x = np.concatenate([batch.x for batch in batches])
    labels = [batch.labels for batch in batches if batch.labels is not None]
    return CurveFile(x, np.concatenate(labels) if labels else None)


def label_key(value: object) -> str:
    """A label as compared with ``normal_labels``: ``1``, ``1.0`` and ``"1"`` are one label,
    strings are compared stripped."""
    if isinstance(value, bytes):
        value = value.decode()
    text = str(value).strip()
    try:
        number = float(text)
    except ValueError:
        return text
    if math.isfinite(number) and number == int(number):
        return str(int(number))
    return repr(number)


def one_vs_rest(path: str | Path, curves: CurveFile, normal_labels: Sequence[object]) -> Dataset:
    """Curves labelled ``NORMAL`` where their label is one of ``normal_labels`` and
    ``ANOMALY`` otherwise (the usual protocol for classification archives); an unlabelled
    file is all normal."""
    if curves.labels is None:
        return Dataset(curves.x, np.full(len(curves.x), NORMAL, dtype=np.int64))
    keys = np.array([label_key(value) for value in curves.labels])
    normal = {label_key(value) for value in normal_labels}
    if not np.isin(keys, list(normal)).any():
        found = ", ".join(sorted(set(keys.tolist()))[:20])
        _fail(
            Path(path),
            f"none of the normal labels {sorted(normal)} occurs (labels found: {found}); "
            "set generate.files.normal_labels",
        )
    y = np.where(np.isin(keys, list(normal)), NORMAL, ANOMALY).astype(np.int64)
    return Dataset(curves.x, y)


def read_pool_and_validation(
    train: Path,
    validation: Path,
    layout: Layout,
    label_column: str | None,
    normal_labels: Sequence[object],
) -> tuple[Dataset, Dataset]:
    """The pool (``train``, which ``split`` divides) and the validation set, one-vs-rest
    labelled; both files must hold curves of the same length."""
    pool = one_vs_rest(train, read_curves(train, layout, label_column), normal_labels)
    checked = one_vs_rest(validation, read_curves(validation, layout, label_column), normal_labels)
    if pool.x.shape[1] != checked.x.shape[1]:
        _fail(
            validation,
            f"curves of {checked.x.shape[1]} points, but the training file {train} has "
            f"curves of {pool.x.shape[1]}",
        )
    return pool, checked
