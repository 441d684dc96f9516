"""Turn validation predictions into what a reviewer reads: metrics, reports, plot data, figures."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from ae_anomaly.data import Predictions
from ae_anomaly.evaluation import (
    MODEL_NAMES,
    Evaluation,
    evaluate_detector,
    precision_recall_points,
    results_table,
    roc_points,
)
from ae_anomaly.io import save_columns, save_json


def evaluate_models(
    y_true: np.ndarray, predictions: Mapping[str, Predictions]
) -> dict[str, Evaluation]:
    """Evaluate every expected model, in the canonical order; a missing one is an error."""
    missing = [name for name in MODEL_NAMES if name not in predictions]
    if missing:
        raise ValueError(f"no predictions for models {missing}; found {sorted(predictions)}")
    return {
        name: evaluate_detector(y_true, predictions[name].score, predictions[name].label)
        for name in MODEL_NAMES
    }


def scores_payload(evaluations: Mapping[str, Evaluation]) -> dict[str, dict[str, float]]:
    return {name: evaluation.metrics for name, evaluation in evaluations.items()}


def write_scores(path: str | Path, evaluations: Mapping[str, Evaluation]) -> None:
    """``metrics/scores.json``: ``{model: {f1_anomaly, f1_macro, precision, ...}}``."""
    save_json(path, scores_payload(evaluations))


def reports_markdown(evaluations: Mapping[str, Evaluation]) -> str:
    parts = [
        "# Validation results",
        "",
        results_table(scores_payload(evaluations)),
        "",
        "Anomaly = positive class. ROC-AUC and AP use each model's continuous score "
        "(higher = more anomalous).",
    ]
    for name, evaluation in evaluations.items():
        (tn, fp), (fn, tp) = evaluation.confusion.tolist()
        parts += [
            "",
            f"## {name}",
            "",
            "```",
            evaluation.report.rstrip(),
            "```",
            "",
            f"Confusion (rows actual, columns predicted): TN={tn} FP={fp} FN={fn} TP={tp}",
        ]
    return "\n".join(parts) + "\n"


def write_reports(path: str | Path, evaluations: Mapping[str, Evaluation]) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(reports_markdown(evaluations))


def write_plot_tables(
    y_true: np.ndarray,
    predictions: Mapping[str, Predictions],
    roc_dir: str | Path,
    pr_dir: str | Path,
    confusion_dir: str | Path,
) -> None:
    """One CSV per model and curve, the layout ``dvc plots`` overlays across files."""
    for name in MODEL_NAMES:
        prediction = predictions[name]
        save_columns(Path(roc_dir) / f"{name}.csv", roc_points(y_true, prediction.score))
        save_columns(
            Path(pr_dir) / f"{name}.csv", precision_recall_points(y_true, prediction.score)
        )
        save_columns(
            Path(confusion_dir) / f"{name}.csv", {"actual": y_true, "predicted": prediction.label}
        )


def render_figures(
    figures_dir: str | Path,
    validation_x: np.ndarray,
    validation_y: np.ndarray,
    validation_residual: np.ndarray,
    histograms: Mapping[str, np.ndarray],
    predictions: Mapping[str, Predictions],
    evaluations: Mapping[str, Evaluation],
    example_curves: int,
    heatmap_rows: int,
) -> list[Path]:
    """The article's figures for the validation set, plus ROC/PR and confusion overviews.

    Matplotlib is imported here rather than with this module, so that a process rendering
    these in the background imports it while the stage goes on with its other work.
    """
    from ae_anomaly import plotting

    figures_dir = Path(figures_dir)
    value_range = (float(histograms["range"][0]), float(histograms["range"][1]))
    return [
        plotting.example_reconstructions(
            validation_x,
            validation_x - validation_residual,
            validation_y,
            example_curves,
            figures_dir / "reconstructions.png",
        ),
        plotting.residual_heatmaps(
            validation_residual,
            validation_y,
            predictions["difference_forest"].label,
            heatmap_rows,
            figures_dir / "difference_heatmaps.png",
        ),
        plotting.mean_histograms(
            histograms["validation"],
            validation_y,
            value_range,
            figures_dir / "residual_histograms.png",
        ),
        plotting.roc_pr_figure(
            {name: roc_points(validation_y, p.score) for name, p in predictions.items()},
            {
                name: precision_recall_points(validation_y, p.score)
                for name, p in predictions.items()
            },
            figures_dir / "roc_pr.png",
        ),
        plotting.confusion_matrices(
            {name: evaluation.confusion for name, evaluation in evaluations.items()},
            figures_dir / "confusion_matrices.png",
        ),
    ]
