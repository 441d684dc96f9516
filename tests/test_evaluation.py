import numpy as np
import pytest

from ae_anomaly.data import Predictions
from ae_anomaly.evaluation import MODEL_NAMES, evaluate_detector, results_table
from ae_anomaly.reporting import evaluate_models, reports_markdown


def test_perfect_detector_scores_one():
    y = np.array([0, 0, 1, 1])
    evaluation = evaluate_detector(y, np.array([0.1, 0.2, 0.8, 0.9]), y)
    assert evaluation.metrics == {
        "f1_anomaly": 1.0,
        "f1_macro": 1.0,
        "precision": 1.0,
        "recall": 1.0,
        "roc_auc": 1.0,
        "average_precision": 1.0,
    }
    assert evaluation.confusion.tolist() == [[2, 0], [0, 2]]
    assert "anomaly" in evaluation.report


def test_scores_rank_anomalies_high_not_low():
    y = np.array([0, 0, 1, 1])
    inverted = evaluate_detector(y, np.array([0.9, 0.8, 0.2, 0.1]), np.zeros(4))
    assert inverted.metrics["roc_auc"] == 0.0
    assert inverted.metrics["f1_anomaly"] == 0.0


def test_every_model_must_be_present_and_table_lists_article_figures():
    y = np.array([0, 1])
    predictions = {name: Predictions(np.array([0.0, 1.0]), y) for name in MODEL_NAMES[:-1]}
    with pytest.raises(ValueError, match="histogram_forest"):
        evaluate_models(y, predictions)
    predictions["histogram_forest"] = Predictions(np.array([0.0, 1.0]), y)
    evaluations = evaluate_models(y, predictions)
    assert list(evaluations) == list(MODEL_NAMES)
    table = results_table({name: e.metrics for name, e in evaluations.items()})
    assert "| histogram_forest | 1.000 | 0.88 |" in table
    assert "## ae_threshold" in reports_markdown(evaluations)
