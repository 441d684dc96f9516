"""The installed console command, ``ae-anomaly``.

- ``ae-anomaly score CURVES --detector models/detector -o scores.csv``: score new curves
  with the deployable detector (a folder, or an MLflow model URI such as
  ``models:/ae-anomaly-detector@champion``), writing CSV or Parquet.
- ``ae-anomaly results metrics/validation.json``: print a finished run's results table
  (``make run`` ends with it); ``--markdown PATH`` also writes a summary embedding the
  figures, readable offline (``make report``).
- ``ae-anomaly preset presets/article.yaml``: the ``dvc exp run -S`` overrides of a preset
  (``make article``).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from ae_anomaly.core.params import ParamsError, load_preset
from ae_anomaly.core.storage import load_json
from ae_anomaly.core.threads import thread_share
from ae_anomaly.core.types import InputError, ReportedError
from ae_anomaly.deploy.detector import CurveDetector
from ae_anomaly.deploy.scoring import DEFAULT_BATCH_ROWS, score_file
from ae_anomaly.deploy.top_curves import TopCurves
from ae_anomaly.pipeline.runtime import configure_logging
from ae_anomaly.report.summary import ordered_figures, summary_markdown
from ae_anomaly.report.tables import results_table


def _load_detector(reference: str, device: str, threads: int) -> CurveDetector:
    """A detector folder, or the detector inside an MLflow model (``models:/...``,
    ``runs:/...``), downloaded as plain files: no code from the store runs."""
    if ":/" in reference:
        from ae_anomaly.tracking.registry import download_detector

        reference = str(download_detector(reference))
    return CurveDetector.load(reference, device=device, threads=threads)


def _score(args: argparse.Namespace) -> int:
    configure_logging()
    if args.spark:
        return _score_on_spark(args)
    threads = args.threads or thread_share()
    try:
        import torch

        # The network (main thread) and the detectors (a scoring thread) run side by side.
        torch.set_num_threads(max(1, threads // 2))
        detector = _load_detector(args.detector, args.device, max(1, threads - threads // 2))
        top = None if args.figures is None else TopCurves(args.top, args.rank_by)
        summary = score_file(
            detector,
            args.curves,
            args.output,
            args.layout,
            args.label_column,
            args.batch_size,
            anomaly_maps=args.anomaly_maps,
            top=top,
        )
        if top is not None:
            figure = _draw_top(top, Path(args.figures))
            print(f"the {len(top.rows)} most anomalous curves -> {figure}", file=sys.stderr)
    except ReportedError as error:
        print(f"ae-anomaly score: {error}", file=sys.stderr)
        return error.exit_code
    print(
        f"scored {summary.rows} curves in {summary.seconds:.1f} s "
        f"({summary.curves_per_second:,.0f} curves/s) -> {summary.output}",
        file=sys.stderr,
    )
    return 0


def _score_on_spark(args: argparse.Namespace) -> int:
    """``--spark MASTER``: the same detector, as the registered MLflow model, on Spark."""
    try:
        if ":/" not in args.detector:
            raise InputError(
                "--spark scores a registered model: give --detector as an MLflow model URI "
                "(models:/ae-anomaly-detector@champion)"
            )
        if args.anomaly_maps or args.figures:
            raise InputError("--anomaly-maps and --figures are not available with --spark")
        from ae_anomaly.tracking.spark_scoring import score_parquet

        summary = score_parquet(
            args.curves,
            args.output,
            args.detector,
            args.spark,
            curves_column=args.curves_column,
            label_column=args.label_column,
            batch_rows=args.batch_size,
        )
    except ReportedError as error:
        print(f"ae-anomaly score: {error}", file=sys.stderr)
        return error.exit_code
    print(
        f"scored {summary.rows} curves on Spark in {summary.seconds:.1f} s "
        f"({summary.curves_per_second:,.0f} curves/s; Spark started in "
        f"{summary.startup_seconds:.1f} s), {summary.refused} refused -> {summary.output}",
        file=sys.stderr,
    )
    return 0


def _draw_top(top: TopCurves, folder: Path) -> Path:
    """The figure of ``--figures``: the top curves, their reconstructions and windows."""
    from ae_anomaly.report.figures import located_anomalies

    if not top.locations:
        raise InputError(
            "--figures: this detector folder holds no anomaly locator (written before "
            "detectors located anomalies); rerun `dvc repro` to get one"
        )
    return located_anomalies(
        top.curves,
        top.reconstructions,
        top.locations,
        list(range(len(top.rows))),
        folder / "top_anomalies.png",
        titles=[
            f"row {row}, {top.rank_by} {score:.3g}"
            for row, score in zip(top.rows, top.scores, strict=True)
        ],
    )


def _results(args: argparse.Namespace) -> int:
    try:
        metrics = load_json(args.metrics)
    except ReportedError as error:
        print(f"ae-anomaly results: {error}", file=sys.stderr)
        return 1
    print("Validation set, anomaly = positive class (article: single unseeded run)")
    print(results_table(metrics))
    if args.markdown:
        markdown = Path(args.markdown)
        markdown.parent.mkdir(parents=True, exist_ok=True)
        figures = ordered_figures(Path(args.figures)) if args.figures else []
        train_summary = load_json(args.train_summary) if args.train_summary else None
        localisation = load_json(args.localisation) if args.localisation else None
        markdown.write_text(
            summary_markdown(metrics, train_summary, figures, markdown.parent, localisation)
        )
        print(f"wrote {markdown}")
    return 0


def preset_arguments(preset: str | Path, params_file: str | Path = "params.yaml") -> list[str]:
    """``["-S", "train_ae.epochs=100", ...]``: one override per key of the preset, values in
    compact JSON (valid YAML, no spaces), validated on top of ``params_file`` first."""
    overrides, _ = load_preset(preset, params_file)
    arguments = []
    for key, value in overrides.items():
        arguments += ["-S", f"{key}={json.dumps(value, separators=(',', ':'))}"]
    return arguments


def _preset(args: argparse.Namespace) -> int:
    try:
        print(" ".join(preset_arguments(args.preset, args.params)))
    except ParamsError as error:
        print(error, file=sys.stderr)
        return 2
    return 0


def _team(args: argparse.Namespace) -> int:
    import logging

    from ae_anomaly.tracking.team import TeamStack

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    stack = TeamStack(
        Path(args.folder).resolve(), args.postgres_port, args.mlflow_port, host=args.host
    )
    try:
        if args.action == "up":
            stack.up()
            print(f"export MLFLOW_TRACKING_URI={stack.tracking_uri}")
        elif args.action == "down":
            stack.down()
        else:
            print(json.dumps(stack.status(), indent=2))
    except ReportedError as error:
        print(f"ae-anomaly team {args.action}: {error}", file=sys.stderr)
        return error.exit_code
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ae-anomaly",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)

    score = commands.add_parser(
        "score",
        help="score a file of curves with the deployable detector",
        description="One row per curve: each detector's score (higher = more anomalous) and "
        "0/1 label, and where its strongest anomaly lies (anomaly_start, anomaly_end, "
        "anomaly_peak: point indices from 0). Reads the formats the pipeline reads "
        "(.tsv .csv .txt .parquet .npy .npz).",
    )
    score.add_argument(
        "curves",
        help="the file of curves to score; with --spark, a Parquet file, folder or glob",
    )
    score.add_argument(
        "--detector",
        required=True,
        metavar="PATH_OR_URI",
        help="a detector folder (models/detector) or an MLflow model URI "
        "(models:/ae-anomaly-detector@champion, or /<version>)",
    )
    score.add_argument(
        "-o", "--output", required=True, help="where to write the scores: .csv or .parquet"
    )
    score.add_argument(
        "--layout",
        choices=("unlabelled", "ucr", "header"),
        default="unlabelled",
        help="unlabelled: every column is a point (default); ucr: label first, no header; "
        "header: a header row, label in --label-column",
    )
    score.add_argument(
        "--label-column",
        help="with --layout header: the label column's name; with --spark: a numeric column "
        "that is not a point of the curves (an id or label, kept beside the scores)",
    )
    score.add_argument(
        "--anomaly-maps",
        metavar="PATH",
        help="also write each curve's anomaly map (one value per point, higher = more "
        "anomalous) here: .csv or .parquet, columns row, point_0, point_1, ...",
    )
    score.add_argument(
        "--figures",
        metavar="DIR",
        help="draw the --top most anomalous curves (by --rank-by) with their reconstructions "
        "and anomaly windows into DIR/top_anomalies.png",
    )
    score.add_argument(
        "--top", type=int, default=8, help="with --figures: how many curves (%(default)s)"
    )
    score.add_argument(
        "--rank-by",
        default="ae_threshold",
        metavar="MODEL",
        help="with --figures: the detector whose score ranks the curves (default "
        "%(default)s, the one that needs no anomaly label)",
    )
    score.add_argument(
        "--batch-size", type=int, default=DEFAULT_BATCH_ROWS, help="curves per batch (memory)"
    )
    score.add_argument(
        "--threads",
        type=int,
        default=None,
        help="CPU threads to use (default: this process's share of the machine); the "
        "autoencoder gets half, the detectors on its residuals the rest",
    )
    score.add_argument(
        "--device", choices=("cpu", "cuda", "auto"), default="cpu", help="for the autoencoder"
    )
    score.add_argument(
        "--spark",
        metavar="MASTER",
        help="score on Apache Spark (local[2], spark://host:7077, yarn, ...) through "
        "mlflow.pyfunc.spark_udf, writing a Parquet folder; bad curves get null scores and an "
        "error column instead of stopping the job (needs the spark extra and Java >= 17)",
    )
    score.add_argument(
        "--curves-column",
        metavar="NAME",
        help="with --spark: the array<double> column holding the curves (default: the one "
        "array column, else every numeric column but --label-column is a point)",
    )
    score.set_defaults(run=_score)

    results = commands.add_parser("results", help="print (or write) a run's results table")
    results.add_argument("metrics", help="metrics JSON written by the evaluate stage")
    results.add_argument("--markdown", metavar="PATH", help="also write a Markdown summary here")
    results.add_argument("--train-summary", metavar="PATH", help="metrics JSON of train_ae")
    results.add_argument(
        "--localisation", metavar="PATH", help="localisation metrics JSON written by evaluate"
    )
    results.add_argument(
        "--figures", metavar="DIR", help="folder of PNG figures (searched recursively) to embed"
    )
    results.set_defaults(run=_results)

    preset = commands.add_parser("preset", help="a preset's `dvc exp run -S` overrides")
    preset.add_argument(
        "preset", help="a preset file holding only what differs, e.g. presets/article.yaml"
    )
    preset.add_argument("--params", default="params.yaml", help="the params it applies to")
    preset.set_defaults(run=_preset)

    team = commands.add_parser(
        "team",
        help="start, stop or check the local team stack (PostgreSQL + mlflow server)",
        description="MLflow's team set-up on this machine: a PostgreSQL backend store and "
        "`mlflow server` with proxied artifacts, all kept in one folder. Stopping keeps "
        "every run; the next start sees them.",
    )
    team.add_argument("action", choices=("up", "down", "status"))
    team.add_argument("--folder", default=".team", help="where everything lives (%(default)s)")
    team.add_argument("--postgres-port", type=int, default=5433, help="(default %(default)s)")
    team.add_argument("--mlflow-port", type=int, default=5500, help="(default %(default)s)")
    team.add_argument(
        "--host",
        default="127.0.0.1",
        help="address both servers listen on (default %(default)s: this machine only)",
    )
    team.set_defaults(run=_team)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
