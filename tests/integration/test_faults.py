"""Fault injection on the real pipeline: Ctrl-C, SIGKILL, a second ``dvc repro`` at once,
damaged files, a full disk, and params edited under a running queue.

Each case checks that nothing is lost: DVC records no stage that did not finish, no
half-written file sits under an output's name, no MLflow run stays RUNNING, and the next
``dvc repro`` ends with a ``dvc.lock`` byte-identical to an uninterrupted run's (so every
output is, too: DVC checks each one's md5 against it).
"""

from __future__ import annotations

import contextlib
import json
import shutil
import signal
import sqlite3
import sys
import time
from pathlib import Path

import pytest

from tests.integration.conftest import dvc, run, update_params
from tests.integration.dvc_helpers import (
    Watched,
    experiments_of,
    start_queue,
    wait_for_queue,
)
from tests.integration.mlflow_helpers import assert_run_is_complete, runs_of

pytestmark = pytest.mark.integration

#: How long a stopped pipeline may take to stop: "within a few seconds".
STOP_WITHIN_S = 10


@pytest.fixture(scope="module")
def long_training(reproduced_repo: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny pipeline with a training long enough (a few seconds) to interrupt in the
    middle, reproduced once: its ``dvc.lock`` is what an uninterrupted run gives."""
    repo = tmp_path_factory.mktemp("long") / "repo"
    shutil.copytree(reproduced_repo, repo, symlinks=True)
    update_params(repo, {"train_ae": {"epochs": 3000, "boxplot_every_n_epochs": 1500}})
    dvc(repo, "repro")
    run(repo, "git", "add", "-A")
    run(repo, "git", "commit", "-q", "-m", "long training")
    return repo


def _copy(source: Path, tmp_path: Path) -> Path:
    target = tmp_path / "repo"
    shutil.copytree(source, target, symlinks=True)
    return target


def _dvc_status(repo: Path) -> dict:
    return json.loads(dvc(repo, "status", "--json").stdout)


def _repro_watched(repo: Path, *args: str) -> Watched:
    return Watched(repo, sys.executable, "-m", "dvc", "repro", *args)


def _assert_recovers(repo: Path, reference_lock: str) -> None:
    """The next plain ``dvc repro`` completes and leaves exactly the uninterrupted state."""
    dvc(repo, "repro")
    assert (repo / "dvc.lock").read_text() == reference_lock
    assert _dvc_status(repo) == {}
    assert not list(repo.glob("**/.*.partial-*")), "a partial file was left behind"


def _runs_running(repo: Path) -> int:
    """How many runs the repository's SQLite store holds as RUNNING (0 before it exists).

    Read straight from the database, in a few milliseconds, so the test can act inside the
    second or so that ``evaluate`` spends logging."""
    database = repo / "mlflow.db"
    if not database.exists():
        return 0
    try:
        with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as db:
            return db.execute("select count(*) from runs where status = 'RUNNING'").fetchone()[0]
    except sqlite3.Error:  # the store is being created or migrated
        return 0


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGKILL], ids=["ctrl-c", "sigkill"])
def test_stopping_training_loses_nothing(long_training: Path, tmp_path: Path, signum):
    repo = _copy(long_training, tmp_path)
    reference = (repo / "dvc.lock").read_text()
    repro = _repro_watched(repo, "--force", "--single-item", "train_ae")
    repro.wait_for_line(r"train_ae: \d+/3000 epoch")  # training, past its first tenth
    sent = repro.send(signum)
    code = repro.wait(STOP_WITHIN_S * 3)
    assert repro.exited - sent < STOP_WITHIN_S, repro.output
    assert "the output stayed open" not in repro.output, repro.output
    assert code != 0
    if signum == signal.SIGINT:
        assert "stopped by Ctrl-C" in repro.output

    assert (repo / "dvc.lock").read_text() == reference, "the stopped stage was recorded"
    changed = _dvc_status(repo)
    assert "train_ae" in changed, changed
    assert not (repo / "models/autoencoder.pt").exists() or "train_ae" in changed
    assert not list(repo.glob("**/.*.partial-*"))
    _assert_recovers(repo, reference)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGKILL], ids=["ctrl-c", "sigkill"])
def test_stopping_evaluate_while_it_logs_leaves_no_run_running(
    repo_copy, tmp_path: Path, signum: signal.Signals
):
    repo = repo_copy()
    for store in (repo / "mlflow.db", repo / "mlartifacts"):  # a store of this copy's own
        shutil.rmtree(store) if store.is_dir() else store.unlink(missing_ok=True)
    update_params(repo, {"evaluate": {"heatmap_rows": 7}})  # a change only evaluate sees
    before = (repo / "dvc.lock").read_text()
    uninterrupted = tmp_path / "uninterrupted"
    shutil.copytree(repo, uninterrupted, symlinks=True)
    dvc(uninterrupted, "repro")
    reference = (uninterrupted / "dvc.lock").read_text()

    repro = _repro_watched(repo)
    repro.wait_until(lambda: _runs_running(repo) > 0)  # evaluate is logging its run
    sent = repro.send(signum)
    assert repro.wait(STOP_WITHIN_S * 3) != 0
    assert repro.exited - sent < STOP_WITHIN_S, repro.output
    assert "the output stayed open" not in repro.output, repro.output
    assert (repo / "dvc.lock").read_text() == before, "the stopped stage was recorded"
    assert "evaluate" in _dvc_status(repo)

    (stopped,) = runs_of(repo)
    if signum == signal.SIGINT:
        assert stopped.info.status == "KILLED"  # ended by the stage itself
        assert "stopped by Ctrl-C" in repro.output
    else:
        assert stopped.info.status == "RUNNING"  # nothing could end it...

    _assert_recovers(repo, reference)
    runs = runs_of(repo)
    assert [run.info.status for run in runs] == ["KILLED", "FINISHED"]
    if signum == signal.SIGKILL:  # ...until the next execution that logs closed it
        assert runs[0].data.tags["ae_anomaly.replaced_by"] == runs[1].info.run_id
    assert_run_is_complete(repo, runs[1])


def test_a_second_repro_in_the_same_workspace_fails_at_once(long_training: Path, tmp_path):
    repo = _copy(long_training, tmp_path)
    reference = (repo / "dvc.lock").read_text()
    first = _repro_watched(repo, "--force", "--single-item", "train_ae")
    first.wait_for_line(r"Running stage 'train_ae'")

    started = time.monotonic()
    second = dvc(repo, "repro", check=False)
    waited = time.monotonic() - started

    assert second.returncode != 0
    assert "lock" in (second.stdout + second.stderr).lower(), second.stderr
    assert waited < 15, f"the second repro waited {waited:.0f} s"
    assert first.wait(300) == 0, first.output
    assert (repo / "dvc.lock").read_text() == reference
    assert _dvc_status(repo) == {}


@pytest.mark.parametrize(
    ("damaged", "reader"),
    [("data/split/train.npz", "train_ae"), ("models/autoencoder.pt", "residuals")],
)
def test_a_damaged_file_is_named_with_the_fix_and_dvc_restores_it(
    repo_copy, damaged: str, reader: str
):
    repo = repo_copy()
    reference = (repo / "dvc.lock").read_text()
    path = repo / damaged
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])

    failed = dvc(repo, "repro", "--single-item", reader, check=False)

    assert failed.returncode != 0
    message = failed.stdout + failed.stderr
    assert f"{damaged} is damaged or incomplete" in message
    assert f"dvc checkout --force {damaged}" in message
    assert "Traceback" not in message
    assert (repo / "dvc.lock").read_text() == reference
    dvc(repo, "checkout", "--force", damaged)
    _assert_recovers(repo, reference)


def test_a_full_disk_fails_clearly_and_leaves_no_half_written_output(repo_copy):
    """``python`` on PATH is a wrapper that caps file sizes at 4 KiB (RLIMIT_FSIZE, what a
    full disk looks like to a writer) for the stage it runs; DVC itself is not capped."""
    repo = repo_copy()
    reference = (repo / "dvc.lock").read_text()
    capped = repo.parent / "capped-bin"
    capped.mkdir()
    wrapper = capped / "python"
    wrapper.write_text(
        f"#!{sys.executable}\n"
        "import os, resource, sys\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))\n"
        f"os.execv({sys.executable!r}, [{sys.executable!r}, *sys.argv[1:]])\n"
    )
    wrapper.chmod(0o755)
    path = f"{capped}:{Path(sys.executable).parent}:/usr/bin:/bin"

    failed = dvc(repo, "repro", "--force", "--single-item", "generate", check=False, PATH=path)

    assert failed.returncode != 0
    message = failed.stdout + failed.stderr
    assert "stage generate could not write data/raw/" in message
    assert "File too large" in message and "Traceback" not in message
    assert (repo / "dvc.lock").read_text() == reference
    assert "generate" in _dvc_status(repo)
    assert not list((repo / "data/raw").glob("*")), "a half-written output was left"
    _assert_recovers(repo, reference)


def test_editing_params_while_a_queued_sweep_runs_does_not_change_it(repo_copy):
    repo = repo_copy()
    run(repo, "git", "add", "-A")
    run(repo, "git", "commit", "-q", "-m", "baseline results")
    dvc(repo, "exp", "run", "--queue", "-S", "evaluate.heatmap_rows=3,4")
    start_queue(repo, jobs=1)
    update_params(repo, {"train_ae": {"lr": 0.5}, "evaluate": {"heatmap_rows": 9}})
    try:
        status = wait_for_queue(repo)
    finally:
        dvc(repo, "queue", "stop", check=False)
    assert status.count("Success") == 2, status

    experiments = experiments_of(repo).values()
    assert sorted(e["params"]["evaluate"]["heatmap_rows"] for e in experiments) == [3, 4]
    assert {e["params"]["train_ae"]["lr"] for e in experiments} == {0.003}
    workspace = (repo / "params.yaml").read_text()
    assert "lr: 0.5" in workspace and "heatmap_rows: 9" in workspace  # the edit is kept
