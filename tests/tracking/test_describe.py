"""Run names and descriptions: what tells runs apart in the MLflow runs list."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import yaml

from ae_anomaly.core.params import flatten, load_params
from ae_anomaly.tracking.describe import (
    changed_params,
    committed_params,
    data_source,
    run_description,
    run_identity,
    run_name,
)

COMMIT = "3f2a1bc9d0e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8"


def _params() -> dict[str, object]:
    return flatten(load_params("params.yaml"))


def test_an_experiment_keeps_its_name():
    assert run_name("bins-7", COMMIT, {"histogram_forest.bins": (20, 7)}) == "bins-7"


def test_a_plain_run_is_named_after_its_commit_and_what_differs():
    assert run_name(None, COMMIT, {}) == "3f2a1bc"
    changes = {"histogram_forest.bins": (20, 30), "train_ae.network.mlp.hidden_sizes": ([1], [8])}
    assert run_name(None, COMMIT, changes) == (
        "3f2a1bc histogram_forest.bins=30 train_ae.network.mlp.hidden_sizes=[8]"
    )
    many = {f"k{i}": (0, i) for i in range(5)}
    assert run_name(None, COMMIT, many) == "3f2a1bc k0=0 k1=1 k2=2 +2 more"
    assert run_name(None, None, None) == "no-commit params not comparable"


def test_changed_params_compare_values_not_spelling():
    current = _params()
    assert changed_params(current, dict(current)) == {}
    edited = {**current, "train_ae.lr": 0.002}
    assert changed_params(edited, current) == {"train_ae.lr": (current["train_ae.lr"], 0.002)}


def test_the_description_names_the_data_the_changes_and_the_results():
    params = _params()
    text = run_description(params, COMMIT, {"train_ae.lr": (0.003, 0.002)}, "| model |")
    assert "**Data**: the article's synthetic curves of 256 points: pool 2000 normal" in text
    assert "against `3f2a1bc`: `train_ae.lr` 0.003 → 0.002" in text
    assert text.endswith("| model |")
    files = {
        **params,
        "generate.source": "files",
        "generate.files.train": "inputs/a.tsv",
        "generate.files.validation": "inputs/b.tsv",
        "generate.files.normal_labels": [1, "ok"],
    }
    assert data_source(files) == (
        'files: pool `inputs/a.tsv`, validation `inputs/b.tsv`, normal labels [1,"ok"]'
    )


def test_names_compare_against_the_committed_params(tmp_path: Path):
    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=tmp_path, capture_output=True, text=True)
        return done.stdout.strip()

    assert committed_params(tmp_path) is None  # not a repository
    shutil.copy("params.yaml", tmp_path / "params.yaml")
    git("init", "-q")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "--allow-empty", "-m", "0")
    assert committed_params(tmp_path) is None  # no params.yaml in the commit
    git("add", "params.yaml")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "params")
    commit = git("rev-parse", "HEAD")
    params = _params()
    name, description = run_identity(tmp_path, params, commit, None, "table")
    assert name == commit[:7] and "nothing: the params of" in description

    raw = yaml.safe_load((tmp_path / "params.yaml").read_text())
    raw["histogram_forest"]["bins"] = 31
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw))  # uncommitted: not compared
    edited = {**params, "histogram_forest.bins": 31}
    assert run_identity(tmp_path, edited, commit, None, "")[0] == (
        f"{commit[:7]} histogram_forest.bins=31"
    )
