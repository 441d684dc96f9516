"""Stage ``evaluate``: every model's report on the validation set, figures, and the MLflow run.

The detectors on residuals are measured as deployed: the validation curves are scored by the
detector folder the ``detector`` stage wrote, loaded as ``ae-anomaly score`` and the served
model load it.
"""

import logging
import os
from collections.abc import Sequence
from pathlib import Path

from ae_anomaly.core.params import flatten
from ae_anomaly.core.storage import load_columns, load_json
from ae_anomaly.pipeline.background import background_work
from ae_anomaly.pipeline.runtime import load_stage_params, parse_stage_args, run_stage
from ae_anomaly.pipeline.timings import costs_of_this_execution, stage_name
from ae_anomaly.pipeline.validation import (
    ValidationFiles,
    draw_validation_figures,
    measure_validation,
)
from ae_anomaly.tracking.datasets import describe_datasets
from ae_anomaly.tracking.describe import DESCRIPTION_TAG, run_identity
from ae_anomaly.tracking.provenance import run_tags
from ae_anomaly.tracking.runs import PipelineRecord, pipeline_run
from ae_anomaly.tracking.stage_costs import cached_stages
from ae_anomaly.tracking.store import open_store, repository_root

logger = logging.getLogger(__name__)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_stage_args(
        __doc__,
        [
            "pool", "validation", "baseline_predictions", "detector",
            "loss", "train_summary", "boxplots", "training_figures", "lock_file",
            "metrics", "reports", "validation_scores", "localisation", "roc", "pr", "confusion",
            "figures",
        ],
        argv,
    )  # fmt: skip
    params = load_stage_params(args.params)
    files = ValidationFiles(
        validation=Path(args.validation),
        baseline_predictions=Path(args.baseline_predictions),
        detector=Path(args.detector),
        metrics=Path(args.metrics),
        reports=Path(args.reports),
        validation_scores=Path(args.validation_scores),
        localisation=Path(args.localisation),
        roc=Path(args.roc),
        pr=Path(args.pr),
        confusion=Path(args.confusion),
    )
    root = repository_root()
    # A worker scores, writes the results and draws the figures (PyTorch, scikit-learn,
    # matplotlib) while this process imports MLflow and opens the store, then logs the run.
    with background_work() as worker:
        measured = worker.submit(
            "validation", measure_validation, files, params.evaluate.example_curves
        )
        open_store(root)
        results = measured.result()
        figures = worker.submit(
            "figures",
            draw_validation_figures,
            args.figures,
            results.figures,
            params.evaluate.example_curves,
            params.evaluate.heatmap_rows,
        )
        logger.info("validation results:\n%s", results.results_table)

        stage = stage_name()
        costs = costs_of_this_execution(args.stage_costs, stage) if args.stage_costs else []
        loss = load_columns(args.loss)
        flat, tags = flatten(params), run_tags(Path.cwd(), Path(args.lock_file))
        name, description = run_identity(
            Path.cwd(),
            flat,
            tags.get("git.commit"),
            os.environ.get("DVC_EXP_NAME"),
            results.results_table,
        )
        record = PipelineRecord(
            params=flat,
            metrics={**results.metrics, "localisation": results.localisation},
            train_loss=loss["train_loss"],
            holdout_loss=loss["holdout_loss"],
            train_summary=load_json(args.train_summary),
            boxplot_dir=Path(args.boxplots),
            # train_ae drew its own figures; the run shows them next to these.
            figure_paths=sorted(Path(args.training_figures).glob("*.png")),
            artifact_files=[
                files.metrics,
                files.localisation,
                Path(args.train_summary),
                files.validation_scores,
            ],
            reports_markdown=results.reports_markdown,
            detector_path=files.detector if params.evaluate.log_model else None,
            input_example=results.input_example,
            datasets=describe_datasets(Path(args.pool), files.validation, flat),
            tags={**tags, DESCRIPTION_TAG: description},
            run_name=name,
            stage_costs=costs,
            cached_stages=cached_stages(Path(args.lock_file), costs, stage),
            logging_stage=stage,
        )
        with pipeline_run(record, params.evaluate.mlflow_experiment, root) as run:
            run.log_figures(figures.result())


if __name__ == "__main__":
    run_stage(main)
