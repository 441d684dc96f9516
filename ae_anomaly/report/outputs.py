"""Write what a reviewer reads from the validation results: metrics, reports, plot data and
figures (the files ``evaluate`` declares to DVC)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ae_anomaly.core.models import MODEL_NAMES
from ae_anomaly.core.storage import save_columns, save_json, save_text
from ae_anomaly.core.types import Evaluation, ModelOutput, NotFitted, Predictions
from ae_anomaly.report.evaluation import metrics_payload, precision_recall_points, roc_points
from ae_anomaly.report.tables import results_table


def write_metrics(path: str | Path, evaluations: Mapping[str, Evaluation | NotFitted]) -> None:
    """``metrics/validation.json``: ``{model: {f1_anomaly, f1_macro, precision, ...}}``."""
    save_json(path, metrics_payload(evaluations))


def reports_markdown(evaluations: Mapping[str, Evaluation | NotFitted]) -> str:
    """The results table, then each model's classification report and confusion counts."""
    parts = [
        "# Validation results",
        "",
        results_table(metrics_payload(evaluations)),
        "",
        "Anomaly = positive class. ROC-AUC and AP use each model's continuous score "
        "(higher = more anomalous).",
    ]
    for name, evaluation in evaluations.items():
        parts += ["", f"## {name}", ""]
        if isinstance(evaluation, NotFitted):
            parts.append(f"Not fitted: {evaluation.reason}")
            continue
        (tn, fp), (fn, tp) = evaluation.confusion.tolist()
        parts += [
            "```",
            evaluation.report.rstrip(),
            "```",
            "",
            f"Confusion (rows actual, columns predicted): TN={tn} FP={fp} FN={fn} TP={tp}",
        ]
    return "\n".join(parts) + "\n"


def write_reports(path: str | Path, evaluations: Mapping[str, Evaluation | NotFitted]) -> None:
    save_text(path, reports_markdown(evaluations))


def write_validation_scores(
    path: str | Path,
    y_true: np.ndarray,
    outputs: Mapping[str, ModelOutput],
    locations: Mapping[str, np.ndarray] | None = None,
) -> None:
    """One row per validation curve: its true label, every fitted model's score and label
    (``<model>_score``, ``<model>_label``) and where the detector locates its strongest
    anomaly (``anomaly_start``, ``anomaly_end``, ``anomaly_peak``), to see which curves a
    model missed, and to check that a deployed detector answers what was measured."""
    columns: dict[str, Any] = {"curve": np.arange(1, len(y_true) + 1), "true_label": y_true}
    for name, output in outputs.items():
        if isinstance(output, Predictions):
            columns[f"{name}_score"] = output.score
            columns[f"{name}_label"] = output.label
    columns.update(locations or {})
    save_columns(path, columns)


def write_plot_tables(
    y_true: np.ndarray,
    outputs: Mapping[str, ModelOutput],
    roc_dir: str | Path,
    pr_dir: str | Path,
    confusion_dir: str | Path,
) -> None:
    """One CSV per model and curve, the layout ``dvc plots`` overlays across files; a model
    that was not fitted gets header-only files, so every declared plot stays valid."""
    for name in MODEL_NAMES:
        output = outputs[name]
        if isinstance(output, Predictions):
            roc = roc_points(y_true, output.score)
            pr = precision_recall_points(y_true, output.score)
            confusion = {"actual": y_true, "predicted": output.label}
        else:
            roc = {"fpr": [], "tpr": []}
            pr = {"recall": [], "precision": []}
            confusion = {"actual": [], "predicted": []}
        save_columns(Path(roc_dir) / f"{name}.csv", roc)
        save_columns(Path(pr_dir) / f"{name}.csv", pr)
        save_columns(Path(confusion_dir) / f"{name}.csv", confusion)


def render_figures(
    figures_dir: str | Path,
    validation_x: np.ndarray,
    validation_y: np.ndarray,
    validation_residual: np.ndarray,
    histograms: Mapping[str, np.ndarray],
    outputs: Mapping[str, ModelOutput],
    evaluations: Mapping[str, Evaluation | NotFitted],
    example_curves: int,
    heatmap_rows: int,
    locations: Mapping[str, np.ndarray] | None = None,
    truth: tuple[np.ndarray, np.ndarray] | None = None,
) -> list[Path]:
    """The article's figures for the validation set, plus ROC/PR and confusion overviews,
    and, with ``locations``, the most anomalous curves with their windows
    (``located_anomalies.png``: by ``ae_threshold``'s score, the label-free detector,
    against the truth where it is known).

    Matplotlib is imported here rather than with this module, so that a process rendering
    these in the background imports it while the stage goes on with its other work.
    """
    from ae_anomaly.report import figures

    figures_dir = Path(figures_dir)
    fitted = {name: out for name, out in outputs.items() if isinstance(out, Predictions)}
    # The article splits its heat maps by the difference forest's verdicts; without anomaly
    # labels to fit it, the threshold detector's verdicts split them instead.
    splitter = "difference_forest" if "difference_forest" in fitted else "ae_threshold"
    made = [
        figures.example_reconstructions(
            validation_x,
            validation_x - validation_residual,
            validation_y,
            example_curves,
            figures_dir / "reconstructions.png",
        ),
        figures.residual_heatmaps(
            validation_residual,
            validation_y,
            fitted[splitter].label,
            heatmap_rows,
            figures_dir / "difference_heatmaps.png",
        ),
    ]
    if "validation" in histograms:
        value_range = (float(histograms["range"][0]), float(histograms["range"][1]))
        made.append(
            figures.mean_histograms(
                histograms["validation"],
                validation_y,
                value_range,
                figures_dir / "residual_histograms.png",
            )
        )
    made += [
        figures.roc_pr_figure(
            {name: roc_points(validation_y, out.score) for name, out in fitted.items()},
            {
                name: precision_recall_points(validation_y, out.score)
                for name, out in fitted.items()
            },
            figures_dir / "roc_pr.png",
        ),
        figures.confusion_matrices(
            {
                name: evaluation.confusion
                for name, evaluation in evaluations.items()
                if isinstance(evaluation, Evaluation)
            },
            figures_dir / "confusion_matrices.png",
        ),
    ]
    if locations and "ae_threshold" in fitted:
        score = fitted["ae_threshold"].score
        top = [int(row) for row in np.argsort(-score, kind="stable")[: 2 * example_curves]]
        made.append(
            figures.located_anomalies(
                validation_x,
                validation_x - validation_residual,
                locations,
                top,
                figures_dir / "located_anomalies.png",
                titles=[
                    f"curve {row + 1} ({'anomaly' if validation_y[row] else 'normal'}), "
                    f"score {score[row]:.3g}"
                    for row in top
                ],
                truth=truth,
            )
        )
    return made
