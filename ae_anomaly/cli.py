"""The installed console command, ``ae-anomaly``.

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

from ae_anomaly.params import ParamsError, load_preset
from ae_anomaly.report.summary import ordered_figures, summary_markdown
from ae_anomaly.report.tables import results_table
from ae_anomaly.storage import load_json


def _results(args: argparse.Namespace) -> int:
    try:
        metrics = load_json(args.metrics)
    except FileNotFoundError:
        print(f"{args.metrics} not found: run `dvc repro` first", file=sys.stderr)
        return 1
    print("Validation set, anomaly = positive class (article: single unseeded run)")
    print(results_table(metrics))
    if args.markdown:
        markdown = Path(args.markdown)
        markdown.parent.mkdir(parents=True, exist_ok=True)
        figures = ordered_figures(Path(args.figures)) if args.figures else []
        train_summary = load_json(args.train_summary) if args.train_summary else None
        markdown.write_text(summary_markdown(metrics, train_summary, figures, markdown.parent))
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ae-anomaly",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)

    results = commands.add_parser("results", help="print (or write) a run's results table")
    results.add_argument("metrics", help="metrics JSON written by the evaluate stage")
    results.add_argument("--markdown", metavar="PATH", help="also write a Markdown summary here")
    results.add_argument("--train-summary", metavar="PATH", help="metrics JSON of train_ae")
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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
