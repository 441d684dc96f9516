"""The pool and the validation set as MLflow dataset inputs (``mlflow.log_input``), so the run
page and the runs list show which data a run used, and two runs on the same data carry the
same digest.

Each dataset is logged by its metadata, not its contents: the name (``pool``,
``validation``), the digest (the md5 of the pipeline's ``.npz``, the same md5 ``dvc.lock``
records for it), the source (the synthetic generator and its params, or the user's file with
its own md5) and the schema (``x``: float32 curves of the data's length, ``y``: 0/1 labels).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

#: MLflow's contexts: what the pool is for, and where the reported figures come from.
POOL_CONTEXT = "training"
VALIDATION_CONTEXT = "evaluation"


@dataclass(frozen=True)
class DatasetRecord:
    """What a run says about one data set; :func:`log_datasets` turns it into MLflow's."""

    name: str
    context: str
    digest: str
    curves: int
    curve_length: int
    #: ``synthetic`` (the article's generator) or the user's file it was read from.
    source: str
    source_tags: dict[str, str] = field(default_factory=dict)


def file_md5(path: Path) -> str:
    """The md5 DVC records for a file (``dvc.lock``'s ``md5``)."""
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _shape(path: Path) -> tuple[int, int]:
    with np.load(path) as arrays:
        shape = arrays["x"].shape
    return int(shape[0]), int(shape[1])


def describe_datasets(
    pool: Path, validation: Path, params: Mapping[str, object]
) -> list[DatasetRecord]:
    """The pool and validation ``.npz`` of this run, with where their curves came from
    (``params`` dotted, as :func:`ae_anomaly.core.params.flatten` gives them)."""
    records = []
    for name, context, path, file_key in (
        ("pool", POOL_CONTEXT, pool, "generate.files.train"),
        ("validation", VALIDATION_CONTEXT, validation, "generate.files.validation"),
    ):
        curves, length = _shape(path)
        if params["generate.source"] == "files":
            user_file = Path(str(params[file_key]))
            source = str(user_file)
            tags = {"source_md5": file_md5(user_file) if user_file.is_file() else "missing"}
        else:
            source = "synthetic"
            generator = {
                key.removeprefix("generate.synthetic."): value
                for key, value in params.items()
                if key.startswith("generate.synthetic.")
            }
            tags = {
                "generator": "ae_anomaly.data.synthetic",
                "params": json.dumps({**generator, "seed": params["base.seed"]}),
            }
        records.append(DatasetRecord(name, context, file_md5(path), curves, length, source, tags))
    return records


def log_datasets(records: list[DatasetRecord]) -> None:
    """Log every record as an input of the active MLflow run."""
    import mlflow
    from mlflow.data.code_dataset_source import CodeDatasetSource
    from mlflow.data.meta_dataset import MetaDataset
    from mlflow.types import Schema, TensorSpec

    for record in records:
        schema = Schema(
            [
                TensorSpec(np.dtype(np.float32), (-1, record.curve_length), "x"),
                TensorSpec(np.dtype(np.int64), (-1,), "y"),
            ]
        )
        source = CodeDatasetSource({"source": record.source, **record.source_tags})
        dataset = MetaDataset(source, name=record.name, digest=record.digest, schema=schema)
        mlflow.log_input(
            dataset,
            context=record.context,
            tags={"curves": str(record.curves), "md5": record.digest},
        )
