"""Metrics of a detector on labelled data: the article's report plus threshold-free scores."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from sklearn.metrics import (
    average_precision_score,
    classification_report,
    confusion_matrix,
    f1_score,
    precision_recall_curve,
    precision_score,
    recall_score,
    roc_auc_score,
    roc_curve,
)

from ae_anomaly.core.models import MODEL_NAMES
from ae_anomaly.core.types import Evaluation, ModelOutput, NotFitted

METRIC_NAMES = ("f1_anomaly", "f1_macro", "precision", "recall", "roc_auc", "average_precision")

#: What ``metrics/validation.json`` holds for a model that could not be fitted.
NOT_FITTED_STATUS = "not fitted"


def evaluate_detector(
    y_true: np.ndarray, scores: np.ndarray, predictions: np.ndarray
) -> Evaluation:
    """Anomaly-class precision/recall/F1 and macro F1 from the predictions, ROC-AUC and AP from
    the continuous scores (higher = more anomalous)."""
    y_true = np.asarray(y_true).astype(np.int64)
    predictions = np.asarray(predictions).astype(np.int64)
    both_classes = np.unique(y_true).size == 2
    metrics = {
        "f1_anomaly": f1_score(y_true, predictions, pos_label=1, zero_division=0),
        "f1_macro": f1_score(y_true, predictions, average="macro", labels=[0, 1], zero_division=0),
        "precision": precision_score(y_true, predictions, pos_label=1, zero_division=0),
        "recall": recall_score(y_true, predictions, pos_label=1, zero_division=0),
        "roc_auc": roc_auc_score(y_true, scores) if both_classes else float("nan"),
        "average_precision": average_precision_score(y_true, scores)
        if both_classes
        else float("nan"),
    }
    report = classification_report(
        y_true,
        predictions,
        labels=[0, 1],
        target_names=["normal", "anomaly"],
        digits=3,
        zero_division=0,
    )
    return Evaluation(
        metrics={name: round(float(value), 6) for name, value in metrics.items()},
        report=report,
        confusion=confusion_matrix(y_true, predictions, labels=[0, 1]),
    )


def evaluate_models(
    y_true: np.ndarray, outputs: Mapping[str, ModelOutput]
) -> dict[str, Evaluation | NotFitted]:
    """Evaluate every model of :data:`~ae_anomaly.core.models.MODELS`, in that order; a model with
    no output at all is an error (a stage forgot it), a :class:`NotFitted` one is kept as is."""
    missing = [name for name in MODEL_NAMES if name not in outputs]
    if missing:
        raise ValueError(f"no predictions for models {missing}; found {sorted(outputs)}")
    evaluations: dict[str, Evaluation | NotFitted] = {}
    for name in MODEL_NAMES:
        output = outputs[name]
        evaluations[name] = (
            output
            if isinstance(output, NotFitted)
            else evaluate_detector(y_true, output.score, output.label)
        )
    return evaluations


def metrics_payload(
    evaluations: Mapping[str, Evaluation | NotFitted],
) -> dict[str, dict[str, object]]:
    """``{model: {f1_anomaly: ..., ...}}``, or ``{model: {status: "not fitted", reason}}``."""
    return {
        name: {"status": NOT_FITTED_STATUS, "reason": evaluation.reason}
        if isinstance(evaluation, NotFitted)
        else evaluation.metrics
        for name, evaluation in evaluations.items()
    }


def roc_points(y_true: np.ndarray, scores: np.ndarray) -> dict[str, np.ndarray]:
    """The ROC curve; empty when ``y_true`` holds one class (no curve exists)."""
    if np.unique(y_true).size < 2:
        return {"fpr": np.empty(0), "tpr": np.empty(0)}
    fpr, tpr, _ = roc_curve(y_true, scores)
    return {"fpr": fpr, "tpr": tpr}


def precision_recall_points(y_true: np.ndarray, scores: np.ndarray) -> dict[str, np.ndarray]:
    """The precision-recall curve; empty when ``y_true`` holds one class."""
    if np.unique(y_true).size < 2:
        return {"recall": np.empty(0), "precision": np.empty(0)}
    precision, recall, _ = precision_recall_curve(y_true, scores)
    return {"recall": recall, "precision": precision}
