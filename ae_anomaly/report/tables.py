"""Markdown tables, rendered in one place (results, reports, summaries and benchmarks)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from ae_anomaly.core.models import model as model_entry


def markdown_table(header: Sequence[object], rows: Iterable[Sequence[object]]) -> str:
    """A GitHub-flavoured Markdown table; cells are written with ``str``."""
    lines = [
        "| " + " | ".join(str(cell) for cell in header) + " |",
        "|" + "---|" * len(header),
    ]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


RESULTS_HEADER = (
    "model", "F1 anomaly", "article F1", "F1 macro", "precision", "recall", "ROC-AUC", "AP",
)  # fmt: skip
_RESULTS_COLUMNS = ("f1_anomaly", "f1_macro", "precision", "recall", "roc_auc", "average_precision")


def article_f1_cell(name: str) -> str:
    """The article's published F1 for ``name`` as a table cell, ``-`` where it has none."""
    try:
        published = model_entry(name).article_f1
    except KeyError:  # a peer (PyOD, ...) in a benchmark table
        published = None
    return "-" if published is None else f"{published:.2f}"


def results_table(metrics: Mapping[str, Mapping[str, object]]) -> str:
    """Every model's figures next to the article's published F1, from ``metrics_payload``
    (a model reported as not fitted shows that instead of numbers)."""
    rows = []
    for name, values in metrics.items():
        if "status" in values:
            rows.append([name, values["status"], article_f1_cell(name), *["-"] * 5])
            continue
        cells = [f"{float(values[column]):.3f}" for column in _RESULTS_COLUMNS]
        rows.append([name, cells[0], article_f1_cell(name), *cells[1:]])
    return markdown_table(RESULTS_HEADER, rows)
