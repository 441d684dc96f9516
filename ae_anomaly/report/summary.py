"""A finished run's results as one Markdown page that embeds its figures, readable offline
(``make report``; DVC's own HTML loads Vega from a CDN)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ae_anomaly.report.tables import markdown_table, results_table

FIGURE_TITLES = {
    "ae_loss.png": "Autoencoder loss per epoch",
    "error_distribution_over_epochs.png": "Reconstruction error over epochs, normal vs anomaly",
    "roc_pr.png": "ROC and precision-recall on the validation set",
    "confusion_matrices.png": "Confusion matrices",
    "reconstructions.png": "Validation curves and their reconstructions",
    "difference_heatmaps.png": "Residuals x - reconstruction",
    "residual_histograms.png": "Mean residual histograms",
    "located_anomalies.png": "Where the anomaly is: the most anomalous validation curves, "
    "predicted window shaded, true window hatched",
}


def ordered_figures(folder: Path) -> list[Path]:
    """The known figures found anywhere under ``folder`` (each stage draws in its own
    sub-folder), in the order the summary shows them."""
    found = {path.name: path for path in folder.rglob("*.png")}
    return [found[name] for name in FIGURE_TITLES if name in found]


def summary_markdown(
    metrics: Mapping[str, Mapping[str, object]],
    train_summary: Mapping[str, Any] | None,
    figures: Sequence[Path],
    relative_to: Path,
    localisation: Mapping[str, Any] | None = None,
) -> str:
    """Results table, localisation figures, training summary and figure links (relative to
    the summary's folder)."""
    lines = [
        "# Results summary",
        "",
        "Validation set, anomaly = positive class; 'article F1' is the article's single run.",
        "",
        results_table(metrics),
    ]
    if localisation and "hit_rate" in localisation:
        lines += ["", "## Where the anomaly is", ""]
        lines.append(
            markdown_table(
                ("hit rate", "mean IoU", "median centre error (points)", "anomalies"),
                [
                    [
                        f"{float(localisation['hit_rate']):.3f}",
                        f"{float(localisation['mean_iou']):.3f}",
                        f"{float(localisation['median_centre_error']):.2f}",
                        localisation["anomalies"],
                    ]
                ],
            )
        )
    if train_summary:
        lines += ["", "## Autoencoder training", ""]
        lines.append(markdown_table(("", ""), train_summary.items()))
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
