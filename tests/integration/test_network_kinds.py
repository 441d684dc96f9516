"""The shipped network kinds through the real pipeline: ``dvc exp run -S
train_ae.network.kind=<kind>`` retrains only the autoencoder chain, and the detector it
deploys scores the validation curves as ``evaluate`` reported, from the CLI and the registered
MLflow model alike."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.integration.conftest import dvc, run, stages_run
from tests.integration.scoring_helpers import assert_every_path_scores_as_evaluate_reported

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("kind", ["conv", "vae"])
def test_a_network_kind_is_one_override_and_deploys_like_the_mlp(repo_copy, kind):
    repo: Path = repo_copy()
    result = dvc(repo, "exp", "run", "-S", f"train_ae.network.kind={kind}")
    assert stages_run(result) == ["train_ae", "residuals", "detector", "evaluate"]
    checkpoint = run(
        repo,
        "python",
        "-c",
        "import torch; print(torch.load('models/autoencoder.pt', weights_only=True)['kind'])",
    )
    assert checkpoint.stdout.strip() == kind
    summary = json.loads((repo / "metrics/train_ae.json").read_text())
    assert summary["n_train"] > 0 and summary["epochs_run"] == 2

    assert_every_path_scores_as_evaluate_reported(
        repo, ["ae_threshold", "histogram_forest", "difference_forest"]
    )
