import math

import numpy as np
import pytest

from ae_anomaly.core.models import MODEL_NAMES
from ae_anomaly.core.types import NotFitted, Predictions
from ae_anomaly.report.evaluation import (
    METRIC_NAMES,
    NOT_FITTED_STATUS,
    evaluate_detector,
    evaluate_models,
    metrics_payload,
    precision_recall_points,
    roc_points,
)


def test_perfect_detector_scores_one():
    y = np.array([0, 0, 1, 1])
    evaluation = evaluate_detector(y, np.array([0.1, 0.2, 0.8, 0.9]), y)
    assert evaluation.metrics == dict.fromkeys(METRIC_NAMES, 1.0)
    assert evaluation.confusion.tolist() == [[2, 0], [0, 2]]
    assert "anomaly" in evaluation.report


def test_scores_rank_anomalies_high_not_low():
    y = np.array([0, 0, 1, 1])
    inverted = evaluate_detector(y, np.array([0.9, 0.8, 0.2, 0.1]), np.zeros(4))
    assert inverted.metrics["roc_auc"] == 0.0
    assert inverted.metrics["f1_anomaly"] == 0.0


def test_threshold_free_metrics_are_nan_without_both_classes():
    y = np.zeros(4, dtype=int)
    evaluation = evaluate_detector(y, np.array([0.1, 0.2, 0.3, 0.4]), np.array([0, 0, 0, 1]))
    assert math.isnan(evaluation.metrics["roc_auc"])
    assert math.isnan(evaluation.metrics["average_precision"])


def test_every_model_is_evaluated_in_order_and_not_fitted_ones_are_kept():
    y = np.array([0, 1])
    outputs = {name: Predictions(np.array([0.0, 1.0]), y) for name in MODEL_NAMES[:-1]}
    with pytest.raises(ValueError, match="histogram_forest"):
        evaluate_models(y, outputs)
    outputs["histogram_forest"] = NotFitted("no anomalies to learn from")
    evaluations = evaluate_models(y, outputs)
    assert list(evaluations) == list(MODEL_NAMES)
    payload = metrics_payload(evaluations)
    assert payload["histogram_forest"] == {
        "status": NOT_FITTED_STATUS,
        "reason": "no anomalies to learn from",
    }
    assert set(payload["ae_threshold"]) == set(METRIC_NAMES)


def test_curve_points():
    y, scores = np.array([0, 1, 0, 1]), np.array([0.1, 0.9, 0.4, 0.3])
    roc = roc_points(y, scores)
    assert roc["fpr"][0] == 0 and roc["tpr"][-1] == 1
    pr = precision_recall_points(y, scores)
    assert set(pr) == {"recall", "precision"}
