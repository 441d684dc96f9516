"""Reading users' curve files: one curve per row, with or without a label per curve.

Formats, chosen by the file's suffix:

- ``.tsv`` / ``.csv`` / ``.txt``: text tables (tab, comma or semicolon, whitespace
  separated), also gzip-compressed (``.csv.gz``);
- ``.parquet``: the same tables, typed;
- ``.npy``: a 2-D array; ``.npz``: arrays ``x`` (curves) and optionally ``y`` (labels).

Layouts and errors: :mod:`ae_anomaly.data.curve_batches`; each format's reader lives in a
module of its own (:mod:`~ae_anomaly.data.text_tables`, :mod:`~ae_anomaly.data.binary_tables`);
labels: :mod:`ae_anomaly.data.labels`. Every problem is reported before anything is written.
Files are read in batches (:func:`iter_curve_batches`), so scoring a file larger than memory
works; the pipeline reads its (small) files whole with :func:`read_curves`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from ae_anomaly.core.types import Dataset
from ae_anomaly.data.binary_tables import iter_npy, iter_npz, iter_parquet
from ae_anomaly.data.curve_batches import (
    CurveBatch,
    CurveFile,
    CurveFileError,
    Layout,
    as_float32,
    fail,
)
from ae_anomaly.data.labels import one_vs_rest
from ae_anomaly.data.text_tables import TEXT_SUFFIXES, iter_text, text_suffix

SUFFIXES = (*TEXT_SUFFIXES, ".parquet", ".npy", ".npz")


DEFAULT_BATCH_ROWS = 65_536


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
    suffix, text = path.suffix.lower(), text_suffix(path) is not None
    if not text and suffix not in SUFFIXES:
        fail(path, f"unknown format {suffix or '(no suffix)'!r}; use one of {', '.join(SUFFIXES)}")
    if not path.is_file():
        fail(path, "no such file")
    if text:
        batches = iter_text(path, layout, label_column, batch_rows)
    elif suffix == ".parquet":
        batches = iter_parquet(path, layout, label_column, batch_rows)
    elif suffix == ".npy":
        batches = iter_npy(path, layout, batch_rows)
    else:
        batches = iter_npz(path, batch_rows)
    width = None
    for batch in batches:
        if width is not None and batch.x.shape[1] != width:  # cannot happen in one table
            fail(path, f"curves of {batch.x.shape[1]} and {width} points", batch.first_line)
        width = batch.x.shape[1]
        yield as_float32(path, batch)


def read_curves(
    path: str | Path, layout: Layout = "ucr", label_column: str | None = None
) -> CurveFile:
    batches = list(iter_curve_batches(path, layout, label_column))
    if not batches or not sum(len(batch.x) for batch in batches):
        fail(Path(path), "no curves: the file holds no rows")
    x = np.concatenate([batch.x for batch in batches])
    labels = [batch.labels for batch in batches if batch.labels is not None]
    return CurveFile(x, np.concatenate(labels) if labels else None)


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
        fail(
            validation,
            f"curves of {checked.x.shape[1]} points, but the training file {train} has "
            f"curves of {pool.x.shape[1]}",
        )
    return pool, checked
