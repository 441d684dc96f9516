"""Curves from text tables: ``.tsv`` (tab), ``.csv`` (comma), ``.txt`` (any whitespace).

Tab and comma tables are parsed by pyarrow's CSV reader in blocks; when it fails, the file
is scanned in Python for the first ragged row or non-numeric cell, so the message names the
line and column. Whitespace tables (the UCR archive's older ``.txt`` files) are small and
read line by line.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from ae_anomaly.data.curve_batches import CurveBatch, Layout, fail, find_label_column

TEXT_DELIMITERS = {".csv": ",", ".tsv": "\t", ".txt": None}  # None: any run of whitespace


def _first_row(path: Path, delimiter: str | None) -> list[str]:
    with open(path, newline="") as handle:
        for line in handle:
            if line.strip():
                if delimiter is None:
                    return line.split()
                return next(csv.reader([line], delimiter=delimiter))
    fail(path, "no curves: the file is empty")


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
                fail(path, f"{len(row)} values, but the first row has {width}", number)


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
                    fail(path, f"{shown} is not a number", number, column)


def iter_text(
    path: Path, layout: Layout, label_column: str | None, batch_rows: int
) -> Iterator[CurveBatch]:
    delimiter = TEXT_DELIMITERS[path.suffix.lower()]
    first = _first_row(path, delimiter)
    header = layout == "header"
    width = len(first)
    label_index = find_label_column(path, layout, label_column, first if header else None)
    value_columns = [column for column in range(1, width + 1) if column - 1 != label_index]
    if not value_columns:
        fail(path, "no curve values: every row holds only a label")
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
        fail(path, f"cannot be read as a table of curves ({error})")


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
                fail(path, f"{len(cells)} values, but the first row has {width}", number)
            values = []
            for column in value_columns:
                try:
                    values.append(float(cells[column - 1]))
                except ValueError:
                    fail(path, f"{cells[column - 1]!r} is not a number", number, column)
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
