"""Stage ``evaluate``: every model's report on the validation set, plot data and figures."""

import logging
from collections.abc import Sequence

from ae_anomaly.cli import load_stage_params, parse_stage_args, run_stage
from ae_anomaly.evaluation import results_table
from ae_anomaly.io import load_arrays, load_dataset, load_predictions
from ae_anomaly.reporting import (
    evaluate_models,
    render_figures,
    scores_payload,
    write_plot_tables,
    write_reports,
    write_scores,
)

logger = logging.getLogger(__name__)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_stage_args(
        __doc__,
        [
            "validation",
            "validation_scores",
            "histograms",
            "baseline_predictions",
            "threshold_predictions",
            "forest_predictions",
            "scores",
            "reports",
            "roc",
            "pr",
            "confusion",
            "figures",
        ],
        argv,
    )
    params = load_stage_params(args.params)
    validation = load_dataset(args.validation)
    predictions = {
        **load_predictions(args.baseline_predictions),
        **load_predictions(args.threshold_predictions),
        **load_predictions(args.forest_predictions),
    }
    evaluations = evaluate_models(validation.y, predictions)

    write_scores(args.scores, evaluations)
    write_reports(args.reports, evaluations)
    write_plot_tables(validation.y, predictions, args.roc, args.pr, args.confusion)
    render_figures(
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
    logger.info("validation results:\n%s", results_table(scores_payload(evaluations)))


if __name__ == "__main__":
    run_stage(main)
