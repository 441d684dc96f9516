"""The MLflow module against a temporary SQLite store (no pipeline needed)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import sqlite3
import subprocess
import time
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient

from ae_anomaly.deploy.detector import CurveDetector
from ae_anomaly.deploy.folder import folder_digest
from ae_anomaly.tracking.datasets import DatasetRecord
from ae_anomaly.tracking.provenance import run_tags
from ae_anomaly.tracking.registry import REGISTERED_MODEL, download_detector
from ae_anomaly.tracking.runs import PipelineRecord, pipeline_run
from ae_anomaly.tracking.store import (
    TrackingUnavailableError,
    check_reachable,
    open_store,
    repository_root,
    tracking_uri,
)


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("DVC_ROOT", raising=False)
    return tmp_path


def _record(tmp_path: Path, **overrides) -> PipelineRecord:
    boxplots = tmp_path / "boxplots"
    boxplots.mkdir(exist_ok=True)
    for epoch in (1, 2, 3):
        (boxplots / f"epoch_{epoch:03d}.png").write_bytes(b"png")
    fields = {
        "params": {"train_ae.epochs": 3, "histogram_forest.range": None},
        "metrics": {
            "histogram_forest": {"f1_anomaly": 0.9, "roc_auc": 0.99},
            "random_forest": {"status": "not fitted", "reason": "no anomaly labels"},
        },
        "train_loss": [0.3, 0.2, 0.1],
        "holdout_loss": [0.35, 0.25, 0.15],
        "train_summary": {"best_epoch": 3, "device": "cpu"},
        "boxplot_dir": boxplots,
        "tags": {"dvc.exp_name": "exp-1"},
    }
    return PipelineRecord(**(fields | overrides))


def log_pipeline_run(record: PipelineRecord, experiment: str, root: Path) -> str:
    with pipeline_run(record, experiment, root) as run:
        return run.run_id


def test_one_complete_finished_run(store: Path):
    run_id = log_pipeline_run(_record(store), "unit", store)
    client = MlflowClient(tracking_uri(store))
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED"
    assert run.data.params["train_ae.epochs"] == "3"
    assert run.data.params["histogram_forest.range"] == "null"
    assert run.data.metrics["histogram_forest.f1_anomaly"] == 0.9
    assert run.data.metrics["train_ae.best_epoch"] == 3
    history = client.get_metric_history(run_id, "train_ae.holdout_loss")
    assert [(m.step, m.value) for m in history] == [(1, 0.35), (2, 0.25), (3, 0.15)]
    assert run.data.tags["dvc.exp_name"] == "exp-1"
    assert run.data.tags["random_forest.status"] == "not fitted"
    assert not any(key.startswith("random_forest.") for key in run.data.metrics)
    boxplots = [a.path for a in client.list_artifacts(run_id, "boxplots")]
    assert boxplots == [
        "boxplots/epoch_001.png",
        "boxplots/epoch_002.png",
        "boxplots/epoch_003.png",
    ]
    assert (store / "mlflow.db").is_file() and (store / "mlartifacts").is_dir()


def test_a_failure_while_logging_ends_the_run_failed(store: Path):
    record = _record(store, figure_paths=[store / "missing.png"])
    with pytest.raises(Exception, match=r"missing\.png"):
        log_pipeline_run(record, "unit", store)
    runs = MlflowClient(tracking_uri(store)).search_runs(
        [mlflow.get_experiment_by_name("unit").experiment_id]
    )
    assert [run.info.status for run in runs] == ["FAILED"]


def test_figures_logged_after_the_record_land_in_the_same_run(store: Path):
    figure = store / "roc_pr.png"
    figure.write_bytes(b"png")
    with pipeline_run(_record(store), "unit", store) as run:
        run.log_figures([figure])
    client = MlflowClient(tracking_uri(store))
    assert [a.path for a in client.list_artifacts(run.run_id, "figures")] == ["figures/roc_pr.png"]
    assert client.get_run(run.run_id).info.status == "FINISHED"


def test_a_failure_after_the_record_ends_the_run_failed(store: Path):
    with (
        pytest.raises(RuntimeError, match="figure rendering failed"),
        pipeline_run(_record(store), "unit", store),
    ):
        raise RuntimeError("figure rendering failed")
    runs = MlflowClient(tracking_uri(store)).search_runs(
        [mlflow.get_experiment_by_name("unit").experiment_id]
    )
    assert [run.info.status for run in runs] == ["FAILED"]


def test_ctrl_c_ends_the_run_killed(store: Path):
    with pytest.raises(KeyboardInterrupt), pipeline_run(_record(store), "unit", store):
        raise KeyboardInterrupt
    runs = MlflowClient(tracking_uri(store)).search_runs(
        [mlflow.get_experiment_by_name("unit").experiment_id]
    )
    assert [run.info.status for run in runs] == ["KILLED"]


@pytest.mark.parametrize("while_handling", [False, True], ids=["in-a-write", "in-a-rollback"])
def test_ctrl_c_inside_a_store_write_still_ends_the_run_killed_at_once(
    store: Path, while_handling: bool
):
    """Ctrl-C can land while a write holds SQLite's lock; the frames it interrupted keep
    that connection open, and marking the run would wait out MLflow's 20 s busy timeout.
    Landing in an ``except`` block (a rollback after a failed write), it chains the error
    being handled, whose frames hold the connection."""
    database = tracking_uri(store).removeprefix("sqlite:///")

    def failed_write() -> None:
        connection = sqlite3.connect(database)  # held by this frame only
        connection.execute("BEGIN IMMEDIATE")  # the write lock, as a write in flight holds it
        raise sqlite3.OperationalError("a write that failed")

    def interrupted_write() -> None:
        if not while_handling:
            connection = sqlite3.connect(database)  # held by this frame only
            connection.execute("BEGIN IMMEDIATE")
            raise KeyboardInterrupt
        try:
            failed_write()
        except sqlite3.OperationalError:
            raise KeyboardInterrupt from None

    with pytest.raises(KeyboardInterrupt), pipeline_run(_record(store), "unit", store):
        started = time.monotonic()
        interrupted_write()
    assert time.monotonic() - started < 5
    runs = MlflowClient(tracking_uri(store)).search_runs(
        [mlflow.get_experiment_by_name("unit").experiment_id]
    )
    assert [run.info.status for run in runs] == ["KILLED"]


def _abandoned_run(store: Path, pid: int, started: str) -> str:
    """A RUNNING run as a killed process leaves it: its owner tags, never ended."""
    client = MlflowClient(tracking_uri(store))
    experiment_id = client.get_experiment_by_name("unit").experiment_id
    tags = {
        "ae_anomaly.host": socket.gethostname(),
        "ae_anomaly.pid": str(pid),
        "ae_anomaly.pid_started": started,
    }
    return client.create_run(experiment_id, tags=tags).info.run_id


def test_the_next_execution_closes_a_run_whose_process_died(store: Path):
    import psutil

    log_pipeline_run(_record(store), "unit", store)
    finished = subprocess.Popen(["true"])
    started = repr(psutil.Process(finished.pid).create_time())
    finished.wait()
    dead = _abandoned_run(store, finished.pid, started)
    recycled = _abandoned_run(store, os.getpid(), "12.5")  # same pid, another start time
    alive = _abandoned_run(store, os.getpid(), repr(psutil.Process().create_time()))

    new = log_pipeline_run(_record(store), "unit", store)

    client = MlflowClient(tracking_uri(store))
    assert client.get_run(dead).info.status == "KILLED"
    assert client.get_run(dead).data.tags["ae_anomaly.replaced_by"] == new
    assert client.get_run(recycled).info.status == "KILLED"
    assert client.get_run(alive).info.status == "RUNNING"
    assert client.get_run(new).info.status == "FINISHED"


def test_two_processes_creating_the_experiment_at_once_both_log(store, monkeypatch):
    """The loser of the race to create the experiment finds it created and logs into it."""
    real_create = mlflow.create_experiment

    def create_then_collide(name, **kwargs):
        real_create(name, **kwargs)
        return real_create(name, **kwargs)  # what the slower process sees

    monkeypatch.setattr(mlflow, "create_experiment", create_then_collide)
    run_id = log_pipeline_run(_record(store), "raced", store)
    client = MlflowClient(tracking_uri(store))
    assert client.get_run(run_id).info.status == "FINISHED"


def _with_detector(store: Path, detector_folder: Path, fitted, **overrides) -> PipelineRecord:
    metrics = {
        "histogram_forest": {"f1_anomaly": 0.9, "roc_auc": 0.99},
        "localisation": {"hit_rate": 0.97, "mean_iou": 0.812, "median_centre_error": 0.61},
    }
    return _record(
        store,
        **{
            "detector_path": detector_folder,
            "input_example": fitted[-1][:3],
            "metrics": metrics,
            **overrides,
        },
    )


def test_detector_is_logged_as_a_pyfunc_model_and_registered(store, detector_folder, fitted):
    run_id = log_pipeline_run(_with_detector(store, detector_folder, fitted), "unit", store)
    client = MlflowClient(tracking_uri(store))
    (version,) = client.search_model_versions(f"name = '{REGISTERED_MODEL}'")
    assert int(version.version) == 1 and version.run_id == run_id
    assert version.tags["histogram_forest.f1_anomaly"] == "0.9"
    assert len(version.tags["params_sha256"]) == 64
    assert client.get_run(run_id).data.tags["detector.registered_version"] == "1"
    assert f"(`{run_id}`)" in version.description
    assert "| histogram_forest | 0.900 | 0.990 |" in version.description
    assert "the window holds the true centre for 97.0% of the validation anomalies" in (
        version.description
    )
    assert version.tags["localisation.hit_rate"] == "0.97"
    assert "version is the detector of one pipeline run" in (
        client.get_registered_model(REGISTERED_MODEL).description
    )
    uri = f"models:/{REGISTERED_MODEL}/1"
    info = mlflow.models.get_model_info(uri)
    assert info.metadata["curve_length"] == 48
    assert info.saved_input_example_info is not None
    served = mlflow.pyfunc.load_model(uri).predict(fitted[-1])  # float32, float64: any numbers
    expected = CurveDetector.load(detector_folder).score_table(fitted[-1])
    assert list(served.columns) == list(expected)
    for name, values in expected.items():
        np.testing.assert_allclose(served[name].to_numpy(), values, rtol=0, atol=1e-6)


def test_the_loaded_model_refuses_bad_curves_naming_the_length(store, detector_folder, fitted):
    log_pipeline_run(_with_detector(store, detector_folder, fitted), "unit", store)
    model = mlflow.pyfunc.load_model(f"models:/{REGISTERED_MODEL}/1")
    with pytest.raises(mlflow.exceptions.MlflowException, match="curves of 48 points"):
        model.predict(np.full((1, 48), np.nan))


def test_with_bad_rows_null_each_bad_curve_gets_nulls_and_an_error(store, detector_folder, fitted):
    log_pipeline_run(_with_detector(store, detector_folder, fitted), "unit", store)
    model = mlflow.pyfunc.load_model(f"models:/{REGISTERED_MODEL}/1")
    curves = fitted[-1][:3]
    # What mlflow.pyfunc.spark_udf hands over for an array column: one column of arrays.
    batch = pd.DataFrame({"curves": [curves[0], np.full(48, np.nan), None, curves[1], [1.0]]})
    answer = model.predict(batch, params={"bad_rows": "null"})
    expected = CurveDetector.load(detector_folder).score_table(curves[:2])
    scored = [0, 3]
    assert answer["error"].isna().tolist() == [True, False, False, True, False]
    assert answer["error"][1].startswith("point 1 is nan")
    assert answer["error"][2] == "the curve is null"
    assert answer["error"][4] == "curve of 1 points; expected 48 points"
    for name, values in expected.items():
        np.testing.assert_allclose(answer[name][scored].to_numpy(float), values, atol=1e-6)
        assert answer[name].drop(index=scored).isna().all()
    with pytest.raises(mlflow.exceptions.MlflowException, match="bad_rows must be one of"):
        model.predict(curves, params={"bad_rows": "skip"})


def test_an_unchanged_detector_registers_no_duplicate_version(store, detector_folder, fitted):
    record = _with_detector(store, detector_folder, fitted)
    first = log_pipeline_run(record, "unit", store)
    second = log_pipeline_run(record, "unit", store)
    client = MlflowClient(tracking_uri(store))
    versions = client.search_model_versions(f"name = '{REGISTERED_MODEL}'")
    assert [int(v.version) for v in versions] == [1]
    experiment = mlflow.get_experiment_by_name("unit").experiment_id
    models = mlflow.search_logged_models(experiment_ids=[experiment], output_format="list")
    assert [model.source_run_id for model in models] == [first]
    outputs = client.get_run(second).outputs.model_outputs
    assert [output.model_id for output in outputs] == [models[0].model_id]


def test_the_detector_folder_downloads_from_a_model_uri(
    store, detector_folder, fitted, tmp_path, monkeypatch
):
    log_pipeline_run(_with_detector(store, detector_folder, fitted), "unit", store)
    monkeypatch.setenv("DVC_ROOT", str(store))
    folder = download_detector(f"models:/{REGISTERED_MODEL}/1", tmp_path / "download")
    assert folder_digest(folder) == folder_digest(detector_folder)
    with pytest.raises(TrackingUnavailableError, match="cannot fetch models:/nothing/1"):
        download_detector("models:/nothing/1", tmp_path / "none")


def test_store_follows_dvc_root_and_env_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setenv("DVC_ROOT", str(tmp_path))
    assert repository_root(tmp_path / "elsewhere") == tmp_path.resolve()
    assert tracking_uri(repository_root()) == f"sqlite:///{tmp_path.resolve()}/mlflow.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://team-server:5000")
    assert tracking_uri(tmp_path) == "http://team-server:5000"


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_unreachable_server_fails_fast_naming_the_uri():
    uri = f"http://127.0.0.1:{_closed_port()}"
    started = time.monotonic()
    with pytest.raises(TrackingUnavailableError, match=uri.replace(".", r"\.")):
        check_reachable(uri)
    assert time.monotonic() - started < 10


def test_unwritable_sqlite_location_is_reported(tmp_path: Path):
    with pytest.raises(TrackingUnavailableError, match="not a writable folder"):
        check_reachable(f"sqlite:///{tmp_path}/no/such/dir/mlflow.db")


def test_tags_name_commit_dirtiness_and_lock_digest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    lock = tmp_path / "dvc.lock"
    lock.write_text("schema: '2.0'\n")
    monkeypatch.setenv("DVC_EXP_NAME", "sweep-1")
    monkeypatch.setenv("DVC_EXP_BASELINE_REV", "abc123")
    tags = run_tags(Path(__file__).parent, lock)
    assert len(tags["git.commit"]) == 40 and tags["git.dirty"] in {"true", "false"}
    assert tags["dvc.exp_name"] == "sweep-1" and tags["dvc.baseline_rev"] == "abc123"
    assert len(tags["dvc.lock_sha256"]) == 64


def test_open_store_creates_the_store_that_the_run_then_uses(store: Path):
    open_store(store)
    assert (store / "mlflow.db").is_file()
    run_id = log_pipeline_run(_record(store), "unit", store)
    assert MlflowClient(tracking_uri(store)).get_run(run_id).info.status == "FINISHED"


def test_open_store_fails_fast_on_an_unreachable_server(
    store: Path, monkeypatch: pytest.MonkeyPatch
):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{port}")
    with pytest.raises(TrackingUnavailableError, match=str(port)):
        open_store(store)


def _variant(detector_folder: Path, folder: Path, batch_size: int) -> Path:
    """A copy of the detector folder with other bytes (so it registers a new version)."""
    copy = folder / f"variant-{batch_size}" / "detector"
    shutil.copytree(detector_folder, copy)
    config = json.loads((copy / "detector.json").read_text())
    (copy / "detector.json").write_text(json.dumps({**config, "batch_size": batch_size}))
    return copy


def _dataset(digest: str) -> DatasetRecord:
    return DatasetRecord("validation", "evaluation", digest, 10, 48, "synthetic")


def test_the_champion_alias_goes_only_to_a_better_version_on_the_same_data(
    store, detector_folder, fitted, tmp_path
):
    client = MlflowClient(tracking_uri(store))

    def register(batch_size: int, f1: float, validation: str = "a" * 32) -> None:
        metrics = {"histogram_forest": {"f1_anomaly": f1, "roc_auc": 0.9}}
        record = _with_detector(
            store,
            _variant(detector_folder, tmp_path, batch_size),
            fitted,
            metrics=metrics,
            datasets=[_dataset(validation)],
        )
        log_pipeline_run(record, "unit", store)

    def aliases() -> tuple[str, str]:
        return tuple(
            str(client.get_model_version_by_alias(REGISTERED_MODEL, alias).version)
            for alias in ("champion", "challenger")
        )

    register(8, 0.80)
    assert aliases() == ("1", "1")  # the first version is champion
    register(9, 0.70)
    assert aliases() == ("1", "2")  # worse: challenger only
    register(10, 0.90)
    assert aliases() == ("3", "3")  # better: takes the champion
    register(11, 0.99, validation="b" * 32)
    assert aliases() == ("3", "4")  # other validation data: not comparable, champion stays
    folder = download_detector(f"models:/{REGISTERED_MODEL}@champion", tmp_path / "champion")
    assert json.loads((folder / "detector.json").read_text())["batch_size"] == 10
