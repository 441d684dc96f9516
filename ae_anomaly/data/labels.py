"""Labels of users' files as the pipeline's: one-vs-rest, with the normal labels named."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ae_anomaly.core.types import ANOMALY, NORMAL, Dataset
from ae_anomaly.data.curve_batches import CurveFile, fail


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
        fail(
            Path(path),
            f"none of the normal labels {sorted(normal)} occurs (labels found: {found}); "
            "set generate.files.normal_labels",
        )
    y = np.where(np.isin(keys, list(normal)), NORMAL, ANOMALY).astype(np.int64)
    return Dataset(curves.x, y)
