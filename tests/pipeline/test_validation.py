"""The validation half of ``evaluate``, as its worker process runs it."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ae_anomaly.core.models import MODEL_NAMES
from ae_anomaly.core.storage import load_columns, save_dataset, save_predictions
from ae_anomaly.core.types import Dataset, Predictions
from ae_anomaly.deploy.detector import CurveDetector
from ae_anomaly.pipeline.validation import (
    ValidationFiles,
    ValidationResults,
    draw_validation_figures,
    measure_validation,
)

#: What the stage process must not import: the worker's seconds of imports.
HEAVY_MODULES = ("torch", "sklearn", "matplotlib", "scipy")


@pytest.fixture
def measured(tmp_path: Path, fitted, detector_folder: Path):
    *_, new = fitted
    labels = np.r_[np.ones(10, int), np.zeros(len(new) - 10, int)]
    centre = np.where(labels == 1, 6.5, np.nan)  # the bumps of ``fitted`` span points 5..8
    sigma = np.where(labels == 1, 1.0, np.nan)
    save_dataset(tmp_path / "validation.npz", Dataset(new, labels, centre, sigma))
    baseline = Predictions(np.linspace(0, 1, len(new)), np.zeros(len(new), int))
    save_predictions(
        tmp_path / "baselines.npz",
        {name: baseline for name in ("one_class_svm", "isolation_forest", "random_forest")},
    )
    files = ValidationFiles(
        validation=tmp_path / "validation.npz",
        baseline_predictions=tmp_path / "baselines.npz",
        detector=detector_folder,
        metrics=tmp_path / "metrics/validation.json",
        reports=tmp_path / "reports/classification_reports.md",
        validation_scores=tmp_path / "reports/validation_scores.csv",
        localisation=tmp_path / "metrics/localisation.json",
        roc=tmp_path / "plots/roc",
        pr=tmp_path / "plots/pr",
        confusion=tmp_path / "plots/confusion",
    )
    return files, new, labels, measure_validation(files, example_curves=3)


def test_measures_the_detector_as_deployed_and_writes_every_result(measured):
    files, curves, labels, results = measured
    assert json.loads(files.metrics.read_text()) == results.metrics
    assert list(results.metrics) == list(MODEL_NAMES)
    assert results.reports_markdown == files.reports.read_text()
    assert "histogram_forest" in results.results_table
    scores = load_columns(files.validation_scores)
    deployed = CurveDetector.load(files.detector).score(curves)
    for name, output in deployed.items():
        assert isinstance(output, Predictions)
        np.testing.assert_array_equal(results.figures.outputs[name].score, output.score)
        np.testing.assert_allclose(scores[f"{name}_score"], output.score, rtol=1e-9)
    np.testing.assert_array_equal(scores["true_label"], labels)
    located = CurveDetector.load(files.detector).score_table(curves)
    for column in ("anomaly_start", "anomaly_end", "anomaly_peak"):
        np.testing.assert_array_equal(scores[column], located[column])
    localisation = json.loads(files.localisation.read_text())
    assert localisation == results.localisation
    assert localisation["anomalies"] == 10 and localisation["hit_rate"] == 1.0
    assert localisation["median_centre_error"] <= 1.5
    np.testing.assert_array_equal(results.input_example, curves[:3])
    assert sorted(path.name for path in files.roc.iterdir()) == sorted(
        f"{name}.csv" for name in MODEL_NAMES
    )
    assert set(results.figures.histograms) == {"validation", "range"}


def test_draws_the_validation_figures(tmp_path: Path, measured):
    *_, results = measured
    drawn = draw_validation_figures(tmp_path / "figures", results.figures, 3, 10)
    assert drawn and all(path.is_file() and path.suffix == ".png" for path in drawn)


def test_results_reach_the_stage_process_without_its_heavy_imports(tmp_path: Path, measured):
    """The stage process unpickles what the worker returns; that must not import what the
    worker imported (seconds), or the overlap is lost."""
    *_, results = measured
    pickled = tmp_path / "results.pickle"
    pickled.write_bytes(pickle.dumps(results))
    code = (
        "import pickle, sys\n"
        f"results = pickle.loads(open({str(pickled)!r}, 'rb').read())\n"
        f"assert type(results).__name__ == {ValidationResults.__name__!r}\n"
        f"loaded = [m for m in {HEAVY_MODULES!r} if m in sys.modules]\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_evaluate_stage_process_leaves_the_heavy_imports_to_its_worker():
    code = (
        "import sys\n"
        "import stages.evaluate\n"
        f"loaded = [m for m in {(*HEAVY_MODULES, 'mlflow')!r} if m in sys.modules]\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[2])
