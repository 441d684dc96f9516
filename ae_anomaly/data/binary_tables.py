"""Curves from typed files: Parquet tables (one row group at a time; one numeric column per
point, or one array column holding each curve, as Spark and data lakes write them), ``.npy``
arrays (read batch by batch from the file) and ``.npz`` archives of ``x`` and optional
``y``."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from ae_anomaly.data.curve_batches import CurveBatch, Layout, fail, find_label_column


def iter_parquet(
    path: Path, layout: Layout, label_column: str | None, batch_rows: int
) -> Iterator[CurveBatch]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        # pre_buffer=False: read one row group's pages at a time, not the whole file ahead.
        table_file = pq.ParquetFile(path, pre_buffer=False)
    except (pa.ArrowInvalid, OSError) as error:
        fail(path, f"not a readable Parquet file ({error})")
    names = table_file.schema_arrow.names
    label_index = find_label_column(path, layout, label_column, names)
    value_columns = [column for column in range(1, len(names) + 1) if column - 1 != label_index]
    if not value_columns:
        fail(path, "no curve values: the only column is the label")
    kinds = [table_file.schema_arrow.field(column - 1).type for column in value_columns]
    array_column = len(value_columns) == 1 and _is_list(kinds[0])
    for column, kind in zip(value_columns, kinds, strict=True):
        if array_column:
            if not _is_number(kind.value_type):
                fail(path, f"column {names[column - 1]!r} holds {kind}, not numbers", column=column)
        elif _is_list(kind):
            fail(
                path,
                f"column {names[column - 1]!r} holds {kind}: the curves are either one array "
                "column (beside the label) or one numeric column per point",
                column=column,
            )
        elif not _is_number(kind):
            fail(path, f"column {names[column - 1]!r} holds {kind}, not numbers", column=column)
    line = 1
    for record_batch in table_file.iter_batches(batch_size=batch_rows):
        columns: Sequence[int] = value_columns
        if array_column:
            x = _array_rows(path, record_batch.column(value_columns[0] - 1), line)
            columns = value_columns * x.shape[1]  # every point lies in the one array column
        else:
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
        yield CurveBatch(x, labels, line, "row", columns)
        line += record_batch.num_rows


def _is_number(kind: object) -> bool:
    import pyarrow as pa

    return bool(pa.types.is_integer(kind) or pa.types.is_floating(kind))


def _is_list(kind: object) -> bool:
    import pyarrow as pa

    return bool(
        pa.types.is_list(kind) or pa.types.is_large_list(kind) or pa.types.is_fixed_size_list(kind)
    )


def _array_rows(path: Path, curves: object, first_row: int) -> np.ndarray:
    """An array column's curves as a (rows, points) float64 array; every curve must be
    there and of one length. The file column of every point is the array column's."""
    import pyarrow as pa

    assert isinstance(curves, (pa.ListArray, pa.LargeListArray, pa.FixedSizeListArray))
    if curves.null_count:
        row = int(np.flatnonzero(curves.is_null().to_numpy(zero_copy_only=False))[0])
        fail(path, "the curve is null", first_row + row, unit="row")
    lengths = curves.value_lengths().to_numpy(zero_copy_only=False)
    if len(lengths) and (lengths != lengths[0]).any():
        row = int(np.flatnonzero(lengths != lengths[0])[0])
        fail(
            path,
            f"a curve of {lengths[row]} points where the first has {lengths[0]}",
            first_row + row,
            unit="row",
        )
    width = int(lengths[0]) if len(lengths) else 0
    values = curves.flatten().to_numpy(zero_copy_only=False).astype(np.float64, copy=False)
    return values.reshape(len(curves), width)


def _numeric_array(path: Path, array: np.ndarray, name: str) -> np.ndarray:
    if array.dtype.kind not in "iuf":
        fail(path, f"array {name!r} holds {array.dtype}, not numbers")
    return array


def _float_rows(rows: np.ndarray) -> np.ndarray:
    """Curves as floating point: float32 and float64 as they are, integers as float64."""
    return rows if rows.dtype.kind == "f" else rows.astype(np.float64)


def iter_npy(path: Path, layout: Layout, batch_rows: int) -> Iterator[CurveBatch]:
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
            fail(path, f"not a NumPy .npy file ({error})")
        if dtype.hasobject:
            fail(path, "holds Python objects (a pickle), not numbers; save plain arrays")
        if len(shape) != 2:
            fail(path, f"curves must be a 2-D array (curves x points), got shape {shape}")
        if dtype.kind not in "iuf":
            fail(path, f"holds {dtype}, not numbers")
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


def iter_npz(path: Path, batch_rows: int) -> Iterator[CurveBatch]:
    try:
        with np.load(path, allow_pickle=False) as archive:
            if "x" not in archive.files:
                fail(path, f"no array 'x' of curves (arrays: {', '.join(archive.files)})")
            x = archive["x"]
            labels = archive["y"] if "y" in archive.files else None
    except ValueError as error:  # pickled objects, a damaged file
        fail(path, f"not a plain NumPy array file ({error})")
    if x.ndim != 2:
        fail(path, f"curves must be a 2-D array (curves x points), got shape {x.shape}")
    _numeric_array(path, x, "x")
    if labels is not None and len(labels) != len(x):
        fail(path, f"{len(labels)} labels for {len(x)} curves")
    value_columns = list(range(1, x.shape[1] + 1))
    for start in range(0, len(x), batch_rows):
        yield CurveBatch(
            _float_rows(x[start : start + batch_rows]),
            None if labels is None else np.asarray(labels[start : start + batch_rows]),
            start + 1,
            "row",
            value_columns,
        )
