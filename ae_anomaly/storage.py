"""Byte-reproducible files: arrays, datasets, predictions, JSON and small CSV tables.

``np.savez`` stamps the current time into its zip entries, so two identical runs would give
different md5s in ``dvc.lock``; :func:`save_arrays` writes the same ``.npz`` layout with a
fixed timestamp instead, and ``np.load`` reads it as usual. Nothing here unpickles.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ae_anomaly.types import Dataset, ModelOutput, NotFitted, Predictions

_FIXED_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
_NOT_FITTED_SUFFIX = ".not_fitted"


def save_arrays(path: str | Path, arrays: Mapping[str, np.ndarray]) -> None:
    """Write ``arrays`` as an ``.npz`` whose bytes depend only on the arrays."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
        for name in sorted(arrays):
            buffer = io.BytesIO()
            array = np.asarray(arrays[name], order="C")  # keeps 0-d arrays 0-d
            np.lib.format.write_array(buffer, array, allow_pickle=False)
            archive.writestr(
                zipfile.ZipInfo(f"{name}.npy", date_time=_FIXED_ZIP_TIME), buffer.getvalue()
            )


def load_arrays(path: str | Path) -> dict[str, np.ndarray]:
    """Read every array of an ``.npz`` into memory (no pickles)."""
    with np.load(Path(path), allow_pickle=False) as archive:
        return {name: archive[name] for name in archive.files}


def save_dataset(path: str | Path, dataset: Dataset) -> None:
    save_arrays(path, {"x": dataset.x, "y": dataset.y})


def load_dataset(path: str | Path) -> Dataset:
    arrays = load_arrays(path)
    missing = {"x", "y"} - arrays.keys()
    if missing:
        raise ValueError(f"{path}: not a dataset file, missing arrays {sorted(missing)}")
    return Dataset(arrays["x"], arrays["y"])


def save_json(path: str | Path, payload: Any) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2, sort_keys=False) + "\n")


def load_json(path: str | Path) -> Any:
    return json.loads(Path(path).read_text())


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
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    values = [np.asarray(column, dtype=np.float64) for column in columns.values()]
    if len({len(column) for column in values}) > 1:
        raise ValueError(f"columns of different lengths: {[len(column) for column in values]}")
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
    table = np.genfromtxt(Path(path), delimiter=",", names=True, ndmin=1)
    return {name: np.asarray(table[name]) for name in table.dtype.names or ()}
