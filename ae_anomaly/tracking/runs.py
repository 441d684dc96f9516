"""MLflow, in one place: each pipeline execution becomes one complete, reviewable run.

DVC's outputs are the source of truth; this module only mirrors them. It is called once,
at the end of the ``evaluate`` stage, from the *tracked outputs* of every upstream stage, so
a run is complete even when DVC took most stages from its cache (e.g. after changing only
``histogram_forest.bins`` the run still carries the autoencoder's loss curves and boxplots).

Where runs go: ``MLFLOW_TRACKING_URI`` when set (a team server), otherwise an embedded SQLite
store ``mlflow.db`` with artifacts in ``mlartifacts/`` at the root of the *main* repository,
which is ``DVC_ROOT`` when DVC runs a queued experiment in a temporary copy.

MLflow is imported when a run is logged, not with this module: importing it (and its SQL
store) takes over a second, which then overlaps figures still rendering in another process.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from filelock import FileLock

from ae_anomaly.core.types import ReportedError
from ae_anomaly.pipeline.runtime import record_phase

if TYPE_CHECKING:
    from mlflow.entities import Metric

# Telemetry off before mlflow is imported: nothing leaves the machine.
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")

logger = logging.getLogger(__name__)

STORE_FILE = "mlflow.db"
ARTIFACT_DIR = "mlartifacts"
_CONNECT_TIMEOUT_S = 5
_METRICS_PER_BATCH = 1000  # MLflow's log_batch limit


class TrackingUnavailableError(ReportedError):
    """The tracking store cannot be reached; the message says which URI and how to fix it."""


def repository_root(start: Path | None = None) -> Path:
    """The main repository: ``DVC_ROOT`` inside a queued experiment, else git's top level."""
    if os.environ.get("DVC_ROOT"):
        return Path(os.environ["DVC_ROOT"]).resolve()
    start = start or Path.cwd()
    result = subprocess.run(
        ["git", "rev-parse", "--show-toplevel"], cwd=start, capture_output=True, text=True
    )
    return Path(result.stdout.strip()).resolve() if result.returncode == 0 else start.resolve()


