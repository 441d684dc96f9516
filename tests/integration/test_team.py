"""Team mode for real: the pipeline against a running team stack (PostgreSQL + ``mlflow
server`` with proxied artifacts), the failures a server brings, and two clones sharing
results through a git remote and a DVC folder remote.

The stack runs in a temporary folder outside pytest's (PostgreSQL runs as the ``postgres``
user, who must be able to reach it) on free loopback ports, and is torn down at the end.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from mlflow import MlflowClient
from mlflow.entities import Run

from ae_anomaly.tracking.team import TeamStack
from tests.integration.conftest import dvc, make_repo, run, stages_run, update_params
from tests.integration.dvc_helpers import Watched, experiments_of, start_queue, wait_for_queue
from tests.integration.mlflow_helpers import EXPERIMENT, assert_run_is_complete, runs_of
from tests.integration.test_mlflow_ui import check_run_page

pytestmark = [pytest.mark.integration, pytest.mark.team]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def stack() -> Iterator[TeamStack]:
    folder = Path(tempfile.mkdtemp(prefix="ae-team-"))
    folder.chmod(0o755)  # PostgreSQL's own user must reach its cluster inside
    team = TeamStack(folder / "team", _free_port(), _free_port())
    try:
        team.up()  # inside: a start that fails halfway still stops what it started
        yield team
    finally:
        team.down()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def server_repo(stack: TeamStack, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny pipeline reproduced once against the server."""
    repo = make_repo(tmp_path_factory.mktemp("team") / "repo")
    dvc(repo, "repro", MLFLOW_TRACKING_URI=stack.tracking_uri)
    return repo


def _server_runs(stack: TeamStack) -> list[Run]:
    """Every run on the server, oldest first."""
    return runs_of(stack.folder, stack.tracking_uri)


def _listening_on(pid: int) -> set[str]:
    """The addresses a process and its children listen on. A child that ends between being
    listed and being read (the server starts short-lived ones) listens on nothing; the
    process itself must be there."""
    process = psutil.Process(pid)
    addresses = set()
    for member in [process, *process.children(recursive=True)]:
        try:
            connections = member.net_connections(kind="inet")
        except psutil.NoSuchProcess:
            if member is process:
                raise
            continue
        addresses |= {c.laddr.ip for c in connections if c.status == psutil.CONN_LISTEN}
    return addresses


def _aliases(stack: TeamStack) -> tuple[str, str]:
    client = MlflowClient(stack.tracking_uri)
    return tuple(
        str(client.get_model_version_by_alias("ae-anomaly-detector", alias).version)
        for alias in ("champion", "challenger")
    )


def _champion_metric(stack: TeamStack, version: str) -> float:
    client = MlflowClient(stack.tracking_uri)
    tags = client.get_model_version("ae-anomaly-detector", version).tags
    return float(tags["champion_metric_value"])


def test_both_servers_listen_on_loopback_only(stack: TeamStack):
    assert stack.server_pid is not None
    assert _listening_on(stack.server_pid) == {"127.0.0.1"}
    postmaster = int((stack.cluster / "postmaster.pid").read_text().split()[0])
    assert _listening_on(postmaster) == {"127.0.0.1"}


def test_a_repro_logs_one_complete_run_with_artifacts_uploaded_through_the_server(
    stack: TeamStack, server_repo: Path
):
    (logged,) = _server_runs(stack)
    assert_run_is_complete(server_repo, logged, uri=stack.tracking_uri)
    assert logged.info.artifact_uri.startswith("mlflow-artifacts:"), logged.info.artifact_uri
    uploaded = list(stack.artifacts.rglob("boxplots/epoch_001.png"))
    assert len(uploaded) == 1, "the server stores the run's artifacts in its own folder"
    for local_store in ("mlflow.db", "mlartifacts", "mlflow.db.lock"):
        assert not (server_repo / local_store).exists(), f"the client wrote {local_store}"
    registered = MlflowClient(stack.tracking_uri).search_model_versions(
        "name = 'ae-anomaly-detector'"
    )
    assert [version.run_id for version in registered] == [logged.info.run_id]
    assert _aliases(stack) == ("1", "1")  # the first version is champion and challenger


def test_a_partial_rerun_and_a_parallel_queued_sweep_each_log_one_complete_run(
    stack: TeamStack, server_repo: Path
):
    before = len(_server_runs(stack))
    update_params(server_repo, {"histogram_forest": {"bins": 7}})
    rerun = dvc(server_repo, "repro", MLFLOW_TRACKING_URI=stack.tracking_uri)
    assert stages_run(rerun) == ["detector", "evaluate"]
    runs = _server_runs(stack)
    assert len(runs) == before + 1
    assert_run_is_complete(server_repo, runs[-1], uri=stack.tracking_uri)
    # The new version is challenger; champion only if it beats version 1 on the same data.
    better = _champion_metric(stack, "2") > _champion_metric(stack, "1")
    assert _aliases(stack) == ("2" if better else "1", "2")

    run(server_repo, "git", "add", "-A")
    run(server_repo, "git", "commit", "-q", "-m", "bins 7")
    dvc(server_repo, "exp", "run", "--queue", "-S", "train_ae.network.mlp.latent_dim=2,3")
    start_queue(server_repo, jobs=2, MLFLOW_TRACKING_URI=stack.tracking_uri)
    try:
        status = wait_for_queue(server_repo)
    finally:
        dvc(server_repo, "queue", "stop", check=False)
    assert status.count("Success") == 2, status

    swept = _server_runs(stack)[before + 1 :]
    experiments = experiments_of(server_repo)
    assert sorted(r.data.tags["dvc.exp_name"] for r in swept) == sorted(experiments)
    for logged in swept:
        experiment = experiments[logged.data.tags["dvc.exp_name"]]
        assert_run_is_complete(
            server_repo,
            logged,
            params=experiment["params"],
            metrics=experiment["metrics"]["metrics/validation.json"],
            uri=stack.tracking_uri,
        )
    assert not list(server_repo.rglob("mlflow.db*")), "a queued experiment wrote a local store"


