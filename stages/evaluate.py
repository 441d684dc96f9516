"""Stage ``evaluate``: every model's report on the validation set, figures, and the MLflow run.

The detectors on residuals are measured as deployed: the validation curves are scored by the
detector folder the ``detector`` stage wrote, loaded as ``ae-anomaly score`` and the served
model load it.
"""

import logging
import os
from collections.abc import Sequence
from pathlib import Path

from ae_anomaly.detector import CurveDetector
from ae_anomaly.evaluation import evaluate_models, metrics_payload
from ae_anomaly.params import flatten
from ae_anomaly.report.outputs import (
    render_figures,
    reports_markdown,
    write_metrics,
    write_plot_tables,
    write_reports,
    write_validation_scores,
)
from ae_anomaly.report.tables import results_table
from ae_anomaly.runtime import background_work, load_stage_params, parse_stage_args, run_stage
from ae_anomaly.storage import load_columns, load_dataset, load_json, load_predictions
from ae_anomaly.tracking import PipelineRecord, pipeline_run, repository_root, run_tags
from ae_anomaly.types import NotFitted

logger = logging.getLogger(__name__)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_stage_args(
        __doc__,
        [
            "validation", "baseline_predictions", "detector",
            "loss", "train_summary", "boxplots", "training_figures", "lock_file",
            "metrics", "reports", "validation_scores", "roc", "pr", "confusion", "figures",
        ],
        argv,
    )  # fmt: skip
    params = load_stage_params(args.params)
    validation = load_dataset(args.validation)
    detector = CurveDetector.load(args.detector)
    curves, residuals = detector.residuals(validation.x)
    outputs = {
        **load_predictions(args.baseline_predictions),
        **detector.score_residuals(residuals),
    }
    evaluations = evaluate_models(validation.y, outputs)
    metrics = metrics_payload(evaluations)
    histograms = (
        {}
        if isinstance(detector.forests["histogram_forest"], NotFitted)
        else {
            "validation": detector.features("histogram_forest", residuals),
            "range": detector.forests["histogram_forest"].value_range,
        }
    )

    # Figures render in a second process while this one writes the results and logs the run.
    with background_work() as background:
        figures = background.submit(
            "figures",
            render_figures,
            args.figures,
            curves,
            validation.y,
            residuals,
            histograms,
            outputs,
            evaluations,
            params.evaluate.example_curves,
            params.evaluate.heatmap_rows,
        )
        write_metrics(args.metrics, evaluations)
        write_reports(args.reports, evaluations)
        write_validation_scores(args.validation_scores, validation.y, outputs)
        write_plot_tables(validation.y, outputs, args.roc, args.pr, args.confusion)
        logger.info("validation results:\n%s", results_table(metrics))

        loss = load_columns(args.loss)
        record = PipelineRecord(
            params=flatten(params),
            metrics=metrics,
            train_loss=loss["train_loss"],
            holdout_loss=loss["holdout_loss"],
            train_summary=load_json(args.train_summary),
            boxplot_dir=Path(args.boxplots),
            # train_ae drew its own figures; the run shows them next to these.
            figure_paths=sorted(Path(args.training_figures).glob("*.png")),
            artifact_files=[
                Path(args.metrics),
                Path(args.train_summary),
                Path(args.validation_scores),
            ],
            reports_markdown=reports_markdown(evaluations),
            detector_path=Path(args.detector) if params.evaluate.log_model else None,
            input_example=validation.x[: params.evaluate.example_curves],
            tags=run_tags(Path.cwd(), Path(args.lock_file)),
            run_name=os.environ.get("DVC_EXP_NAME"),
        )
        with pipeline_run(record, params.evaluate.mlflow_experiment, repository_root()) as run:
            run.log_figures(figures.result())


if __name__ == "__main__":
    run_stage(main)
