"""Metrics of a detector on labelled data: the article's report plus threshold-free scores."""

from __future__ import annotations

from dataclasses import dataclass

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

MODEL_NAMES = (
    "one_class_svm",
    "isolation_forest",
    "random_forest",
    "ae_threshold",
    "difference_forest",
    "histogram_forest",
)

METRIC_NAMES = ("f1_anomaly", "f1_macro", "precision", "recall", "roc_auc", "average_precision")

#: The article's single-run figures on its validation set (anomaly class); ``None``: not reported.
ARTICLE_F1_ANOMALY: dict[str, float | None] = {
    "one_class_svm": 0.43,
    "isolation_forest": 0.17,
    "random_forest": 0.40,
    "ae_threshold": None,
    "difference_forest": 0.82,
    "histogram_forest": 0.88,
}


@dataclass(frozen=True)
class Evaluation:
    """Everything we report for one model on one labelled set."""

    metrics: dict[str, float]
    report: str
    confusion: np.ndarray


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


def roc_points(y_true: np.ndarray, scores: np.ndarray) -> dict[str, np.ndarray]:
    fpr, tpr, _ = roc_curve(y_true, scores)
    return {"fpr": fpr, "tpr": tpr}


def precision_recall_points(y_true: np.ndarray, scores: np.ndarray) -> dict[str, np.ndarray]:
    precision, recall, _ = precision_recall_curve(y_true, scores)
    return {"recall": recall, "precision": precision}


def results_table(scores: dict[str, dict[str, float]]) -> str:
    """Markdown table of every model's figures next to the article's published F1."""
    header = "| model | F1 anomaly | article F1 | F1 macro | precision | recall | ROC-AUC | AP |"
    lines = [header, "|---|---|---|---|---|---|---|---|"]
    for model, metrics in scores.items():
        article = ARTICLE_F1_ANOMALY.get(model)
        published = "-" if article is None else f"{article:.2f}"
        lines.append(
            f"| {model} | {metrics['f1_anomaly']:.3f} | {published} "
            f"| {metrics['f1_macro']:.3f} | {metrics['precision']:.3f} | {metrics['recall']:.3f} "
            f"| {metrics['roc_auc']:.3f} | {metrics['average_precision']:.3f} |"
        )
    return "\n".join(lines)
