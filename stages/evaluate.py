"""Stage ``evaluate``: every model's report on the validation set, figures, and the MLflow run."""

import logging
import os
from collections.abc import Sequence
from pathlib import Path

from ae_anomaly.cli import (
    background_process,
    load_stage_params,
    parse_stage_args,
    run_stage,
    timed_call,
)
from ae_anomaly.evaluation import results_table
from ae_anomaly.io import load_arrays, load_columns, load_dataset, load_json, load_predictions
from ae_anomaly.params import flatten
from ae_anomaly.reporting import (
    evaluate_models,
    render_figures,
    reports_markdown,
    scores_payload,
    write_plot_tables,
    write_reports,
    write_scores,
)
from ae_anomaly.tracking import PipelineRecord, log_pipeline_run, repository_root, run_tags

logger = logging.getLogger(__name__)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_stage_args(
        __doc__,
        [
            "validation", "validation_scores", "histograms",
            "baseline_predictions", "threshold_predictions", "forest_predictions",
            "model", "loss", "train_summary", "boxplots", "training_figures", "lock_file",
            "scores", "reports", "roc", "pr", "confusion", "figures",
        ],
        argv,
    )  # fmt: skip
    params = load_stage_params(args.params)
    validation = load_dataset(args.validation)
    predictions = {
        **load_predictions(args.baseline_predictions),
        **load_predictions(args.threshold_predictions),
        **load_predictions(args.forest_predictions),
    }
    evaluations = evaluate_models(validation.y, predictions)
    scores = scores_payload(evaluations)

    # Figures render in a second process while this one writes the results and logs the run.
    with background_process() as background:
        figures = background.submit(
            timed_call,
            "figures: evaluation figures",
            render_figures,
            args.figures,
            validation.x,
            validation.y,
            load_arrays(args.validation_scores)["residual"],
            load_arrays(args.histograms),
            predictions,
            evaluations,
            params.evaluate.example_curves,
            params.evaluate.heatmap_rows,
        )
        write_scores(args.scores, evaluations)
        write_reports(args.reports, evaluations)
        write_plot_tables(validation.y, predictions, args.roc, args.pr, args.confusion)
        logger.info("validation results:\n%s", results_table(scores))

        loss = load_columns(args.loss)
        record = PipelineRecord(
            params=flatten(params),
            scores=scores,
            train_loss=loss["train_loss"],
            holdout_loss=loss["holdout_loss"],
            train_summary=load_json(args.train_summary),
            boxplot_dir=Path(args.boxplots),
            # train_ae drew its own figures; the run shows them next to these.
            figure_paths=sorted(Path(args.training_figures).glob("*.png")),
            pending_figure_paths=figures,
            artifact_files=[Path(args.scores), Path(args.train_summary)],
            reports_markdown=reports_markdown(evaluations),
            model_path=Path(args.model) if params.evaluate.log_model else None,
            input_example=validation.x[: params.evaluate.example_curves],
            tags=run_tags(Path.cwd(), Path(args.lock_file)),
            run_name=os.environ.get("DVC_EXP_NAME"),
        )
        log_pipeline_run(record, params.evaluate.mlflow_experiment, repository_root())


if __name__ == "__main__":
    run_stage(main)