def tracking_uri(root: Path) -> str:
    """``MLFLOW_TRACKING_URI`` if set, else the embedded SQLite store at ``root``."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{root / STORE_FILE}"


def _is_local_sqlite(uri: str) -> bool:
    return uri.startswith("sqlite:///")


def check_reachable(uri: str) -> None:
    """Fail within seconds, naming the URI, instead of letting MLflow retry for minutes."""
    if _is_local_sqlite(uri):
        folder = Path(uri.removeprefix("sqlite:///")).parent
        if not folder.is_dir() or not os.access(folder, os.W_OK):
            raise TrackingUnavailableError(
                f"MLflow store {uri} cannot be created: {folder} is not a writable folder. "
                "Fix the path in MLFLOW_TRACKING_URI or unset it to use ./mlflow.db."
            )
        return
    if uri.startswith(("http://", "https://")):
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", str(_CONNECT_TIMEOUT_S))
        try:
            with urllib.request.urlopen(f"{uri.rstrip('/')}/health", timeout=_CONNECT_TIMEOUT_S):
                return
        except (urllib.error.URLError, OSError) as error:
            raise TrackingUnavailableError(
                f"MLflow tracking server {uri} is not reachable ({error}). Start it "
                f"(`mlflow server ...`), fix MLFLOW_TRACKING_URI, or unset it to log to "
                f"the local {STORE_FILE}."
            ) from None


@contextlib.contextmanager
def store_lock(root: Path, uri: str) -> Iterator[None]:
    """Serialise writers of one SQLite store across processes (parallel ``dvc queue`` workers).

    SQLite allows one writer at a time and MLflow's first-use schema migration is not safe
    to run twice concurrently; a file lock beside the store avoids "database is locked". A
    tracking server needs no lock: it serialises its own writers.
    """
    if not _is_local_sqlite(uri):
        yield
        return
    with FileLock(Path(uri.removeprefix("sqlite:///")).with_suffix(".db.lock")):
        yield


def _git(root: Path, *args: str) -> str | None:
    result = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True)
    return result.stdout.strip() if result.returncode == 0 else None


def run_tags(workdir: Path, lock_file: Path | None) -> dict[str, str]:
    """Provenance: git commit and dirtiness, DVC experiment name/baseline, dvc.lock digest."""
    tags: dict[str, str] = {}
    commit = _git(workdir, "rev-parse", "HEAD")
    if commit:
        tags["git.commit"] = commit
        tags["mlflow.source.git.commit"] = commit
        status = _git(workdir, "status", "--porcelain", "--untracked-files=no")
        tags["git.dirty"] = str(bool(status)).lower()
    for variable, tag in (
        ("DVC_EXP_NAME", "dvc.exp_name"),
        ("DVC_EXP_BASELINE_REV", "dvc.baseline_rev"),
    ):
        if os.environ.get(variable):
            tags[tag] = os.environ[variable]
    if lock_file is not None and lock_file.is_file():
        tags["dvc.lock_sha256"] = hashlib.sha256(lock_file.read_bytes()).hexdigest()
    return tags


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


#: The Model Registry name every pipeline execution's detector is a version of.
REGISTERED_MODEL = "ae-anomaly-detector"
#: The metrics a registered version carries as tags, so versions compare at a glance.
KEY_METRICS = ("f1_anomaly", "roc_auc")


def params_digest(params: dict[str, Any]) -> str:
    """sha256 of the validated, flattened params: identical params, identical digest."""
    return hashlib.sha256(json.dumps(params, sort_keys=True, default=str).encode()).hexdigest()


def _detector_signature(columns: Sequence[str]) -> Any:
    """Input: a batch of curves, any numeric dtype, checked by the detector itself, which
    names the problem and the expected curve length in its errors. (A float tensor spec would
    make MLflow refuse float32 arrays, and answer a non-numeric value in a request with its own
    parsing error, before the model could say what it expects.) Output: the score columns."""
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema, TensorSpec

    return ModelSignature(
        inputs=Schema([TensorSpec(np.dtype(object), (-1,))]),
        outputs=Schema(
            [ColSpec("long" if name.endswith("_label") else "double", name) for name in columns]
        ),
    )


def _log_detector(record: PipelineRecord, experiment_id: str, run_id: str) -> None:
    """Log the detector folder as an MLflow ``pyfunc`` model and register it as a new
    version of :data:`REGISTERED_MODEL`, unless a detector with the same bytes was already
    logged: then the run links that model (as a run output) and no duplicate version appears.
    """
    import mlflow
    from mlflow.entities import LoggedModelOutput

    from ae_anomaly.deploy import pyfunc_model
    from ae_anomaly.deploy.detector import (
        CONFIG_FILE,
        DETECTOR_ARTIFACT,
        fitted_detector_names,
        folder_digest,
    )

    assert record.detector_path is not None and record.input_example is not None
    digest = folder_digest(record.detector_path)
    existing = mlflow.search_logged_models(
        experiment_ids=[experiment_id],
        filter_string=f"tags.detector_sha256 = '{digest}'",
        max_results=1,
        output_format="list",
    )
    client = mlflow.MlflowClient()
    if existing:
        client.log_outputs(run_id, [LoggedModelOutput(existing[0].model_id, step=0)])
        return
    config = json.loads((record.detector_path / CONFIG_FILE).read_text())
    fitted = fitted_detector_names(record.detector_path)
    columns = [f"{name}_{part}" for name in fitted for part in ("score", "label")]
    info = mlflow.pyfunc.log_model(
        name="detector",
        python_model=pyfunc_model.__file__,  # models from code: no pickle in the model
        artifacts={DETECTOR_ARTIFACT: str(record.detector_path)},
        signature=_detector_signature(columns),
        input_example=np.asarray(record.input_example, dtype=np.float64),
        pip_requirements=_requirements(),
        metadata={"curve_length": config["curve_length"], "normalize": config["normalize"]},
        tags={"detector_sha256": digest},
    )
    version_tags = {
        "detector_sha256": digest,
        "params_sha256": params_digest(record.params),
        "run_id": run_id,
        **{
            f"{model}.{metric}": str(record.metrics[model][metric])
            for model in fitted
            for metric in KEY_METRICS
            if metric in record.metrics.get(model, {})
        },
    }
    version = mlflow.register_model(info.model_uri, REGISTERED_MODEL, tags=version_tags)
    client.set_tag(run_id, "detector.registered_version", str(version.version))
    logger.info("detector registered as %s version %s", REGISTERED_MODEL, version.version)


def _requirements() -> list[str]:
    """What serving the model needs; explicit, because MLflow's inference of them imports
    the model in a subprocess (seconds)."""
    from importlib.metadata import version

    return [
        f"{name}=={version(name).split('+')[0]}"  # torch's "+cpu" is a local build label
        for name in ("torch", "scikit-learn", "numpy", "pandas", "ae-anomaly")
    ]


def download_detector(model_uri: str, destination: Path | None = None) -> Path:
    """The detector folder inside an MLflow model (``models:/ae-anomaly-detector/3``,
    ``runs:/<id>/detector``, ...), downloaded from the tracking store: the plain files only,
    so using it runs no code from the store."""
    import mlflow
    from mlflow.exceptions import MlflowException

    from ae_anomaly.deploy.detector import DETECTOR_ARTIFACT

    uri = tracking_uri(repository_root())
    check_reachable(uri)
    mlflow.set_tracking_uri(uri)
    try:
        folder = mlflow.artifacts.download_artifacts(
            artifact_uri=f"{model_uri.rstrip('/')}/artifacts/{DETECTOR_ARTIFACT}",
            dst_path=None if destination is None else str(destination),
        )
    except MlflowException as error:
        raise TrackingUnavailableError(f"cannot fetch {model_uri} from {uri}: {error}") from None
    return Path(folder)


class PipelineRun:
    """The open run of :func:`pipeline_run`: what is logged after the record itself."""

    def __init__(self, run_id: str):
        self.run_id = run_id

    def log_figures(self, paths: Sequence[Path]) -> None:
        """Figures that finished rendering while the record was being logged."""
        import mlflow

        for path in paths:
            mlflow.log_artifact(str(path), artifact_path="figures")


#: Tags naming the process that owns a run, so a later execution can tell a run whose
#: process died (SIGKILL, a lost server, a power cut) from one still being logged.
HOST_TAG, PID_TAG, STARTED_TAG = "ae_anomaly.host", "ae_anomaly.pid", "ae_anomaly.pid_started"


def _started(pid: int) -> str:
    """When process ``pid`` started, as a tag value: with the pid, it names one process (a
    recycled pid has another start time)."""
    import psutil

    return repr(psutil.Process(pid).create_time())


def _owner_tags() -> dict[str, str]:
    return {
        HOST_TAG: socket.gethostname(),
        PID_TAG: str(os.getpid()),
        STARTED_TAG: _started(os.getpid()),
    }


def _process_alive(pid: str, started: str) -> bool:
    """Whether the process that opened a run still runs."""
    import psutil

    try:
        return _started(int(pid)) == started
    except (psutil.Error, ValueError):
        return False


def close_abandoned_runs(experiment_id: str, replaced_by: str | None = None) -> list[str]:
    """Mark KILLED every run of the experiment left RUNNING by a process of this machine that
    no longer exists; returns their ids. Runs of other machines are left alone: whether their
    process lives cannot be known from here."""
    import mlflow

    client = mlflow.MlflowClient()
    host = socket.gethostname()
    runs = client.search_runs(
        [experiment_id],
        filter_string=f"attributes.status = 'RUNNING' and tags.`{HOST_TAG}` = '{host}'",
        max_results=1000,
    )
    closed = []
    for run in runs:
        tags = run.data.tags
        if _process_alive(tags.get(PID_TAG, ""), tags.get(STARTED_TAG, "")):
            continue
        if replaced_by:
            client.set_tag(run.info.run_id, "ae_anomaly.replaced_by", replaced_by)
        client.set_terminated(run.info.run_id, status="KILLED")
        closed.append(run.info.run_id)
        logger.warning(
            "MLflow run %s was left RUNNING by process %s, which is gone: marked KILLED",
            run.info.run_id,
            tags.get(PID_TAG),
        )
    return closed


def _experiment_id(name: str, uri: str, root: Path) -> str:
    """The experiment's id, creating it if needed; another process creating it at the same
    moment (parallel queue workers against a server) is not an error."""
    import mlflow
    from mlflow.exceptions import MlflowException

    experiment = mlflow.get_experiment_by_name(name)
    if experiment is not None:
        return experiment.experiment_id
    artifact_location = (root / ARTIFACT_DIR).as_uri() if _is_local_sqlite(uri) else None
    try:
        return mlflow.create_experiment(name, artifact_location=artifact_location)
    except MlflowException:
        experiment = mlflow.get_experiment_by_name(name)
        if experiment is None:
            raise
        return experiment.experiment_id


def _end_run(status: str) -> None:
    """End the active run; if the store cannot be reached the run stays RUNNING, and the next
    execution that logs marks it KILLED (see :func:`close_abandoned_runs`)."""
    import mlflow

    try:
        mlflow.end_run(status)
    except Exception as error:  # the store is gone; nothing more can be done from here
        logger.warning("could not mark the MLflow run %s: %s", status, error)


def open_store(root: Path) -> None:
    """Import MLflow and open the tracking store that :func:`pipeline_run` then logs to.

    Both take seconds (MLflow, SQLAlchemy, the store's schema check, its creation on first
    use), so a stage calls this while a worker process computes what it will log, and the two
    overlap. MLflow keeps one store object per URI, which :func:`pipeline_run` reuses.
    """
    uri = tracking_uri(root)
    check_reachable(uri)
    started = time.perf_counter()
    import mlflow

    with store_lock(root, uri):
        mlflow.MlflowClient(uri)
    record_phase("mlflow import", time.perf_counter() - started)


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
        experiment_id = _experiment_id(experiment, uri, root)
        tags = {**record.tags, **_status_tags(record.metrics), **_owner_tags()}
        run = mlflow.start_run(experiment_id=experiment_id, run_name=record.run_name, tags=tags)
        run_id = run.info.run_id
        try:
            close_abandoned_runs(experiment_id, replaced_by=run_id)
            _log_record(record, run_id, experiment_id)
            logged_seconds = time.perf_counter() - started - import_seconds
            yield PipelineRun(run_id)
        except KeyboardInterrupt:
            _end_run("KILLED")
            raise
        except Exception as error:
            _end_run("FAILED")
            _raise_if_store_lost(uri, run_id, error)
            raise
        mlflow.end_run("FINISHED")
    logger.info("MLflow run %s logged to %s (experiment %r)", run_id, uri, experiment)
    record_phase("mlflow import", import_seconds)
    record_phase("mlflow logging", logged_seconds)


def _raise_if_store_lost(uri: str, run_id: str, error: Exception) -> None:
    """Turn a failure caused by the tracking server going away into one clear message."""
    if _is_local_sqlite(uri):
        return
    try:
        check_reachable(uri)
    except TrackingUnavailableError:
        raise TrackingUnavailableError(
            f"lost the MLflow tracking server {uri} while logging run {run_id} "
            f"({type(error).__name__}). DVC has not recorded this stage as done: start the "
            "server again and rerun `dvc repro`, which logs one complete run and marks this "
            "one KILLED."
        ) from None


def _log_record(record: PipelineRecord, run_id: str, experiment_id: str) -> None:
    import mlflow

    client = mlflow.MlflowClient()
    mlflow.log_params({key: _param_value(value) for key, value in record.params.items()})
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
        _log_detector(record, experiment_id, run_id)
    for path in record.figure_paths:
        mlflow.log_artifact(str(path), artifact_path="figures")