def test_a_stopped_server_fails_evaluate_within_seconds_naming_it(
    stack: TeamStack, server_repo: Path
):
    stack.down()
    try:
        started = time.monotonic()
        failed = dvc(
            server_repo,
            "repro",
            "--force",
            "--single-item",
            "evaluate",
            check=False,
            MLFLOW_TRACKING_URI=stack.tracking_uri,
        )
        took = time.monotonic() - started
    finally:
        stack.up()
    assert failed.returncode != 0
    assert f"MLflow tracking server {stack.tracking_uri} is not reachable" in failed.stderr
    assert "Traceback" not in failed.stdout + failed.stderr
    assert took < 30, f"evaluate took {took:.0f} s to give up"


def test_a_server_killed_while_logging_loses_nothing(stack: TeamStack, server_repo: Path):
    client = MlflowClient(stack.tracking_uri)
    before = len(_server_runs(stack))
    lock = (server_repo / "dvc.lock").read_text()
    update_params(server_repo, {"evaluate": {"heatmap_rows": 9}})
    experiment_id = client.get_experiment_by_name(EXPERIMENT).experiment_id

    def logging() -> bool:
        return bool(client.search_runs([experiment_id], "attributes.status = 'RUNNING'"))

    repro = Watched(
        server_repo, sys.executable, "-m", "dvc", "repro", MLFLOW_TRACKING_URI=stack.tracking_uri
    )
    try:
        repro.wait_until(logging, poll_s=0.02)
        assert stack.server_pid is not None
        os.killpg(stack.server_pid, signal.SIGKILL)  # a crash: no goodbye to its clients
        assert repro.wait(60) != 0
    finally:
        stack.up()
    assert "lost the MLflow tracking server" in repro.output, repro.output
    assert "Traceback" not in repro.output
    assert (server_repo / "dvc.lock").read_text() == lock, "the failed stage was recorded"

    rerun = dvc(server_repo, "repro", MLFLOW_TRACKING_URI=stack.tracking_uri)
    assert stages_run(rerun) == ["evaluate"]
    runs = _server_runs(stack)[before:]
    assert [r.info.status for r in runs] == ["KILLED", "FINISHED"]
    assert runs[0].data.tags["ae_anomaly.replaced_by"] == runs[1].info.run_id
    assert_run_is_complete(server_repo, runs[1], uri=stack.tracking_uri)


def test_the_mlflow_ui_of_the_server_shows_a_run(
    stack: TeamStack, server_repo: Path, tmp_path: Path
):
    logged = _server_runs(stack)[-1]
    f1 = json.loads((server_repo / "metrics/validation.json").read_text())["histogram_forest"]
    check_run_page(stack.tracking_uri, logged, f1["f1_anomaly"], tmp_path)


def test_stopping_and_starting_the_stack_keeps_every_run(stack: TeamStack, server_repo: Path):
    before = [(r.info.run_id, r.info.status) for r in _server_runs(stack)]
    assert before
    stack.down()
    assert not stack.status()["mlflow_server"] and not stack.status()["postgres"]
    stack.up()
    assert [(r.info.run_id, r.info.status) for r in _server_runs(stack)] == before
    client = MlflowClient(stack.tracking_uri)
    assert client.list_artifacts(before[0][0], "boxplots"), "artifacts lost across a restart"


def test_two_clones_share_outputs_and_experiments_through_remotes(tmp_path: Path):
    """A git remote (bare repository) and a DVC folder remote: the second clone pulls the
    first one's outputs (then ``dvc repro`` runs nothing) and its experiment."""
    origin, storage = tmp_path / "origin.git", tmp_path / "dvc-storage"
    run(tmp_path, "git", "init", "-q", "--bare", "-b", "main", str(origin))
    first = make_repo(tmp_path / "first")
    dvc(first, "remote", "add", "-d", "shared", str(storage))
    dvc(first, "repro")
    run(first, "git", "add", "-A")
    run(first, "git", "commit", "-q", "-m", "results")
    run(first, "git", "remote", "add", "origin", str(origin))
    run(first, "git", "push", "-q", "origin", "main")
    dvc(first, "push")

    second = tmp_path / "second"
    run(tmp_path, "git", "clone", "-q", str(origin), str(second))
    dvc(second, "pull")
    started = time.monotonic()
    noop = dvc(second, "repro")
    assert stages_run(noop) == [], noop.stdout
    assert time.monotonic() - started < 30
    assert dvc(second, "status", "--json").stdout.strip() == "{}"

    dvc(first, "exp", "run", "-n", "wider-bins", "-S", "histogram_forest.bins=12")
    dvc(first, "exp", "push", "origin", "wider-bins")
    dvc(second, "exp", "pull", "origin", "wider-bins")
    shared = experiments_of(second)["wider-bins"]
    assert shared["params"]["histogram_forest"]["bins"] == 12
    assert shared["metrics"] == experiments_of(first)["wider-bins"]["metrics"]
    dvc(second, "exp", "apply", "wider-bins")
    assert stages_run(dvc(second, "repro")) == [], "the experiment's outputs were not pulled"
