"""``dvc exp`` workflows: a parallel queued sweep, experiment tables, and DVC plots."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from ae_anomaly.core.threads import available_cores
from tests.integration.conftest import dvc, run
from tests.integration.dvc_helpers import experiments_of, start_queue, wait_for_queue
from tests.integration.mlflow_helpers import assert_run_is_complete, runs_of

pytestmark = pytest.mark.integration


def test_parallel_queued_sweep_gives_experiments_and_complete_mlflow_runs(repo_copy):
    repo = repo_copy()
    run(repo, "git", "add", "-A")
    run(repo, "git", "commit", "-q", "-m", "baseline results")
    runs_before = len(runs_of(repo))
    dvc(repo, "exp", "run", "--queue", "-S", "train_ae.network.mlp.latent_dim=2,8")
    start_queue(repo, jobs=2)
    try:
        status = wait_for_queue(repo)
    finally:
        dvc(repo, "queue", "stop", check=False)
    assert status.count("Success") == 2, status
    # Two experiments at once share the machine: every stage took half of it, not all of it.
    logs = list((repo / ".dvc/tmp/exps/run").glob("*/*.out"))  # each experiment's output
    assert len(logs) == 2, logs
    shares = set(
        re.findall(
            r"stage train_ae: (\d+) thread\(s\)",
            "".join(path.read_text(errors="replace") for path in logs),
        )
    )
    assert shares == {str(max(1, available_cores() // 2))}, shares

    experiments = experiments_of(repo)
    assert sorted(
        e["params"]["train_ae"]["network"]["mlp"]["latent_dim"] for e in experiments.values()
    ) == [2, 8]
    for experiment in experiments.values():
        metrics = experiment["metrics"]["metrics/validation.json"]
        assert set(metrics) >= {"histogram_forest", "ae_threshold", "one_class_svm"}

    runs = runs_of(repo)[runs_before:]
    assert sorted(r.data.tags["dvc.exp_name"] for r in runs) == sorted(experiments)
    for mlflow_run in runs:
        experiment = experiments[mlflow_run.data.tags["dvc.exp_name"]]
        assert mlflow_run.data.params["train_ae.network.mlp.latent_dim"] == str(
            experiment["params"]["train_ae"]["network"]["mlp"]["latent_dim"]
        )
        assert_run_is_complete(
            repo,
            mlflow_run,
            params=experiment["params"],
            metrics=experiment["metrics"]["metrics/validation.json"],
        )
    assert not list((repo / ".dvc/tmp/exps").glob("**/mlflow.db")), (
        "runs must land in the main store"
    )


def test_plots_show_writes_html_with_loss_roc_and_pr(reproduced_repo: Path, tmp_path: Path):
    out = tmp_path / "plots"
    dvc(reproduced_repo, "plots", "show", "--out", str(out))
    html = (out / "index.html").read_text()
    for title in (
        "Autoencoder loss per epoch",
        "ROC on the validation set",
        "Precision-recall on the validation set",
    ):
        assert title in html
    for model in ("histogram_forest", "one_class_svm"):
        assert f"plots/roc/{model}.csv" in html and f"plots/pr/{model}.csv" in html
    assert "Confusion matrix histogram_forest" in html
    assert any(
        name.startswith("workspace_plots_boxplots_epoch_")
        for name in (p.name for p in (out / "static").iterdir())
    )


def test_metrics_are_declared_for_dvc(reproduced_repo: Path):
    shown = json.loads(dvc(reproduced_repo, "metrics", "show", "--json").stdout)
    metrics = shown[""]["data"]  # DVC keys the workspace as ""
    assert "histogram_forest" in metrics["metrics/validation.json"]["data"]
    assert "best_holdout_loss" in metrics["metrics/train_ae.json"]["data"]
    stages = yaml.safe_load((reproduced_repo / "dvc.yaml").read_text())["stages"]
    assert "metrics/validation.json" in json.dumps(stages["evaluate"]["metrics"])
