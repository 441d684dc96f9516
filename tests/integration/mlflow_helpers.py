"""Reading a test repository's MLflow store the way a reviewer would."""

from __future__ import annotations

import json
import math
from pathlib import Path

import mlflow
import yaml
from mlflow import MlflowClient
from mlflow.entities import Run

EXPERIMENT = "ae-anomaly"


def store_uri(repo: Path, uri: str | None = None) -> str:
    """``uri`` (a tracking server) or else the repository's own SQLite store."""
    return uri or f"sqlite:///{repo}/mlflow.db"


def client_for(repo: Path, uri: str | None = None) -> MlflowClient:
    return MlflowClient(store_uri(repo, uri))


def runs_of(repo: Path, uri: str | None = None) -> list[Run]:
    """Runs oldest first."""
    client = client_for(repo, uri)
    experiment = client.get_experiment_by_name(EXPERIMENT)
    if experiment is None:
        return []
    return client.search_runs([experiment.experiment_id], order_by=["attributes.start_time ASC"])


def assert_run_is_complete(
    repo: Path,
    run: Run,
    params: dict | None = None,
    metrics: dict | None = None,
    uri: str | None = None,
) -> None:
    """A run mirrors a pipeline state (by default the workspace's): params, losses, boxplots,
    every model's metrics, reports, the logged model and provenance tags."""
    client = client_for(repo, uri)
    params = params or yaml.safe_load((repo / "params.yaml").read_text())
    metrics_given = metrics
    metrics = metrics or json.loads((repo / "metrics/validation.json").read_text())
    epochs = params["train_ae"]["epochs"]
    assert run.info.status == "FINISHED"
    assert run.data.params["train_ae.epochs"] == str(epochs)
    assert run.data.params["histogram_forest.bins"] == str(params["histogram_forest"]["bins"])
    for key in ("train_ae.train_loss", "train_ae.holdout_loss"):
        history = client.get_metric_history(run.info.run_id, key)
        assert sorted(metric.step for metric in history) == list(range(1, epochs + 1)), key
    boxplots = [artifact.path for artifact in client.list_artifacts(run.info.run_id, "boxplots")]
    assert boxplots == [f"boxplots/epoch_{epoch:03d}.png" for epoch in range(1, epochs + 1)]
    figures = {artifact.path for artifact in client.list_artifacts(run.info.run_id, "figures")}
    assert "figures/error_distribution_over_epochs.png" in figures
    assert "figures/roc_pr.png" in figures and "figures/confusion_matrices.png" in figures
    assert "figures/located_anomalies.png" in figures
    results = {artifact.path for artifact in client.list_artifacts(run.info.run_id, "results")}
    assert {"results/classification_reports.md", "results/validation_scores.csv"} <= results
    for model, values in metrics.items():
        if values.get("status") == "not fitted":
            assert run.data.tags[f"{model}.status"] == "not fitted"
            continue
        for name, value in values.items():
            logged = run.data.metrics[f"{model}.{name}"]
            assert logged == value or (math.isnan(logged) and math.isnan(value)), (model, name)
    located = json.loads((repo / "metrics/localisation.json").read_text())
    if "hit_rate" in located and metrics_given is None:
        assert run.data.metrics["localisation.hit_rate"] == located["hit_rate"]
        assert run.data.metrics["localisation.mean_iou"] == located["mean_iou"]
    for tag in ("git.commit", "git.dirty", "dvc.lock_sha256"):
        assert run.data.tags.get(tag), tag
    mlflow.set_tracking_uri(store_uri(repo, uri))
    models = mlflow.search_logged_models(
        experiment_ids=[run.info.experiment_id], output_format="list"
    )
    produced = {model.model_id for model in models if model.source_run_id == run.info.run_id}
    linked = {output.model_id for output in client.get_run(run.info.run_id).outputs.model_outputs}
    attached = [model for model in models if model.model_id in produced | linked]
    assert [model.name for model in attached] == ["detector"], "the run has no detector model"


def assert_run_spans_the_stages(run: Run, ran: list[str], cached: list[str]) -> None:
    """The run's start and end cover every stage that ran, each with its wall time and peak
    memory, and its description says where the time went and what DVC's cache gave."""
    metrics, description = run.data.metrics, run.data.tags["mlflow.note.content"]
    logged = sorted(key.split(".")[1] for key in metrics if key.endswith(".peak_memory_mib"))
    assert logged == sorted(ran)
    assert all(metrics[f"stage.{stage}.seconds"] > 0 for stage in ran)
    # In MiB, not KiB or bytes: an interpreter with NumPy holds tens of MiB, not gigabytes.
    assert all(20 < metrics[f"stage.{stage}.peak_memory_mib"] < 8192 for stage in ran)
    # DVC runs the stages one after the other: the execution is at least their sum.
    assert metrics["pipeline.seconds"] >= sum(metrics[f"stage.{s}.seconds"] for s in ran) - 0.1
    duration = (run.info.end_time - run.info.start_time) / 1000
    assert metrics["pipeline.seconds"] <= duration < metrics["pipeline.seconds"] + 30
    assert f"**Where the time went**: {len(ran)} stage(s) ran in " in description
    assert f"({', '.join(ran)})" in description
    if cached:
        assert f"; {', '.join(cached)} from DVC's cache." in description
    for stage in ran:
        assert f"| {stage} | " in description
