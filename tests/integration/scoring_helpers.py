"""Scoring a pipeline's validation curves every way a user can, to compare with ``evaluate``."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tests.integration.conftest import run


def assert_every_path_scores_as_evaluate_reported(repo: Path, names: list[str]) -> None:
    """``ae-anomaly score`` on the detector folder and the latest registered pyfunc model
    give, for ``data/raw/validation.npz``, the scores and labels of
    ``reports/validation_scores.csv`` for every detector in ``names``, and the same anomaly
    locations."""
    reported = np.genfromtxt(repo / "reports/validation_scores.csv", delimiter=",", names=True)
    run(
        repo, "python", "-m", "ae_anomaly.cli", "score", "data/raw/validation.npz",
        "--detector", "models/detector", "-o", "cli.csv",
    )  # fmt: skip
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
    tables = {
        "cli": np.genfromtxt(repo / "cli.csv", delimiter=",", names=True),
        "pyfunc": np.genfromtxt(repo / "pyfunc.csv", delimiter=",", names=True),
    }
    for name in names:
        for path, table in tables.items():
            np.testing.assert_allclose(
                table[f"{name}_score"], reported[f"{name}_score"], atol=1e-6, err_msg=path
            )
            np.testing.assert_array_equal(
                table[f"{name}_label"], reported[f"{name}_label"], err_msg=path
            )
    for path, table in tables.items():
        for column in ("anomaly_start", "anomaly_end", "anomaly_peak"):
            np.testing.assert_array_equal(table[column], reported[column], err_msg=path)
