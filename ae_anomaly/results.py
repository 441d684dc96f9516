"""Print a finished run's results table: ``python -m ae_anomaly.results metrics/scores.json``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from ae_anomaly.evaluation import results_table
from ae_anomaly.io import load_json


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("scores", help="metrics JSON written by the evaluate stage")
    args = parser.parse_args(argv)
    try:
        scores = load_json(args.scores)
    except FileNotFoundError:
        print(f"{args.scores} not found: run `dvc repro` first", file=sys.stderr)
        return 1
    print("Validation set, anomaly = positive class (article: single unseeded run)")
    print(results_table(scores))
    return 0


if __name__ == "__main__":
    sys.exit(main())
