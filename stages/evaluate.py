"""Stage ``evaluate``: every model's report on the validation set, figures, and the MLflow run."""

import logging
import os
from collections.abc import Sequence
from pathlib import Path

from ae_anomaly.evaluation import evaluate_models, metrics_payload
from ae_anomaly.params import flatten
from ae_anomaly.preprocessing import normalize_curves
from ae_anomaly.report.outputs import (
    render_figures,
    reports_markdown,
    write_metrics,
    write_plot_tables,
    write_reports,
)
from ae_anomaly.report.tables import results_table
from ae_anomaly.runtime import background_work, load_stage_params, parse_stage_args, run_stage
from ae_anomaly.storage import load_arrays, load_columns, load_dataset, load_json, load_predictions
from ae_anomaly.tracking import PipelineRecord, pipeline_run, repository_root, run_tags

logger = logging.getLogger(__name__)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_stage_args(
        __doc__,
        [
            "validation", "validation_residuals", "histograms",
            "baseline_predictions", "threshold_predictions", "forest_predictions",
            "model", "loss", "train_summary", "boxplots", "training_figures", "lock_file",
            "metrics", "reports", "roc", "pr", "confusion", "figures",
        ],
        argv,
    )  # fmt: skip
    params = load_stage_params(args.params)
    validation = load_dataset(args.validation)
    curves = normalize_curves(validation.x, params.preprocess.normalize)  # as the model sees them
    outputs = {
        **load_predictions(args.baseline_predictions),
        **load_predictions(args.threshold_predictions),
        **load_predictions(args.forest_predictions),
    }
    evaluations = evaluate_models(validation.y, outputs)
    metrics = metrics_payload(evaluations)

    # Figures render in a second process while this one writes the results and logs the run.
    with background_work() as background:
        figures = background.submit(
            "figures",
            render_figures,
            args.figures,
            curves,
            validation.y,
            load_arrays(args.validation_residuals)["residual"],
            load_arrays(args.histograms),
            outputs,
            evaluations,
            params.evaluate.example_curves,
            params.evaluate.heatmap_rows,
        )
        write_metrics(args.metrics, evaluations)
        write_reports(args.reports, evaluations)
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
            artifact_files=[Path(args.metrics), Path(args.train_summary)],
            reports_markdown=reports_markdown(evaluations),
            model_path=Path(args.model) if params.evaluate.log_model else None,
            input_example=curves[: params.evaluate.example_curves],
            tags=run_tags(Path.cwd(), Path(args.lock_file)),
            run_name=os.environ.get("DVC_EXP_NAME"),
        )
        with pipeline_run(record, params.evaluate.mlflow_experiment, repository_root()) as run:
            run.log_figures(figures.result())


if __name__ == "__main__":
    run_stage(main)
