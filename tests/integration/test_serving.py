"""The detector as deployed: loaded from the DVC output, from the Model Registry, and served by
MLflow's own HTTP server, all answer what ``evaluate`` reported; bad requests get a 4xx that
names the problem and the curve length, and the server stays up."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import mlflow
import numpy as np
import pytest

from ae_anomaly.core.storage import load_columns, load_dataset
from ae_anomaly.deploy.detector import CurveDetector
from ae_anomaly.detectors.location import LOCATION_COLUMNS
from ae_anomaly.tracking.registry import REGISTERED_MODEL
from tests.integration.conftest import pipeline_env

pytestmark = pytest.mark.integration

DETECTORS = ("ae_threshold", "difference_forest", "histogram_forest")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def served(repo: Path, model_uri: str, log: Path) -> Iterator[str]:
    port = _free_port()
    command = [str(Path(sys.executable).parent / "mlflow"), "models", "serve", "-m", model_uri]
    command += ["--env-manager", "local", "-h", "127.0.0.1", "-p", str(port)]
    env = pipeline_env(MLFLOW_TRACKING_URI=f"sqlite:///{repo}/mlflow.db")
    with open(log, "w") as output:
        server = subprocess.Popen(
            command, cwd=repo, env=env, stdout=output, stderr=output, start_new_session=True
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 120
            while True:
                try:
                    with urllib.request.urlopen(f"{url}/ping", timeout=2):
                        break
                except OSError:
                    if server.poll() is not None or time.monotonic() > deadline:
                        raise AssertionError(f"server did not start:\n{log.read_text()}") from None
                    time.sleep(0.5)
            yield url
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)


def _post(url: str, body: str) -> tuple[int, dict]:
    request = urllib.request.Request(
        f"{url}/invocations", data=body.encode(), headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def _reported(repo: Path) -> dict[str, np.ndarray]:
    """What evaluate reported for every validation curve."""
    return load_columns(repo / "reports/validation_scores.csv")


def _agrees(columns: dict, reported: dict[str, np.ndarray]) -> None:
    for name in DETECTORS:
        np.testing.assert_allclose(
            np.asarray(columns[f"{name}_score"]), reported[f"{name}_score"], atol=1e-6
        )
        np.testing.assert_array_equal(
            np.asarray(columns[f"{name}_label"]), reported[f"{name}_label"]
        )
    for column in LOCATION_COLUMNS:  # every path locates each curve's anomaly identically
        np.testing.assert_array_equal(np.asarray(columns[column]), reported[column])


def test_the_dvc_output_and_the_registry_answer_what_evaluate_reported(reproduced_repo: Path):
    curves = load_dataset(reproduced_repo / "data/raw/validation.npz").x
    reported = _reported(reproduced_repo)
    _agrees(CurveDetector.load(reproduced_repo / "models/detector").score_table(curves), reported)
    mlflow.set_tracking_uri(f"sqlite:///{reproduced_repo}/mlflow.db")
    model = mlflow.pyfunc.load_model(f"models:/{REGISTERED_MODEL}/1")
    _agrees(model.predict(curves), reported)


def test_mlflow_models_serve_answers_and_refuses_bad_requests(
    reproduced_repo: Path, tmp_path: Path
):
    curves = load_dataset(reproduced_repo / "data/raw/validation.npz").x
    length = curves.shape[1]
    with served(reproduced_repo, f"models:/{REGISTERED_MODEL}/1", tmp_path / "serve.log") as url:
        status, answer = _post(url, json.dumps({"inputs": curves.tolist()}))
        assert status == 200
        rows = answer["predictions"]
        assert len(rows) == len(curves)
        _agrees({key: [row[key] for row in rows] for key in rows[0]}, _reported(reproduced_repo))
        assert "anomaly_map" not in rows[0]  # only on request
        body = {"inputs": curves[:3].tolist(), "params": {"anomaly_map": True}}
        status, answer = _post(url, json.dumps(body))
        assert status == 200
        maps = np.asarray([row["anomaly_map"] for row in answer["predictions"]])
        expected = CurveDetector.load(reproduced_repo / "models/detector").score_table(
            curves[:3], anomaly_map=True
        )["anomaly_map"]
        np.testing.assert_allclose(maps, expected, rtol=1e-9)
        assert (maps.argmax(axis=1) == [row["anomaly_peak"] for row in answer["predictions"]]).all()

        bad_requests = {
            "wrong length": ({"inputs": [[0.5] * (length - 3)]}, f"got curves of {length - 3}"),
            "NaN": ({"inputs": [[float("nan")] * length]}, "curve 1, point 1 is nan"),
            "non-numeric": ({"inputs": [["abc"] * length]}, "curves must be numbers"),
            "empty curve": ({"inputs": [[]]}, "got curves of 0 points"),
        }
        for problem, (body, says) in bad_requests.items():
            status, answer = _post(url, json.dumps(body))
            assert 400 <= status < 500, (problem, status, answer)
            assert says in answer["message"], (problem, answer["message"])
            assert f"curves of {length} points" in answer["message"], (problem, answer["message"])
        # Ragged curves and an empty list never reach the model: MLflow's own input parsing
        # (the signature has no input schema, so Spark can hand over array columns) refuses
        # them.
        status, answer = _post(url, json.dumps({"inputs": [[0.5] * length, [0.5]]}))
        assert 400 <= status < 500 and "inhomogeneous" in answer["message"]
        status, answer = _post(url, json.dumps({"inputs": []}))
        assert 400 <= status < 500 and "'[]'" in answer["message"]
        status, _ = _post(url, json.dumps({"inputs": curves[:1].tolist()}))
        assert status == 200  # still up after the bad requests
