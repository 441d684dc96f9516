"""Curves from text tables: ``.tsv`` (tab), ``.csv`` (comma or semicolon), ``.txt`` (any
whitespace), each optionally gzip-compressed (``.csv.gz``, ``.tsv.gz``, ``.txt.gz``).

Real exports vary, so the dialect is read from the first row rather than assumed:

- a ``.csv`` may be semicolon-delimited, with a decimal comma (as European spreadsheets write
  ``0,25;1,5``): the reading under which the first data row holds more numbers wins;
- a delimiter at the end of every row (an empty last cell) closes the row, it is not a missing
  value; a row that does put a value there is reported.

Tab and comma tables are parsed by pyarrow's CSV reader in blocks; when it fails, the file
is scanned in Python for the first ragged row or non-numeric cell, so the message names the
line and column. Whitespace tables (the UCR archive's older ``.txt`` files) are small and
read line by line.
"""

from __future__ import annotations

import csv
import gzip
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np

from ae_anomaly.data.curve_batches import CurveBatch, Layout, fail, find_label_column

TEXT_DELIMITERS = {".csv": ",", ".tsv": "\t", ".txt": None}  # None: any run of whitespace
COMPRESSED = ".gz"
TEXT_SUFFIXES = (*TEXT_DELIMITERS, *(suffix + COMPRESSED for suffix in TEXT_DELIMITERS))


def text_suffix(path: Path) -> str | None:
    """The table suffix of ``path`` (``.csv`` for ``data.csv.gz``), or ``None``."""
    suffixes = [suffix.lower() for suffix in path.suffixes]
    if suffixes and suffixes[-1] == COMPRESSED:
        suffixes.pop()
    return suffixes[-1] if suffixes and suffixes[-1] in TEXT_DELIMITERS else None


def _open(path: Path) -> IO[str]:
    if path.suffix.lower() == COMPRESSED:
        return gzip.open(path, "rt", newline="")
    return open(path, newline="")


def _split(line: str, delimiter: str | None) -> list[str]:
    if delimiter is None:
        return line.split()
    return next(csv.reader([line], delimiter=delimiter))


@dataclass(frozen=True)
class Dialect:
    """How one text table is written: its delimiter, decimal mark, and whether every row ends
    with a delimiter (one empty cell more than it holds values)."""

    delimiter: str | None
    decimal_point: str = "."
    trailing_delimiter: bool = False


def _first_lines(path: Path, count: int) -> list[str]:
    lines: list[str] = []
    try:
        with _open(path) as handle:
            for line in handle:
                if line.strip():
                    lines.append(line.rstrip("\r\n"))
                    if len(lines) == count:
                        break
    except (OSError, EOFError, UnicodeDecodeError) as error:
        fail(path, f"cannot be read as text ({error})")
    if not lines:
        fail(path, "no curves: the file is empty")
    return lines


def _numbers(cells: Sequence[str], decimal_point: str) -> int:
    count = 0
    for cell in cells:
        try:
            float(cell.strip().replace(decimal_point, "."))
        except ValueError:
            continue
        count += 1
    return count


def detect_dialect(path: Path, header: bool) -> tuple[Dialect, list[str]]:
    """The dialect of ``path`` and its first row's cells (without a trailing empty cell).

    A ``.csv`` is read with the delimiter (comma, or semicolon with a decimal point or comma)
    under which more cells of its first data row are numbers; a tie keeps the comma."""
    lines = _first_lines(path, 2)
    line = lines[0]
    delimiter = TEXT_DELIMITERS[text_suffix(path) or ""]
    decimal_point = "."
    if delimiter == "," and ";" in line:
        data = lines[1] if header and len(lines) > 1 else line
        comma = _numbers(_split(data, ","), ".")
        candidates = [(_numbers(_split(data, ";"), mark), mark) for mark in (".", ",")]
        numbers, mark = max(candidates, key=lambda candidate: candidate[0])
        if numbers > comma:
            delimiter, decimal_point = ";", mark
    cells = _split(line, delimiter)
    trailing = delimiter is not None and len(cells) > 1 and not cells[-1].strip()
    if trailing:
        cells = cells[:-1]
    if delimiter == "," and len(cells) == 1:
        seen = next((mark for mark in ("\t", "|", ":") if mark in line), None)
        if seen is not None:
            fail(
                path,
                f"the first row holds no comma but {seen!r}: a .csv file is comma- or "
                "semicolon-delimited; save it with one of those (or as .tsv for tabs)",
                1,
            )
    return Dialect(delimiter, decimal_point, trailing), cells


