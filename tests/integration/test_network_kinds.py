"""The shipped network kinds through the real pipeline: ``dvc exp run -S
train_ae.network.kind=<kind>`` retrains only the autoencoder chain, and the detector it
deploys scores the validation curves as ``evaluate`` reported, from the CLI and the registered
MLflow model alike."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.integration.conftest import dvc, run, stages_run

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

    reported = np.genfromtxt(repo / "reports/validation_scores.csv", delimiter=",", names=True)
    run(
        repo, "python", "-m", "ae_anomaly.cli", "score", "data/raw/validation.npz",
        "--detector", "models/detector", "-o", "cli.csv",
    )  # fmt: skip
    scored = np.genfromtxt(repo / "cli.csv", delimiter=",", names=True)
    served = run(
        repo,
        "python",
        "-c",
        "import mlflow, numpy as np, sys;"
        f"mlflow.set_tracking_uri('sqlite:///{repo}/mlflow.db');"
        "client = mlflow.MlflowClient();"
        "version = max(int(v.version) for v in client.search_model_versions());"
        "model = mlflow.pyfunc.load_model(f'models:/ae-anomaly-detector/{version}');"
        "x = np.load('data/raw/validation.npz')['x'];"
        "model.predict(x).to_csv(sys.stdout, index=False)",
    )
    (repo / "pyfunc.csv").write_text(served.stdout)
    pyfunc = np.genfromtxt(repo / "pyfunc.csv", delimiter=",", names=True)
    for name in ("ae_threshold", "histogram_forest", "difference_forest"):
        for table in (scored, pyfunc):
            np.testing.assert_allclose(table[f"{name}_score"], reported[f"{name}_score"], atol=1e-6)
            np.testing.assert_array_equal(table[f"{name}_label"], reported[f"{name}_label"])
