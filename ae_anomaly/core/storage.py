"""Byte-reproducible files: arrays, datasets, predictions, JSON and small CSV tables.

``np.savez`` stamps the current time into its zip entries, so two identical runs would give
different md5s in ``dvc.lock``; :func:`save_arrays` writes the same ``.npz`` layout with a
fixed timestamp instead, and ``np.load`` reads it as usual. Nothing here unpickles.

Every file is written whole or not at all (:func:`atomic_output`): a stage stopped by Ctrl-C,
a kill or a full disk leaves no half-written file under an output's name. A file that is
damaged all the same (truncated by a crash elsewhere, edited by hand) is reported by
:class:`DamagedFileError`, naming it and the DVC command that restores it.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import zipfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ae_anomaly.core.types import Dataset, ModelOutput, NotFitted, Predictions, ReportedError

_FIXED_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
_NOT_FITTED_SUFFIX = ".not_fitted"


class DamagedFileError(ReportedError):
    """A pipeline file that exists but cannot be read: truncated, or not what it should be."""


class MissingFileError(ReportedError):
    """A pipeline file that is not there."""


def unreadable_file(path: str | Path, error: BaseException) -> ReportedError:
    """The error to raise when reading ``path`` failed with ``error``: what happened and the
    DVC command that brings the file back (from the cache, or by rerunning its stage)."""
    if isinstance(error, FileNotFoundError):
        return MissingFileError(
            f"{path} does not exist. Run `dvc repro` to build it (or `dvc pull` to fetch it "
            "from the DVC remote)."
        )
    return DamagedFileError(
        f"{path} is damaged or incomplete ({type(error).__name__}: {error}). Restore it with "
        f"`dvc checkout --force {path}`, or run `dvc repro`, which rebuilds it."
    )


@contextlib.contextmanager
def atomic_output(path: str | Path) -> Iterator[Path]:
    """A temporary path beside ``path`` to write to; it becomes ``path`` (one rename) only
    when the block completes, and is removed if anything fails or interrupts it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # The temporary file keeps the final name, in a folder of its own: some writers embed the
    # file's name in its bytes (torch.save names its zip records after it).
    staging = path.with_name(f".{path.name}.partial-{os.getpid()}")
    staging.mkdir(exist_ok=True)
    partial = staging / path.name
    try:
        yield partial
        os.replace(partial, path)
    except OSError as error:
        if error.filename in (None, str(partial)):
            error.filename = str(path)  # the file the user knows, not the temporary one
        raise
    finally:
        partial.unlink(missing_ok=True)
        staging.rmdir()


def save_text(path: str | Path, text: str) -> None:
    with atomic_output(path) as partial:
        partial.write_text(text)


def save_arrays(path: str | Path, arrays: Mapping[str, np.ndarray]) -> None:
    """Write ``arrays`` as an ``.npz`` whose bytes depend only on the arrays."""
    with (
        atomic_output(path) as partial,
        zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_STORED) as archive,
    ):
        for name in sorted(arrays):
            buffer = io.BytesIO()
            array = np.asarray(arrays[name], order="C")  # keeps 0-d arrays 0-d
            np.lib.format.write_array(buffer, array, allow_pickle=False)
            archive.writestr(
                zipfile.ZipInfo(f"{name}.npy", date_time=_FIXED_ZIP_TIME), buffer.getvalue()
            )


def load_arrays(path: str | Path) -> dict[str, np.ndarray]:
    """Read every array of an ``.npz`` into memory (no pickles)."""
    try:
        with np.load(Path(path), allow_pickle=False) as archive:
            return {name: archive[name] for name in archive.files}
    except (OSError, EOFError, ValueError, zipfile.BadZipFile) as error:
        raise unreadable_file(path, error) from None


def save_dataset(path: str | Path, dataset: Dataset) -> None:
    arrays = {"x": dataset.x, "y": dataset.y}
    if dataset.has_truth:
        arrays |= {"anomaly_centre": dataset.anomaly_centre, "anomaly_sigma": dataset.anomaly_sigma}
    save_arrays(path, arrays)


def load_dataset(path: str | Path) -> Dataset:
    arrays = load_arrays(path)
    missing = {"x", "y"} - arrays.keys()
    if missing:
        raise DamagedFileError(
            f"{path}: not a dataset file, missing arrays {sorted(missing)}. Restore it with "
            f"`dvc checkout --force {path}`, or run `dvc repro`."
        )
    return Dataset(
        arrays["x"], arrays["y"], arrays.get("anomaly_centre"), arrays.get("anomaly_sigma")
    )


def save_json(path: str | Path, payload: Any) -> None:
    save_text(path, json.dumps(payload, indent=2, sort_keys=False) + "\n")


def load_json(path: str | Path) -> Any:
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError) as error:
        raise unreadable_file(path, error) from None


def save_predictions(path: str | Path, predictions: Mapping[str, ModelOutput]) -> None:
    """One file for several models: arrays ``<model>.score`` and ``<model>.label``, or a
    ``<model>.not_fitted`` string holding the reason a model could not be fitted."""
    arrays: dict[str, np.ndarray] = {}
    for model, output in predictions.items():
        if isinstance(output, NotFitted):
            arrays[f"{model}{_NOT_FITTED_SUFFIX}"] = np.array(output.reason)
        else:
            arrays[f"{model}.score"] = np.asarray(output.score, dtype=np.float64)
            arrays[f"{model}.label"] = np.asarray(output.label, dtype=np.int64)
    save_arrays(path, arrays)


def load_predictions(path: str | Path) -> dict[str, ModelOutput]:
    arrays = load_arrays(path)
    outputs: dict[str, ModelOutput] = {}
    for model in sorted({name.rsplit(".", 1)[0] for name in arrays}):
        reason = arrays.get(f"{model}{_NOT_FITTED_SUFFIX}")
        if reason is not None:
            outputs[model] = NotFitted(str(reason.reshape(-1)[0]))
        else:
            outputs[model] = Predictions(arrays[f"{model}.score"], arrays[f"{model}.label"])
    return outputs


def save_columns(path: str | Path, columns: Mapping[str, Any]) -> None:
    """A small numeric CSV (header + one row per index), the format DVC plots read."""
    values = [np.asarray(column, dtype=np.float64) for column in columns.values()]
    if len({len(column) for column in values}) > 1:
        raise ValueError(f"columns of different lengths: {[len(column) for column in values]}")
    with atomic_output(path) as partial:
        _write_csv(partial, columns, values)


def _write_csv(path: Path, columns: Mapping[str, Any], values: list[np.ndarray]) -> None:
    np.savetxt(
        path,
        np.column_stack(values),
        fmt="%.10g",
        delimiter=",",
        header=",".join(columns),
        comments="",
    )


def load_columns(path: str | Path) -> dict[str, np.ndarray]:
    """Read a CSV written by :func:`save_columns` back into named columns."""
    try:
        table = np.genfromtxt(Path(path), delimiter=",", names=True, ndmin=1)
    except (OSError, ValueError) as error:
        raise unreadable_file(path, error) from None
    return {name: np.asarray(table[name]) for name in table.dtype.names or ()}
