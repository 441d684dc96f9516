"""A throw-away git + DVC repository holding this project's pipeline with tiny params."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import REPO_ROOT

PROJECT_FILES = ["ae_anomaly", "stages", "dvc.yaml", "params.yaml", ".gitignore", "pyproject.toml"]

#: Few curves of 64 points and 2 epochs: the real pipeline in seconds per stage.
TINY_OVERRIDES: dict[str, dict[str, Any]] = {
    "generate": {
        "sample_size": 64,
        "pool_normal": 150,
        "pool_anomalous": 30,
        "validation_normal": 20,
        "validation_anomalous": 20,
    },
    "baselines": {"n_jobs": 1},
    "train_ae": {"hidden_sizes": [32, 16], "epochs": 2, "batch_size": 16},
    "histogram_forest": {"n_jobs": 1},
}


def pipeline_env(**extra: str) -> dict[str, str]:
    """The test's interpreter first on PATH (stage commands call ``python``), telemetry off."""
    env = {
        key: value for key, value in os.environ.items() if not key.startswith(("DVC_", "MLFLOW_"))
    }
    env.update(
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        MLFLOW_DISABLE_TELEMETRY="true",
        DO_NOT_TRACK="true",
        DVC_NO_ANALYTICS="1",
        GIT_AUTHOR_NAME="test",
        GIT_AUTHOR_EMAIL="test@localhost",
        GIT_COMMITTER_NAME="test",
        GIT_COMMITTER_EMAIL="test@localhost",
        PYTHONPATH=str(REPO_ROOT),
    )
    env.update(extra)
    return env


def run(repo: Path, *command: str, check: bool = True, **env: str) -> subprocess.CompletedProcess:
    result = subprocess.run(
        command, cwd=repo, env=pipeline_env(**env), capture_output=True, text=True, timeout=600
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"{' '.join(command)} exited {result.returncode}\n{result.stdout}\n{result.stderr}"
        )
    return result


def dvc(repo: Path, *args: str, check: bool = True, **env: str) -> subprocess.CompletedProcess:
    return run(repo, sys.executable, "-m", "dvc", *args, check=check, **env)


def stages_run(result: subprocess.CompletedProcess) -> list[str]:
    return re.findall(r"Running stage '([^']+)'", result.stdout)


def update_params(repo: Path, overrides: dict[str, dict[str, Any]]) -> None:
    path = repo / "params.yaml"
    params = yaml.safe_load(path.read_text())
    for section, values in overrides.items():
        params[section].update(values)
    path.write_text(yaml.safe_dump(params, sort_keys=False))


def make_repo(path: Path, overrides: dict[str, dict[str, Any]] | None = None) -> Path:
    """Copy the project into ``path`` as a fresh git repository with DVC initialised."""
    path.mkdir(parents=True, exist_ok=True)
    for name in PROJECT_FILES:
        source = REPO_ROOT / name
        if source.is_dir():
            shutil.copytree(source, path / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, path / name)
    update_params(path, TINY_OVERRIDES | (overrides or {}))
    run(path, "git", "init", "-q", "-b", "main")
    dvc(path, "init", "-q")
    dvc(path, "config", "core.analytics", "false")
    run(path, "git", "add", "-A")
    run(path, "git", "commit", "-q", "-m", "tiny pipeline")
    return path


@pytest.fixture(scope="session")
def reproduced_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny repository after one full ``dvc repro``; tests copy it before changing it."""
    repo = make_repo(tmp_path_factory.mktemp("pipeline") / "repo")
    dvc(repo, "repro")
    return repo


@pytest.fixture
def repo_copy(reproduced_repo: Path, tmp_path: Path) -> Callable[[], Path]:
    def copy() -> Path:
        target = tmp_path / "copy"
        shutil.copytree(reproduced_repo, target, symlinks=True)
        return target

    return copy
