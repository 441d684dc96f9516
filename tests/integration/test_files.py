"""The pipeline on a user's curve files: real GunPoint curves (150 points) through the real
``dvc repro``, DVC's reruns when a file is replaced, unlabelled files, and bad files."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml

from ae_anomaly.core.models import MODEL_NAMES
from tests.integration.conftest import FIXTURES, dvc, make_repo, run, stages_run, update_params
from tests.integration.mlflow_helpers import assert_run_is_complete, runs_of

pytestmark = pytest.mark.integration

GUNPOINT = FIXTURES / "gunpoint"
FILES = {
    "generate": {
        "source": "files",
        "files": {
            "train": "inputs/train.tsv",
            "validation": "inputs/validation.tsv",
            "layout": "ucr",
            "normal_labels": [1],
        },
    },
    "split": {"test_size": 0.3, "stratify": True},
    "preprocess": {"normalize": "zscore"},
    "train_ae": {"network": {"mlp": {"output_activation": "identity"}}},
}


def _files_repo(path: Path, overrides: dict | None = None, dvc_add: bool = False) -> Path:
    repo = make_repo(path, FILES)
    for name in ("train.tsv", "validation.tsv"):
        shutil.copy(GUNPOINT / name, repo / "inputs" / name)
    if dvc_add:  # the README's recipe for large files: DVC caches them, git tracks .dvc files
        dvc(repo, "add", "inputs/train.tsv", "inputs/validation.tsv")
    if overrides:
        update_params(repo, overrides)
    run(repo, "git", "add", "-A")
    run(repo, "git", "commit", "-q", "-m", "my curves")
    return repo


@pytest.fixture(scope="module")
def gunpoint_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    repo = _files_repo(tmp_path_factory.mktemp("files") / "repo", dvc_add=True)
    dvc(repo, "repro")
    return repo


def test_real_curves_of_150_points_through_every_stage(gunpoint_repo: Path):
    metrics = json.loads((gunpoint_repo / "metrics/validation.json").read_text())
    assert list(metrics) == list(MODEL_NAMES)
    assert all("roc_auc" in values for values in metrics.values()), metrics
    summary = json.loads((gunpoint_repo / "metrics/train_ae.json").read_text())
    assert summary["n_train"] + summary["n_holdout"] > 5
    assert {p.name for p in (gunpoint_repo / "plots/figures/evaluate").glob("*.png")} >= {
        "reconstructions.png",
        "roc_pr.png",
        "residual_histograms.png",
    }
    (run_,) = runs_of(gunpoint_repo)
    assert_run_is_complete(gunpoint_repo, run_)
    assert run_.data.params["generate.source"] == "files"


def test_replacing_the_validation_file_does_not_retrain(gunpoint_repo: Path, tmp_path: Path):
    repo = tmp_path / "copy"
    shutil.copytree(gunpoint_repo, repo, symlinks=True)
    shutil.copy(GUNPOINT / "validation_other.tsv", repo / "inputs/validation.tsv")
    dvc(repo, "add", "inputs/validation.tsv")
    ran = stages_run(dvc(repo, "repro"))
    assert ran == ["generate", "baselines", "evaluate"]  # the detector is fitted on the pool


def test_replacing_the_training_file_reruns_everything(gunpoint_repo: Path, tmp_path: Path):
    repo = tmp_path / "copy"
    shutil.copytree(gunpoint_repo, repo, symlinks=True)
    shutil.copy(GUNPOINT / "train_other.tsv", repo / "inputs/train.tsv")
    dvc(repo, "add", "inputs/train.tsv")
    ran = stages_run(dvc(repo, "repro"))
    assert ran == [
        "generate", "split", "baselines", "train_ae", "residuals", "detector", "evaluate",
    ]  # fmt: skip


def test_unlabelled_curves_train_the_autoencoder_and_report_the_rest_not_fitted(
    tmp_path: Path,
):
    repo = _files_repo(tmp_path / "repo", {"generate": {"files": {"layout": "unlabelled"}}})
    for name in ("train.tsv", "validation.tsv"):  # drop the label column
        path = repo / "inputs" / name
        path.write_text(
            "".join(line.split("\t", 1)[1] for line in path.read_text().splitlines(True))
        )
    run(repo, "git", "commit", "-q", "-am", "no labels")
    result = dvc(repo, "repro")
    metrics = json.loads((repo / "metrics/validation.json").read_text())
    not_fitted = {name for name, values in metrics.items() if values.get("status") == "not fitted"}
    assert not_fitted == {
        "one_class_svm", "isolation_forest", "random_forest", "difference_forest",
        "histogram_forest",
    }  # fmt: skip
    assert "f1_anomaly" in metrics["ae_threshold"]
    output = result.stdout + result.stderr
    assert "random_forest: not fitted: needs anomalous training curves" in output
    (run_,) = runs_of(repo)
    assert run_.data.tags["histogram_forest.status"] == "not fitted"
    assert "ae_threshold.f1_anomaly" in run_.data.metrics


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("1\t0.5\t0.6\n2\t0.1\n", "inputs/train.tsv, line 2: 2 values, but the first row has 3"),
        ("1\t0.5\tnan\n", "inputs/train.tsv, line 1, column 3: a missing value"),
        ("", "inputs/train.tsv: no curves: the file is empty"),
    ],
)
def test_a_bad_file_fails_generate_naming_it_and_writes_nothing(tmp_path, content, expected):
    repo = _files_repo(tmp_path / "repo")
    (repo / "inputs/train.tsv").write_text(content)
    run(repo, "git", "commit", "-q", "-am", "broken file")
    result = dvc(repo, "repro", check=False)
    assert result.returncode != 0
    assert expected in result.stdout + result.stderr
    assert not (repo / "data").exists() and not (repo / "dvc.lock").exists()


def _six_class_archive(path: Path, per_class: int, seed: int) -> None:
    """A UCR-layout file of six classes of 64-point curves, a bump at a place of its own."""
    rng = np.random.default_rng(seed)
    grid = np.linspace(0, 1, 64)
    rows = []
    for label in range(1, 7):
        for _ in range(per_class):
            centre = 0.1 + 0.13 * (label - 1) + rng.normal(0, 0.01)
            curve = np.exp(-((grid - centre) ** 2) / 0.005) + rng.normal(0, 0.02, grid.size)
            rows.append("\t".join([str(label), *(f"{value:.5f}" for value in curve)]))
    path.write_text("\n".join(rows) + "\n")


def test_one_vs_rest_with_one_normal_class_of_six_runs(tmp_path: Path):
    """12 normal curves of 72, test_size 0.4: the worst case (every test curve normal) would
    leave none to train on; the stratified split that is made leaves 7."""
    repo = _files_repo(tmp_path / "repo", {"generate": {"files": {"normal_labels": [3]}}})
    _six_class_archive(repo / "inputs/train.tsv", 12, seed=0)
    _six_class_archive(repo / "inputs/validation.tsv", 6, seed=1)
    update_params(repo, yaml.safe_load((repo / "presets/files.yaml").read_text()))
    run(repo, "git", "commit", "-q", "-am", "six classes, class 3 normal, the files preset")
    dvc(repo, "repro")
    summary = json.loads((repo / "metrics/train_ae.json").read_text())
    assert summary["n_train"] + summary["n_holdout"] == 7
    metrics = json.loads((repo / "metrics/validation.json").read_text())
    assert all("roc_auc" in metrics[name] for name in MODEL_NAMES), metrics
    # The preset's standardised error travels in the deployed detector.
    scale = np.load(repo / "models/detector/ae_threshold.npz")
    assert scale["scale"].shape == (64,) and (scale["scale"] > 0).all()
