"""The pool and validation set as the run's MLflow dataset inputs."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from mlflow import MlflowClient

from ae_anomaly.core.params import flatten, load_params
from ae_anomaly.tracking.datasets import describe_datasets
from ae_anomaly.tracking.runs import PipelineRecord, pipeline_run


def _npz(path: Path, rows: int, length: int) -> Path:
    rng = np.random.default_rng(rows)
    np.savez(path, x=rng.normal(size=(rows, length)).astype(np.float32), y=np.zeros(rows))
    return path


@pytest.fixture
def data(tmp_path: Path) -> tuple[Path, Path]:
    return _npz(tmp_path / "pool.npz", 12, 8), _npz(tmp_path / "validation.npz", 5, 8)


def test_synthetic_data_is_described_by_its_generator_and_md5(data):
    pool, validation = data
    params = flatten(load_params("params.yaml"))
    records = describe_datasets(pool, validation, params)
    assert [(r.name, r.context, r.curves, r.curve_length) for r in records] == [
        ("pool", "training", 12, 8),
        ("validation", "evaluation", 5, 8),
    ]
    assert records[0].digest == hashlib.md5(pool.read_bytes()).hexdigest()
    generator = json.loads(records[0].source_tags["params"])
    assert generator["pool_normal"] == 2000 and generator["seed"] == params["base.seed"]
    assert records[0].source == "synthetic"


def test_users_files_are_named_with_their_own_md5(data, tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("inputs").mkdir()
    Path("inputs/train.tsv").write_text("1\t0.5\n")
    params = {
        **flatten(load_params(Path(__file__).parents[2] / "params.yaml")),
        "generate.source": "files",
        "generate.files.train": "inputs/train.tsv",
        "generate.files.validation": "inputs/gone.tsv",
    }
    pool, validation = describe_datasets(*data, params)
    assert pool.source == "inputs/train.tsv"
    assert pool.source_tags["source_md5"] == hashlib.md5(b"1\t0.5\n").hexdigest()
    assert validation.source_tags["source_md5"] == "missing"


def test_two_runs_on_the_same_data_log_the_same_dataset(data, tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("DVC_ROOT", raising=False)
    records = describe_datasets(*data, flatten(load_params("params.yaml")))
    record = PipelineRecord(
        params={"a": 1}, metrics={}, train_loss=[], holdout_loss=[], datasets=records
    )
    run_ids = []
    for _ in range(2):
        with pipeline_run(record, "datasets", tmp_path) as run:
            run_ids.append(run.run_id)
    client = MlflowClient(f"sqlite:///{tmp_path}/mlflow.db")
    logged = [client.get_run(run_id).inputs.dataset_inputs for run_id in run_ids]
    for inputs in logged:
        by_name = {i.dataset.name: i for i in inputs}
        assert set(by_name) == {"pool", "validation"}
        assert by_name["pool"].dataset.digest == records[0].digest
        assert {t.key: t.value for t in by_name["pool"].tags}["mlflow.data.context"] == "training"
        assert '"x"' in by_name["pool"].dataset.schema
    assert [i.dataset.digest for i in logged[0]] == [i.dataset.digest for i in logged[1]]
