"""A throw-away git + DVC repository holding this project's pipeline with tiny params."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tooling.sandbox import dvc, make_sandbox, pipeline_env, run, stages_run, update_params

__all__ = ["dvc", "make_repo", "pipeline_env", "run", "stages_run", "update_params"]

#: Few curves of 64 points and 2 epochs: the real pipeline in seconds per stage.
TINY_OVERRIDES: dict[str, dict[str, Any]] = {
    "generate": {
        "synthetic": {
            "sample_size": 64,
            "pool_normal": 150,
            "pool_anomalous": 30,
            "validation_normal": 20,
            "validation_anomalous": 20,
        }
    },
    "baselines": {"n_jobs": 1},
    "train_ae": {
        "network": {"mlp": {"hidden_sizes": [32, 16]}},
        "epochs": 2,
        "batch_size": 16,
        "boxplot_every_n_epochs": 1,
    },
    "histogram_forest": {"n_jobs": 1},
}

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def make_repo(path: Path, overrides: dict[str, dict[str, Any]] | None = None) -> Path:
    """The project as a fresh sandbox repository with tiny params (plus ``overrides``)."""
    repo = make_sandbox(path, overrides=TINY_OVERRIDES)
    if overrides:
        update_params(repo, overrides)
        run(repo, "git", "commit", "-q", "-am", "overrides")
    return repo


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
