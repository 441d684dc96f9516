"""Each pipeline execution becomes one complete, reviewable MLflow run.

DVC's outputs are the source of truth; this module only mirrors them. It is called once,
at the end of the ``evaluate`` stage, from the *tracked outputs* of every upstream stage, so
a run is complete even when DVC took most stages from its cache (e.g. after changing only
``histogram_forest.bins`` the run still carries the autoencoder's loss curves and boxplots).
"""

from __future__ import annotations

import contextlib
import gc
import logging
import time
import traceback
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ae_anomaly.pipeline.timings import cost_so_far, record_phase
from ae_anomaly.tracking.abandoned import close_abandoned_runs, owner_tags
from ae_anomaly.tracking.datasets import DatasetRecord, log_datasets
from ae_anomaly.tracking.describe import DESCRIPTION_TAG
from ae_anomaly.tracking.registry import log_detector
from ae_anomaly.tracking.stage_costs import costs_markdown, execution_span, log_stage_costs
from ae_anomaly.tracking.store import (
    TrackingUnavailableError,
    check_reachable,
    ensure_experiment,
    is_local_sqlite,
    store_lock,
    tracking_uri,
)

if TYPE_CHECKING:
    from mlflow.entities import Metric

logger = logging.getLogger(__name__)


_METRICS_PER_BATCH = 1000  # MLflow's log_batch limit


@dataclass
class PipelineRecord:
    """Everything one run shows, read from the pipeline's tracked outputs."""

    params: dict[str, Any]
    metrics: dict[str, dict[str, object]]
    train_loss: Sequence[float]
    holdout_loss: Sequence[float]
    train_summary: dict[str, Any] = field(default_factory=dict)
    boxplot_dir: Path | None = None
    figure_paths: Sequence[Path] = ()
    artifact_files: Sequence[Path] = ()
    reports_markdown: str = ""
    #: The deployable detector folder, logged as an MLflow model and registered.
    detector_path: Path | None = None
    #: A few raw curves: the served model's input example.
    input_example: np.ndarray | None = None
    tags: dict[str, str] = field(default_factory=dict)
    run_name: str | None = None
    #: The pool and validation set, logged as the run's dataset inputs.
    datasets: Sequence[DatasetRecord] = ()
    #: The journal records of the stages that ran before this one in this execution; the
    #: run starts when the first of them did.
    stage_costs: Sequence[Mapping[str, Any]] = ()
    #: The stages DVC took from its cache this time.
    cached_stages: Sequence[str] = ()
    #: The stage logging the run: its own cost is measured when the run ends.
    logging_stage: str = "evaluate"


def _metrics_for(record: PipelineRecord, timestamp_ms: int) -> list[Metric]:
    from mlflow.entities import Metric

    metrics = [
        Metric(f"{model}.{name}", float(value), timestamp_ms, 0)
        for model, values in record.metrics.items()
        for name, value in values.items()
        if _is_number(value)
    ]
    for epoch, (train, holdout) in enumerate(
        zip(record.train_loss, record.holdout_loss, strict=True), 1
    ):
        metrics.append(Metric("train_ae.train_loss", float(train), timestamp_ms, epoch))
        metrics.append(Metric("train_ae.holdout_loss", float(holdout), timestamp_ms, epoch))
    metrics += [
        Metric(f"train_ae.{name}", float(value), timestamp_ms, 0)
        for name, value in record.train_summary.items()
        if _is_number(value)
    ]
    return metrics


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _status_tags(metrics: dict[str, dict[str, object]]) -> dict[str, str]:
    """A model reported "not fitted" has no metrics; these tags say so, and why."""
    tags = {}
    for model, values in metrics.items():
        if "status" in values:
            tags[f"{model}.status"] = str(values["status"])
            tags[f"{model}.reason"] = str(values.get("reason", ""))
    return tags


def _param_value(value: Any) -> str:
    return "null" if value is None else str(value)


class PipelineRun:
    """The open run of :func:`pipeline_run`: what is logged after the record itself."""

    def __init__(self, run_id: str):
        self.run_id = run_id

    def log_figures(self, paths: Sequence[Path]) -> None:
        """Figures that finished rendering while the record was being logged."""
        import mlflow

        for path in paths:
            mlflow.log_artifact(str(path), artifact_path="figures")


def _release_interrupted_call(interrupt: KeyboardInterrupt) -> None:
    """Free what the store call that Ctrl-C (or SIGTERM) cut short still holds.

    An interrupt can land inside SQLAlchemy, after a write began and before its session gave
    the connection back: the frames of the interrupted call, kept alive by the exception's
    traceback, then hold that connection and SQLite's write lock with it, and marking the run
    KILLED would wait out MLflow's 20 s busy timeout and fail. Clearing those frames' locals
    and collecting them closes the connection, which rolls the write back. Only the locals go:
    the traceback still names every frame, and the stage reports an interrupt in one line.
    An interrupt that lands while SQLAlchemy handles another exception (a rollback after a
    failed write) chains it as ``__context__``, whose frames can hold the connection too: the
    whole chain is cleared.
    """
    seen: set[int] = set()
    error: BaseException | None = interrupt
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        traceback.clear_frames(error.__traceback__)
        error = error.__cause__ or error.__context__
    gc.collect()


