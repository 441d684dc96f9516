"""Keep the package modules in ``dvc.yaml``'s ``deps`` equal to what each stage really uses.

``python -m tooling.dvc_deps`` rewrites, for every stage, the ``ae_anomaly/...`` lines of its
``deps`` (right after its ``stages/<name>.py`` line) from :mod:`tooling.imports`; the other
deps (data, folders) are left as they are. ``tests/test_pipeline_definition.py`` fails, with
what is missing or extra, until it has been run after a change of imports.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import yaml

from tooling.imports import ROOT, StageImports


def rewrite(text: str, root: Path = ROOT) -> str:
    stages = yaml.safe_load(text)["stages"]
    lines = text.splitlines(keepends=True)
    analysis = StageImports(root)
    for stage in stages:
        script = f"      - stages/{stage}.py\n"
        start = lines.index(script) + 1
        end = start
        while end < len(lines) and lines[end].startswith("      - ae_anomaly/"):
            end += 1
        used = sorted(analysis.of_script(root / f"stages/{stage}.py"))
        lines[start:end] = [f"      - {module}\n" for module in used]
    return "".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dvc-yaml", type=Path, default=ROOT / "dvc.yaml")
    args = parser.parse_args(argv)
    text = args.dvc_yaml.read_text()
    updated = rewrite(text)
    if updated != text:
        args.dvc_yaml.write_text(updated)
        print(f"{args.dvc_yaml}: package deps updated")
    return 0


if __name__ == "__main__":
    sys.exit(main())
