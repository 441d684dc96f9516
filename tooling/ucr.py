"""Convert a UCR/UEA ``.ts`` file (as shipped in the ``aeon`` and ``sktime`` wheels' package
data) to the UCR archive's tab-separated layout: one curve per line, the label first.

``python -m tooling.ucr GunPoint_TEST.ts GunPoint_TEST.tsv``; how the committed fixtures were
made is in ``bench/data/README.md``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path


def ts_to_tsv(source: Path, target: Path) -> int:
    """Write ``target`` from a univariate, equal-length ``.ts`` file; return the curve count."""
    rows = []
    in_data = False
    for line in source.read_text().splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.lower() == "@data":
            in_data = True
            continue
        if not in_data or stripped.startswith("@"):
            continue
        values, label = stripped.rsplit(":", 1)
        rows.append("\t".join([label.strip(), *values.split(",")]))
    target.write_text("\n".join(rows) + "\n")
    return len(rows)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("source", type=Path)
    parser.add_argument("target", type=Path)
    args = parser.parse_args(argv)
    print(f"{ts_to_tsv(args.source, args.target)} curves written to {args.target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
