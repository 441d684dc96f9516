"""The real ``dvc repro`` on tiny params: outputs, stage isolation, determinism, bad params."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import yaml

from ae_anomaly.core.models import MODEL_NAMES
from ae_anomaly.report.evaluation import METRIC_NAMES
from tests.integration.conftest import dvc, make_repo, stages_run, update_params

pytestmark = pytest.mark.integration

ALL_STAGES = [
    "generate",
    "split",
    "baselines",
    "train_ae",
    "residuals",
    "detector",
    "evaluate",
]


def _lock_outs(repo: Path) -> dict[str, str]:
    """Every output path recorded in dvc.lock with its md5."""
    lock = yaml.safe_load((repo / "dvc.lock").read_text())
    return {
        out["path"]: out["md5"]
        for stage in lock["stages"].values()
        for out in stage.get("outs", [])
    }


def test_full_repro_writes_metrics_for_every_model(reproduced_repo: Path):
    metrics = json.loads((reproduced_repo / "metrics/validation.json").read_text())
    assert list(metrics) == list(MODEL_NAMES)
    for model, values in metrics.items():
        assert set(values) == set(METRIC_NAMES), model
        assert all(0 <= value <= 1 for value in values.values() if not math.isnan(value)), model
    report = (reproduced_repo / "reports/classification_reports.md").read_text()
    assert "## histogram_forest" in report and "precision" in report
    assert sorted(p.name for p in (reproduced_repo / "plots/boxplots").iterdir()) == [
        "epoch_001.png",
        "epoch_002.png",
    ]
    figures = {p.name for p in (reproduced_repo / "plots/figures").rglob("*.png")}
    assert {
        "reconstructions.png",
        "difference_heatmaps.png",
        "residual_histograms.png",
        "ae_loss.png",
        "error_distribution_over_epochs.png",
    } <= figures
    assert (
        (reproduced_repo / "plots/ae_loss.csv")
        .read_text()
        .startswith("epoch,train_loss,holdout_loss")
    )


def test_nothing_reruns_when_nothing_changed(reproduced_repo: Path, repo_copy):
    repo = repo_copy()
    result = dvc(repo, "repro")
    assert stages_run(result) == []
    assert "is up to date" in result.stdout or "Data and pipelines are up to date" in result.stdout


def test_histogram_bins_change_reruns_only_the_detector_and_evaluate(repo_copy):
    repo = repo_copy()
    update_params(repo, {"histogram_forest": {"bins": 7}})
    assert stages_run(dvc(repo, "repro")) == ["detector", "evaluate"]


def test_training_change_reruns_the_autoencoder_chain_only(repo_copy):
    repo = repo_copy()
    update_params(repo, {"train_ae": {"lr": 0.002}})
    assert stages_run(dvc(repo, "repro")) == [
        "train_ae",
        "residuals",
        "detector",
        "evaluate",
    ]


def test_editing_the_generator_reruns_only_generate(repo_copy):
    """A refactor of the generator that keeps its output reruns nothing after it."""
    repo = repo_copy()
    generator = repo / "ae_anomaly/data/synthetic.py"
    generator.write_text(generator.read_text() + "\n# a refactor that changes no output\n")
    assert stages_run(dvc(repo, "repro")) == ["generate"]


def test_editing_histogram_code_does_not_rerun_baselines(repo_copy):
    repo = repo_copy()
    features = repo / "ae_anomaly/features/residuals.py"
    features.write_text(features.read_text() + "\n# a change to the histogram code\n")
    ran = stages_run(dvc(repo, "repro"))
    assert "baselines" not in ran and "train_ae" not in ran
    assert ran == ["residuals", "detector", "evaluate"]  # the deployed detector uses it too


def test_two_clean_runs_give_byte_identical_outputs(reproduced_repo: Path, tmp_path: Path):
    second = make_repo(tmp_path / "second")
    result = dvc(second, "repro")
    assert stages_run(result) == ALL_STAGES
    first_outs, second_outs = _lock_outs(reproduced_repo), _lock_outs(second)
    assert first_outs.keys() == second_outs.keys()
    differing = {path for path in first_outs if first_outs[path] != second_outs[path]}
    assert not differing, f"outputs differ between two clean runs: {sorted(differing)}"


@pytest.mark.parametrize(
    ("section", "key", "value", "dotted"),
    [
        ("train_ae", "epoch", 3, "train_ae.epoch"),
        ("histogram_forest", "bins", 0, "histogram_forest.bins"),
        ("baselines", "n_jobs", "all", "baselines.n_jobs"),
        ("preprocess", "normalize", "robust", "preprocess.normalize"),
    ],
)
def test_bad_params_fail_before_any_output(tmp_path: Path, section, key, value, dotted):
    repo = make_repo(tmp_path / "bad")
    update_params(repo, {section: {key: value}})
    result = dvc(repo, "repro", check=False)
    assert result.returncode != 0
    assert dotted in result.stdout + result.stderr
    assert not (repo / "data").exists() and not (repo / "metrics").exists()
