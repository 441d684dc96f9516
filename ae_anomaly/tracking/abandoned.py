"""Runs left ``RUNNING`` by a process that died (SIGKILL, a lost server, a power cut): each run
names the process that owns it, and the next execution that logs marks the orphans KILLED."""

from __future__ import annotations

import logging
import os
import socket

logger = logging.getLogger(__name__)

#: Tags naming the process that owns a run, so a later execution can tell a run whose
#: process died (SIGKILL, a lost server, a power cut) from one still being logged.
HOST_TAG, PID_TAG, STARTED_TAG = "ae_anomaly.host", "ae_anomaly.pid", "ae_anomaly.pid_started"


def _started(pid: int) -> str:
    """When process ``pid`` started, as a tag value: with the pid, it names one process (a
    recycled pid has another start time)."""
    import psutil

    return repr(psutil.Process(pid).create_time())


def owner_tags() -> dict[str, str]:
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
