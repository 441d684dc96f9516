"""The ``plots:`` section of ``dvc.yaml``, generated from the one list of models.

``python -m tooling.dvc_plots`` rewrites the section in place (everything from the line
``plots:`` to the end of the file); ``--check`` exits 1 when it is out of date, which
``tests/test_pipeline_definition.py`` also asserts. DVC's templating cannot build the
per-file ``y`` mapping an overlaid ROC chart needs, so the section is generated instead.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from ae_anomaly.core.models import MODEL_NAMES

ROOT = Path(__file__).resolve().parents[1]
HEADER = "# What `dvc plots show` / `dvc plots diff` draw. Curves of every model share one chart.\n"
GENERATED = (
    "# Generated from ae_anomaly/core/models.py by `python -m tooling.dvc_plots`; do not edit.\n"
)


def plots_section() -> str:
    def overlay(title: str, folder: str, x: str, y: str, x_label: str, y_label: str) -> list[str]:
        lines = [f"  - {title}:", "      template: simple", f"      x: {x}", "      y:"]
        lines += [f"        plots/{folder}/{name}.csv: {y}" for name in MODEL_NAMES]
        return [*lines, f"      x_label: {x_label}", f"      y_label: {y_label}"]

    lines = [
        "plots:",
        "  - Autoencoder loss per epoch:",
        "      template: linear",
        "      x: epoch",
        "      y:",
        "        plots/ae_loss.csv: [train_loss, holdout_loss]",
        "      x_label: epoch",
        "      y_label: MSE (train vs held-out normal curves)",
        *overlay(
            "ROC on the validation set", "roc", "fpr", "tpr",
            "false positive rate", "true positive rate",
        ),
        *overlay(
            "Precision-recall on the validation set", "pr", "recall", "precision",
            "recall", "precision",
        ),
    ]  # fmt: skip
    for name in MODEL_NAMES:
        lines += [
            f"  - Confusion matrix {name}:",
            "      template: confusion",
            "      x: actual",
            "      y:",
            f"        plots/confusion/{name}.csv: predicted",
        ]
    lines += ["  - plots/boxplots", "  - plots/figures"]
    return HEADER + GENERATED + "\n".join(lines) + "\n"


def split_dvc_yaml(text: str) -> tuple[str, str]:
    """``dvc.yaml`` as (everything before the plots section, the plots section)."""
    start = text.find(HEADER)
    if start < 0:
        start = text.find("\nplots:") + 1
    if start <= 0:
        return text, ""
    return text[:start], text[start:]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dvc-yaml", type=Path, default=ROOT / "dvc.yaml")
    parser.add_argument("--check", action="store_true", help="exit 1 if the section is stale")
    args = parser.parse_args(argv)
    stages, current = split_dvc_yaml(args.dvc_yaml.read_text())
    wanted = plots_section()
    if args.check:
        if current != wanted:
            print(f"{args.dvc_yaml}: plots section is stale; run `python -m tooling.dvc_plots`")
            return 1
        return 0
    args.dvc_yaml.write_text(stages.rstrip("\n") + "\n\n" + wanted)
    return 0


if __name__ == "__main__":
    sys.exit(main())