def _end_run(run_id: str, status: str) -> None:
    """End run ``run_id`` (created, perhaps not yet active); if the store cannot be reached the
    run stays RUNNING, and the next execution that logs marks it KILLED (see
    :func:`close_abandoned_runs`)."""
    import mlflow

    try:
        if mlflow.active_run() is not None:
            mlflow.end_run(status)
        elif run_id:
            mlflow.MlflowClient().set_terminated(run_id, status)
    except Exception as error:  # the store is gone; nothing more can be done from here
        logger.warning("could not mark the MLflow run %s: %s", status, error)


@contextlib.contextmanager
def pipeline_run(record: PipelineRecord, experiment: str, root: Path) -> Iterator[PipelineRun]:
    """Open one MLflow run, log ``record`` into it, and yield it for what comes later.

    The run ends FINISHED when the block completes, KILLED on Ctrl-C or SIGTERM, FAILED if
    anything else raises inside it: never RUNNING, unless the process is killed outright or
    loses the store, and then the next execution that logs closes it. Logging the record
    first lets a stage overlap it with slower work such as rendering figures, and log those
    last. A tracking server that goes away mid-run is reported as such, in one line.
    """
    uri = tracking_uri(root)
    check_reachable(uri)
    started = time.perf_counter()
    import mlflow

    import_seconds = time.perf_counter() - started
    with store_lock(root, uri):
        mlflow.set_tracking_uri(uri)
        experiment_id = ensure_experiment(experiment, uri, root)
        run_id = ""
        try:
            run_id = _create_run(record, experiment_id)
            mlflow.start_run(run_id=run_id)
            close_abandoned_runs(experiment_id, replaced_by=run_id)
            _log_record(record, run_id, experiment_id)
            logged_seconds = time.perf_counter() - started - import_seconds
            yield PipelineRun(run_id)
            _log_costs(record, run_id)
        except KeyboardInterrupt as interrupt:
            _release_interrupted_call(interrupt)
            _end_run(run_id, "KILLED")
            raise
        except Exception as error:
            _end_run(run_id, "FAILED")
            _raise_if_store_lost(uri, run_id, error)
            raise
        mlflow.end_run("FINISHED")
    logger.info("MLflow run %s logged to %s (experiment %r)", run_id, uri, experiment)
    record_phase("mlflow import", import_seconds)
    record_phase("mlflow logging", logged_seconds)


def _create_run(record: PipelineRecord, experiment_id: str) -> str:
    """Create the run, started when the execution's first stage did (MLflow's own start would
    be this stage's logging); with the tags ``mlflow.start_run`` adds (user, source, git)."""
    import mlflow
    from mlflow.tracking.context.registry import resolve_tags

    started, _ = execution_span([*record.stage_costs, cost_so_far(record.logging_stage)])
    tags = {**record.tags, **_status_tags(record.metrics), **owner_tags()}
    if record.run_name:
        tags["mlflow.runName"] = record.run_name
    run = mlflow.MlflowClient().create_run(
        experiment_id,
        start_time=int(started * 1000),
        tags=resolve_tags(tags),
        run_name=record.run_name,
    )
    return run.info.run_id


def _log_costs(record: PipelineRecord, run_id: str) -> None:
    """Each stage's wall time and peak memory, this one's up to now, and the description's
    section about them; the run ends right after, so it spans the whole execution."""
    import mlflow

    costs = [*record.stage_costs, cost_so_far(record.logging_stage)]
    client = mlflow.MlflowClient()
    log_stage_costs(client, run_id, costs)
    description = record.tags.get(DESCRIPTION_TAG, "")
    section = costs_markdown(costs, record.cached_stages)
    client.set_tag(run_id, DESCRIPTION_TAG, f"{description}\n\n{section}".strip())


def _raise_if_store_lost(uri: str, run_id: str, error: Exception) -> None:
    """Turn a failure caused by the tracking server going away into one clear message."""
    if is_local_sqlite(uri):
        return
    try:
        check_reachable(uri)
    except TrackingUnavailableError:
        raise TrackingUnavailableError(
            f"lost the MLflow tracking server {uri} while logging run {run_id or '(new)'} "
            f"({type(error).__name__}). DVC has not recorded this stage as done: start the "
            "server again and rerun `dvc repro`, which logs one complete run and marks this "
            "one KILLED."
        ) from None


def _log_record(record: PipelineRecord, run_id: str, experiment_id: str) -> None:
    import mlflow

    client = mlflow.MlflowClient()
    mlflow.log_params({key: _param_value(value) for key, value in record.params.items()})
    log_datasets(list(record.datasets))
    metrics = _metrics_for(record, int(time.time() * 1000))
    for start in range(0, len(metrics), _METRICS_PER_BATCH):
        client.log_batch(run_id, metrics=metrics[start : start + _METRICS_PER_BATCH])
    if record.boxplot_dir is not None:
        mlflow.log_artifacts(str(record.boxplot_dir), artifact_path="boxplots")
    for path in record.artifact_files:
        mlflow.log_artifact(str(path), artifact_path="results")
    if record.reports_markdown:
        mlflow.log_text(record.reports_markdown, "results/classification_reports.md")
    if record.detector_path is not None and record.input_example is not None:
        log_detector(record, experiment_id, run_id)
    for path in record.figure_paths:
        mlflow.log_artifact(str(path), artifact_path="figures")
