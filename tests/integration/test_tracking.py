"""Every pipeline execution becomes one complete MLflow run in the repository's store."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml

from tests.integration.conftest import dvc, stages_run
from tests.integration.mlflow_helpers import (
    assert_run_is_complete,
    assert_run_spans_the_stages,
    client_for,
    runs_of,
)

pytestmark = pytest.mark.integration


def test_repro_creates_one_complete_run(reproduced_repo):
    runs = runs_of(reproduced_repo)
    assert len(runs) == 1
    assert_run_is_complete(reproduced_repo, runs[0])
    commit = runs[0].data.tags["git.commit"]
    assert runs[0].info.run_name == commit[:7]  # nothing differs from the commit's params
    description = runs[0].data.tags["mlflow.note.content"]
    assert "**Data**: the article's synthetic curves of 64 points" in description
    assert f"**Params changed**: nothing: the params of `{commit[:7]}`" in description
    assert "| histogram_forest |" in description
    inputs = {i.dataset.name: i.dataset for i in runs[0].inputs.dataset_inputs}
    lock = yaml.safe_load((reproduced_repo / "dvc.lock").read_text())["stages"]["generate"]
    md5 = {Path(out["path"]).stem: out["md5"] for out in lock["outs"]}
    assert {name: dataset.digest for name, dataset in inputs.items()} == md5
    assert runs[0].data.tags["git.dirty"] == "false"  # DVC rewriting dvc.lock is no local change
    stages = ["generate", "split", "baselines", "train_ae", "residuals", "detector", "evaluate"]
    assert_run_spans_the_stages(runs[0], ran=stages, cached=[])
    table = client_for(reproduced_repo).load_table(
        runs[0].info.experiment_id, "results/stage_costs.json", run_ids=[runs[0].info.run_id]
    )
    assert sorted(table["stage"]) == sorted(stages)


def test_experiment_changing_only_histograms_still_logs_a_complete_run(repo_copy):
    repo = repo_copy()
    result = dvc(repo, "exp", "run", "-n", "bins-7", "-S", "histogram_forest.bins=7")
    assert stages_run(result) == ["detector", "evaluate"]
    runs = runs_of(repo)
    assert len(runs) == 2
    latest = runs[-1]
    assert_run_is_complete(repo, latest)  # loss curves and boxplots come from the cached train_ae
    assert latest.data.tags["dvc.exp_name"] == "bins-7"
    assert latest.info.run_name == "bins-7"
    assert "`histogram_forest.bins` 20 → 7" in latest.data.tags["mlflow.note.content"]
    assert latest.data.tags.get("dvc.baseline_rev")
    cached = ["generate", "split", "baselines", "train_ae", "residuals"]
    assert_run_spans_the_stages(latest, ran=["detector", "evaluate"], cached=cached)


def test_unreachable_store_fails_the_stage_quickly_naming_the_uri(repo_copy):
    repo = repo_copy()
    bad_uri = f"sqlite:///{repo}/nowhere/x.db"
    started = time.monotonic()
    result = dvc(
        repo,
        "repro",
        "--single-item",
        "--force",
        "evaluate",
        check=False,
        MLFLOW_TRACKING_URI=bad_uri,
    )
    assert result.returncode != 0
    assert bad_uri in result.stdout + result.stderr
    assert time.monotonic() - started < 120  # one stage's start-up, never a hang on retries
    assert all(run.info.status != "RUNNING" for run in runs_of(repo))
