"""Where runs go, and reaching it: the SQLite store or a tracking server.

``MLFLOW_TRACKING_URI`` when set (a team server), otherwise an embedded SQLite store
``mlflow.db`` with artifacts in ``mlartifacts/`` at the root of the *main* repository, which
is ``DVC_ROOT`` when DVC runs a queued experiment in a temporary copy. MLflow is imported
only when the store is opened: importing it (and its SQL store) is slow, and a stage
overlaps it with other work.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from filelock import FileLock

from ae_anomaly.core.types import ReportedError
from ae_anomaly.pipeline.timings import record_phase

# Telemetry off before mlflow is imported: nothing leaves the machine.
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")

STORE_FILE = "mlflow.db"


ARTIFACT_DIR = "mlartifacts"


_CONNECT_TIMEOUT_S = 5


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


def is_local_sqlite(uri: str) -> bool:
    return uri.startswith("sqlite:///")


def check_reachable(uri: str) -> None:
    """Fail within seconds, naming the URI, instead of letting MLflow retry for minutes."""
    if is_local_sqlite(uri):
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
    if not is_local_sqlite(uri):
        yield
        return
    with FileLock(Path(uri.removeprefix("sqlite:///")).with_suffix(".db.lock")):
        yield


def ensure_experiment(name: str, uri: str, root: Path) -> str:
    """The experiment's id, creating it if needed; another process creating it at the same
    moment (parallel queue workers against a server) is not an error."""
    import mlflow
    from mlflow.exceptions import MlflowException

    experiment = mlflow.get_experiment_by_name(name)
    if experiment is not None:
        return experiment.experiment_id
    artifact_location = (root / ARTIFACT_DIR).as_uri() if is_local_sqlite(uri) else None
    try:
        return mlflow.create_experiment(name, artifact_location=artifact_location)
    except MlflowException:
        experiment = mlflow.get_experiment_by_name(name)
        if experiment is None:
            raise
        return experiment.experiment_id


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
