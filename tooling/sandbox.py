"""Run the real pipeline in a throw-away copy of this project (tests and benchmarks).

A sandbox is a fresh git repository holding the project's files as they are in the working
tree, with DVC initialised and its analytics off, so ``dvc repro`` / ``dvc exp`` can run
there without touching the user's repository, cache or MLflow store.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def project_files(root: Path = PROJECT_ROOT) -> list[str]:
    """Files git tracks or would track (untracked but not ignored), relative to ``root``."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\0")
    return [name for name in listed if name and (root / name).is_file()]


def pipeline_env(**extra: str) -> dict[str, str]:
    """This interpreter's folder first on PATH (stage commands call ``python``), telemetry off,
    a git identity, and no DVC/MLflow variables leaking in from the caller."""
    env = {
        key: value for key, value in os.environ.items() if not key.startswith(("DVC_", "MLFLOW_"))
    }
    env.update(
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        MLFLOW_DISABLE_TELEMETRY="true",
        DO_NOT_TRACK="true",
        DVC_NO_ANALYTICS="1",
        GIT_AUTHOR_NAME="sandbox",
        GIT_AUTHOR_EMAIL="sandbox@localhost",
        GIT_COMMITTER_NAME="sandbox",
        GIT_COMMITTER_EMAIL="sandbox@localhost",
    )
    env.pop("PYTHONPATH", None)  # stages import the package from the sandbox they run in
    env.update(extra)
    return env


def run(cwd: Path, *command: str, check: bool = True, **env: str) -> subprocess.CompletedProcess:
    """Run a command in the sandbox; on failure raise with its whole output."""
    result = subprocess.run(
        command, cwd=cwd, env=pipeline_env(**env), capture_output=True, text=True
    )
    if check and result.returncode != 0:
        raise RuntimeError(
            f"{' '.join(command)} exited {result.returncode}\n{result.stdout}\n{result.stderr}"
        )
    return result


def dvc(cwd: Path, *args: str, check: bool = True, **env: str) -> subprocess.CompletedProcess:
    return run(cwd, sys.executable, "-m", "dvc", *args, check=check, **env)


def stages_run(result: subprocess.CompletedProcess) -> list[str]:
    """Names of the stages a ``dvc repro`` / ``dvc exp run`` actually executed, in order."""
    return re.findall(r"Running stage '([^']+)'", result.stdout)


def update_params(sandbox: Path, overrides: dict[str, Any]) -> None:
    """Merge ``{"section": {"key": value}}`` (nested dicts merge) into the sandbox's params.yaml."""

    def merge(target: dict[str, Any], changes: dict[str, Any]) -> None:
        for key, value in changes.items():
            if isinstance(value, dict) and isinstance(target.get(key), dict):
                merge(target[key], value)
            else:
                target[key] = value

    path = sandbox / "params.yaml"
    params = yaml.safe_load(path.read_text())
    merge(params, overrides)
    path.write_text(yaml.safe_dump(params, sort_keys=False))


def make_sandbox(dest: Path, overrides: dict[str, Any] | None = None) -> Path:
    """Copy the project into ``dest`` as a new git + DVC repository and commit it."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in project_files():
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(PROJECT_ROOT / name, target)
    for generated in ("dvc.lock", "metrics"):  # the sandbox starts with no results
        path = dest / generated
        shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)
    if overrides:
        update_params(dest, overrides)
    run(dest, "git", "init", "-q", "-b", "main")
    if not (dest / ".dvc").is_dir():
        dvc(dest, "init", "-q")
    dvc(dest, "config", "core.analytics", "false")
    run(dest, "git", "add", "-A")
    run(dest, "git", "commit", "-q", "-m", "sandbox")
    return dest


def start_queue(repo: Path, jobs: int, **env: str) -> None:
    """``dvc queue start`` detaches workers that inherit its output streams: capturing them
    would wait for the workers to exit, so its output goes to a log file instead."""
    with open(repo.parent / "queue-start.log", "w") as log:
        subprocess.run(
            [sys.executable, "-m", "dvc", "queue", "start", "-j", str(jobs)],
            cwd=repo,
            env=pipeline_env(**env),
            stdout=log,
            stderr=subprocess.STDOUT,
            check=True,
            timeout=120,
        )


def wait_for_queue(repo: Path, timeout_s: float = 600, poll_s: float = 2) -> str:
    """``dvc queue status`` once nothing is queued or running any more."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        status = dvc(repo, "queue", "status").stdout
        if not re.search(r"\b(Queued|Running)\b", status):
            return status
        time.sleep(poll_s)
    raise AssertionError(f"queue did not finish in {timeout_s} s:\n{status}")
