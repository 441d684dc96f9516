"""Print a finished run's results table, or write it as a Markdown summary with its figures.

``python -m ae_anomaly.results metrics/scores.json`` prints the table (``make run`` ends with
it); ``--markdown reports/summary.md`` also writes a summary that embeds the figures, readable
offline (``make report``).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ae_anomaly.evaluation import results_table
from ae_anomaly.io import load_json

FIGURE_TITLES = {
    "ae_loss.png": "Autoencoder loss per epoch",
    "error_distribution_over_epochs.png": "Reconstruction error over epochs, normal vs anomaly",
    "roc_pr.png": "ROC and precision-recall on the validation set",
    "confusion_matrices.png": "Confusion matrices",
    "reconstructions.png": "Validation curves and their reconstructions",
    "difference_heatmaps.png": "Difference scores x - reconstruction",
    "residual_histograms.png": "Mean residual histograms",
}


def summary_markdown(
    scores: dict[str, dict[str, float]],
    train_summary: dict[str, Any] | None,
    figures: Sequence[Path],
    relative_to: Path,
) -> str:
    """Results table, training summary and figure links (relative to the summary's folder)."""
    lines = [
        "# Results summary",
        "",
        "Validation set, anomaly = positive class; 'article F1' is the article's single run.",
        "",
        results_table(scores),
    ]
    if train_summary:
        lines += ["", "## Autoencoder training", "", "| | |", "|---|---|"]
        lines += [f"| {key} | {value} |" for key, value in train_summary.items()]
    if figures:
        lines += ["", "## Figures"]
        for figure in figures:
            link = Path(os.path.relpath(figure, relative_to)).as_posix()
            lines += [
                "",
                f"### {FIGURE_TITLES.get(figure.name, figure.stem)}",
                "",
                f"![{figure.stem}]({link})",
            ]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("scores", help="metrics JSON written by the evaluate stage")
    parser.add_argument("--markdown", metavar="PATH", help="also write a Markdown summary here")
    parser.add_argument("--train-summary", metavar="PATH", help="metrics JSON of train_ae")
    parser.add_argument(
        "--figures", metavar="DIR", help="folder of PNG figures (searched recursively) to embed"
    )
    args = parser.parse_args(argv)
    try:
        scores = load_json(args.scores)
    except FileNotFoundError:
        print(f"{args.scores} not found: run `dvc repro` first", file=sys.stderr)
        return 1
    print("Validation set, anomaly = positive class (article: single unseeded run)")
    print(results_table(scores))
    if args.markdown:
        markdown = Path(args.markdown)
        markdown.parent.mkdir(parents=True, exist_ok=True)
        # Each stage draws its figures in its own sub-folder of --figures.
        found = (
            {path.name: path for path in Path(args.figures).rglob("*.png")} if args.figures else {}
        )
        ordered = [found[name] for name in FIGURE_TITLES if name in found]
        train_summary = load_json(args.train_summary) if args.train_summary else None
        markdown.write_text(summary_markdown(scores, train_summary, ordered, markdown.parent))
        print(f"wrote {markdown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
