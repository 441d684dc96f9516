"""The MLflow UI, in a real headless Chromium, shows the pipeline's run."""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from mlflow.entities import Run
from playwright.sync_api import sync_playwright

from tests.integration.conftest import pipeline_env
from tests.integration.mlflow_helpers import runs_of

pytestmark = [pytest.mark.integration, pytest.mark.browser]

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:  # fail, not skip: `make test` installs Debian's chromium
        pytest.fail("Chromium not found; install Debian's `chromium` and `chromium-driver`")
    return path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def mlflow_ui(repo: Path, log: Path) -> Iterator[str]:
    port = _free_port()
    mlflow_bin = Path(sys.executable).parent / "mlflow"
    command = [str(mlflow_bin), "ui", "--backend-store-uri", f"sqlite:///{repo}/mlflow.db"]
    command += ["--host", "127.0.0.1", "--port", str(port)]
    with open(log, "w") as output:
        server = subprocess.Popen(
            command, cwd=repo, env=pipeline_env(), stdout=output, stderr=output
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 90
            while True:
                try:
                    with urllib.request.urlopen(f"{url}/health", timeout=2):
                        break
                except OSError:
                    if server.poll() is not None or time.monotonic() > deadline:
                        raise AssertionError(
                            f"mlflow ui did not start:\n{log.read_text()}"
                        ) from None
                    time.sleep(0.5)
            yield url
        finally:
            server.terminate()
            server.wait(timeout=30)


def _seconds(shown: str) -> tuple[float, float]:
    """The UI's duration (``16.3s``, ``2.1min``) in seconds, and its rounding."""
    if shown.endswith("min"):
        return float(shown[:-3]) * 60, 6.0
    assert shown.endswith("s"), shown
    return float(shown[:-1]), 0.1


def check_run_page(url: str, run: Run, f1: float, screenshots: Path) -> None:
    """A reviewer's look at a run in the MLflow UI at ``url``: its page shows the run's name,
    its description (data, results, where the time went), the whole pipeline's duration,
    the pool as its dataset, ``histogram_forest.f1_anomaly`` with ``f1``, and its first
    boxplot renders as an image."""
    experiment_id, run_id = run.info.experiment_id, run.info.run_id
    pool = next(i.dataset for i in run.inputs.dataset_inputs if i.dataset.name == "pool")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=_chromium(), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(f"{url}/#/experiments/{experiment_id}/runs/{run_id}")
        page.get_by_text(run.info.run_name, exact=True).first.wait_for(timeout=60_000)
        page.get_by_text(f"pool ({pool.digest})").first.wait_for(timeout=30_000)
        text = page.inner_text("body")
        assert "Data: the article's synthetic curves of 64 points" in text
        ran = [key for key in run.data.metrics if key.endswith(".peak_memory_mib")]
        assert f"Where the time went: {len(ran)} stage(s) ran in " in text
        assert "histogram_forest\t" in text  # the description's results table, rendered
        shown, tolerance = _seconds(text.split("\nDuration\n", 1)[1].split("\n", 1)[0])
        recorded = (run.info.end_time - run.info.start_time) / 1000
        assert shown == pytest.approx(recorded, abs=tolerance)
        assert recorded >= run.data.metrics["pipeline.seconds"]
        page.get_by_placeholder("Search metrics").fill("histogram_forest.f1_anomaly")
        metric_row = page.get_by_role("row").filter(has_text="histogram_forest.f1_anomaly")
        metric_row.first.wait_for(timeout=30_000)
        name, shown_value = metric_row.first.inner_text().split("\n")[:2]
        assert name == "histogram_forest.f1_anomaly"
        assert float(shown_value) == pytest.approx(f1, abs=1e-6)
        page.screenshot(path=screenshots / "run_overview.png", full_page=True)

        page.goto(
            f"{url}/#/experiments/{experiment_id}/runs/{run_id}/artifacts/boxplots/epoch_001.png"
        )
        page.get_by_text("boxplots/epoch_001.png").first.wait_for(timeout=30_000)
        image = page.locator("img[src^='blob:']").first
        image.wait_for(timeout=30_000)
        assert page.evaluate("(img) => img.naturalWidth", image.element_handle()) > 100
        page.screenshot(path=screenshots / "run_boxplot.png")
        browser.close()
    assert (screenshots / "run_boxplot.png").stat().st_size > 10_000


def test_run_page_shows_f1_and_a_boxplot(reproduced_repo: Path, tmp_path: Path):
    run = runs_of(reproduced_repo)[0]
    metrics = json.loads((reproduced_repo / "metrics/validation.json").read_text())
    with mlflow_ui(reproduced_repo, tmp_path / "mlflow-ui.log") as url:
        check_run_page(url, run, metrics["histogram_forest"]["f1_anomaly"], tmp_path)
