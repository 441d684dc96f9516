"""The validation half of ``evaluate``: score (and locate) the validation curves with the
deployed detector, write every result file, and draw the figures, in a worker process.

``evaluate`` spends seconds on imports alone before it can do anything: PyTorch and
scikit-learn to score and measure, MLflow and its SQL store to log. On two cores the two sets
overlap when the stage hands this half to a forked worker and imports MLflow meanwhile (see
``stages/evaluate.py``). So this module is light to import: the detector, the metrics and
matplotlib are imported inside its functions, in the worker, and what :func:`measure_validation`
returns holds only NumPy arrays, built-in types and :mod:`ae_anomaly.core.types` values, which the
stage process unpickles without importing any of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ae_anomaly.core.types import Evaluation, ModelOutput, NotFitted


@dataclass(frozen=True)
class ValidationFiles:
    """What :func:`measure_validation` reads (the first three) and writes (the rest)."""

    validation: Path
    baseline_predictions: Path
    detector: Path
    metrics: Path
    reports: Path
    validation_scores: Path
    localisation: Path
    roc: Path
    pr: Path
    confusion: Path


@dataclass(frozen=True)
class FigureData:
    """What the validation figures are drawn from."""

    curves: np.ndarray
    labels: np.ndarray
    residuals: np.ndarray
    #: The histogram forest's features of the validation residuals and its value range;
    #: empty when that forest was not fitted.
    histograms: dict[str, np.ndarray]
    outputs: dict[str, ModelOutput]
    evaluations: dict[str, Evaluation | NotFitted]
    #: ``anomaly_start``, ``anomaly_end``, ``anomaly_peak`` per curve (empty: no locator).
    locations: dict[str, np.ndarray]
    #: The true centre and sigma of each anomaly, in points; ``None`` where unknown.
    truth: tuple[np.ndarray, np.ndarray] | None


@dataclass(frozen=True)
class ValidationResults:
    """What the MLflow run records of the validation set, and the data of its figures."""

    #: ``metrics/validation.json``'s content: ``{model: {metric: value}}``.
    metrics: dict[str, dict[str, object]]
    #: ``metrics/localisation.json``'s content: how well the windows meet the truth.
    localisation: dict[str, object]
    results_table: str
    reports_markdown: str
    #: The first validation curves, as the logged model's input example.
    input_example: np.ndarray
    figures: FigureData


def measure_validation(files: ValidationFiles, example_curves: int) -> ValidationResults:
    """Score the validation curves with the detector folder as deployed (loaded as
    ``ae-anomaly score`` and the served model load it), evaluate every model against the
    labels, and write the metrics, reports, per-curve scores and plot tables."""
    from ae_anomaly.core.storage import load_dataset, load_predictions, save_json
    from ae_anomaly.deploy.detector import CurveDetector
    from ae_anomaly.report.evaluation import evaluate_models, metrics_payload
    from ae_anomaly.report.localisation import localisation_metrics
    from ae_anomaly.report.outputs import (
        reports_markdown,
        write_metrics,
        write_plot_tables,
        write_reports,
        write_validation_scores,
    )
    from ae_anomaly.report.tables import results_table

    validation = load_dataset(files.validation)
    detector = CurveDetector.load(files.detector)
    curves, residuals = detector.residuals(validation.x)
    outputs = {
        **load_predictions(files.baseline_predictions),
        **detector.score_residuals(residuals),
    }
    evaluations = evaluate_models(validation.y, outputs)
    locations = detector.locations(residuals)
    localisation = localisation_metrics(
        locations,
        validation.y,
        validation.anomaly_centre,
        validation.anomaly_sigma,
        validation.x.shape[1],
    )
    histogram_forest = detector.detectors["histogram_forest"]
    histograms = (
        {}
        if isinstance(histogram_forest, NotFitted)
        else {
            "validation": detector.features("histogram_forest", residuals),
            "range": np.asarray(histogram_forest.value_range),  # type: ignore[attr-defined]
        }
    )
    write_metrics(files.metrics, evaluations)
    write_reports(files.reports, evaluations)
    write_validation_scores(files.validation_scores, validation.y, outputs, locations)
    save_json(files.localisation, localisation)
    write_plot_tables(validation.y, outputs, files.roc, files.pr, files.confusion)
    metrics = metrics_payload(evaluations)
    return ValidationResults(
        metrics=metrics,
        localisation=localisation,
        results_table=results_table(metrics),
        reports_markdown=reports_markdown(evaluations),
        input_example=validation.x[:example_curves],
        figures=FigureData(
            curves=curves,
            labels=validation.y,
            residuals=residuals,
            histograms=histograms,
            outputs=dict(outputs),
            evaluations=dict(evaluations),
            locations=locations,
            truth=(
                (validation.anomaly_centre, validation.anomaly_sigma)
                if validation.has_truth
                else None
            ),
        ),
    )


def draw_validation_figures(
    figures_dir: str | Path, data: FigureData, example_curves: int, heatmap_rows: int
) -> list[Path]:
    """The validation figures (see :func:`ae_anomaly.report.outputs.render_figures`)."""
    from ae_anomaly.report.outputs import render_figures

    return render_figures(
        figures_dir,
        data.curves,
        data.labels,
        data.residuals,
        data.histograms,
        data.outputs,
        data.evaluations,
        example_curves,
        heatmap_rows,
        data.locations,
        data.truth,
    )