def _rows(handle: IO[str], dialect: Dialect) -> Iterator[list[str]]:
    if dialect.delimiter is None:
        return (line.split() for line in handle)
    return csv.reader(handle, delimiter=dialect.delimiter)


def _locate_text_problem(path: Path, dialect: Dialect, header: bool, width: int) -> None:
    """Scan the file in Python for the first ragged row, value after a trailing delimiter, or
    non-numeric cell and report it (only called once the fast reader has failed, so its cost
    does not matter)."""
    stored = width + dialect.trailing_delimiter
    with _open(path) as handle:
        for number, row in enumerate(_rows(handle, dialect), 1):
            if (header and number == 1) or not row:
                continue
            if len(row) != stored:
                shown = len(row) - dialect.trailing_delimiter
                fail(path, f"{shown} values, but the first row has {width}", number)
            if dialect.trailing_delimiter and row[-1].strip():
                fail(
                    path,
                    f"{row[-1].strip()!r} after the last delimiter, where the first row "
                    "ends with an empty cell",
                    number,
                    stored,
                )


def _text_value_error(
    path: Path, dialect: Dialect, header: bool, value_columns: Sequence[int]
) -> None:
    with _open(path) as handle:
        for number, row in enumerate(_rows(handle, dialect), 1):
            if (header and number == 1) or not row:
                continue
            for column in value_columns:
                cell = row[column - 1].strip()
                try:
                    float(cell.replace(dialect.decimal_point, ".", 1))
                except ValueError:
                    shown = repr(cell) if cell else "an empty cell"
                    fail(path, f"{shown} is not a number", number, column)


def iter_text(
    path: Path, layout: Layout, label_column: str | None, batch_rows: int
) -> Iterator[CurveBatch]:
    header = layout == "header"
    dialect, first = detect_dialect(path, header)
    width = len(first)
    label_index = find_label_column(path, layout, label_column, first if header else None)
    value_columns = [column for column in range(1, width + 1) if column - 1 != label_index]
    if not value_columns:
        fail(path, "no curve values: every row holds only a label")
    if dialect.delimiter is None:  # whitespace tables (the UCR archive's older .txt files)
        yield from _iter_whitespace(path, width, label_index, value_columns, batch_rows)
        return

    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pa_csv

    names = [f"c{column}" for column in range(1, width + 1 + dialect.trailing_delimiter)]
    types = {name: pa.float64() for name in names}
    if label_index is not None:
        types[names[label_index]] = pa.string()
    if dialect.trailing_delimiter:
        types[names[-1]] = pa.string()
    line = 2 if header else 1
    try:
        reader = pa_csv.open_csv(
            path,
            read_options=pa_csv.ReadOptions(
                column_names=names, skip_rows=1 if header else 0, block_size=1 << 22
            ),
            parse_options=pa_csv.ParseOptions(delimiter=dialect.delimiter),
            convert_options=pa_csv.ConvertOptions(
                column_types=types, decimal_point=dialect.decimal_point
            ),
        )
        for record_batch in reader:
            if dialect.trailing_delimiter:
                last = record_batch.column(width)
                if pc.any(pc.not_equal(last, "")).as_py():
                    raise pa.ArrowInvalid("a value after the trailing delimiter")
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
        _locate_text_problem(path, dialect, header, width)
        _text_value_error(path, dialect, header, value_columns)
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
    with _open(path) as handle:
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
