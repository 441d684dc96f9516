import json

import numpy as np
import pytest

from ae_anomaly.core.models import MODEL_NAMES
from ae_anomaly.core.types import NotFitted, Predictions
from ae_anomaly.report.evaluation import evaluate_models
from ae_anomaly.report.outputs import (
    render_figures,
    reports_markdown,
    write_metrics,
    write_plot_tables,
)


@pytest.fixture
def validation():
    rng = np.random.default_rng(0)
    y = np.r_[np.zeros(6, int), np.ones(6, int)]
    scores = y + rng.uniform(0, 0.9, size=12)
    outputs = {name: Predictions(scores, (scores > 0.9).astype(int)) for name in MODEL_NAMES}
    return rng.uniform(size=(12, 16)), y, outputs


def test_metrics_and_reports_for_every_model(tmp_path, validation):
    _, y, outputs = validation
    outputs["random_forest"] = NotFitted("no anomaly labels")
    evaluations = evaluate_models(y, outputs)
    write_metrics(tmp_path / "validation.json", evaluations)
    metrics = json.loads((tmp_path / "validation.json").read_text())
    assert list(metrics) == list(MODEL_NAMES)
    assert metrics["random_forest"]["status"] == "not fitted"
    report = reports_markdown(evaluations)
    assert "## ae_threshold" in report and "Confusion (rows actual" in report
    assert "Not fitted: no anomaly labels" in report


def test_plot_tables_one_csv_per_model_and_header_only_when_not_fitted(tmp_path, validation):
    _, y, outputs = validation
    outputs["histogram_forest"] = NotFitted("no anomaly labels")
    folders = [tmp_path / name for name in ("roc", "pr", "confusion")]
    write_plot_tables(y, outputs, *folders)
    for folder in folders:
        assert sorted(p.stem for p in folder.glob("*.csv")) == sorted(MODEL_NAMES)
    assert (tmp_path / "roc/histogram_forest.csv").read_text() == "fpr,tpr\n"
    confusion = (tmp_path / "confusion/ae_threshold.csv").read_text().splitlines()
    assert confusion[0] == "actual,predicted" and len(confusion) == 13


def test_figures_without_forests_split_heat_maps_by_the_threshold(tmp_path, validation):
    x, y, outputs = validation
    for name in ("difference_forest", "histogram_forest", "random_forest"):
        outputs[name] = NotFitted("no anomaly labels")
    evaluations = evaluate_models(y, outputs)
    made = render_figures(
        tmp_path, x, y, x * 0.01, {}, outputs, evaluations, example_curves=2, heatmap_rows=5
    )
    assert [p.name for p in made] == [
        "reconstructions.png",
        "difference_heatmaps.png",
        "roc_pr.png",
        "confusion_matrices.png",
    ]
    assert all(p.stat().st_size for p in made)
