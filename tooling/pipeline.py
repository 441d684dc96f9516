"""What ``dvc.yaml`` and ``params.yaml`` say, for benchmarks and tests that must not repeat
them: each stage's paths (from its command's ``--option PATH`` pairs) and its outputs."""

from __future__ import annotations

import itertools
import shlex
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]


def stages(root: Path = ROOT) -> dict[str, dict[str, Any]]:
    return yaml.safe_load((root / "dvc.yaml").read_text())["stages"]


def stage_paths(stage: str, root: Path = ROOT) -> dict[str, Path]:
    """``{"train": root/"data/split/train.npz", ...}`` from ``--train data/split/train.npz``."""
    words = shlex.split(stages(root)[stage]["cmd"])
    return {
        word[2:].replace("-", "_"): root / value
        for word, value in itertools.pairwise(words)
        if word.startswith("--")
    }


def generated_paths(root: Path = ROOT) -> list[Path]:
    """Every output, metric and plot file or folder the pipeline writes, plus ``dvc.lock``."""
    paths = [root / "dvc.lock"]
    for stage in stages(root).values():
        for kind in ("outs", "metrics", "plots"):
            for entry in stage.get(kind, []):
                paths.append(root / (next(iter(entry)) if isinstance(entry, dict) else entry))
    return paths


def params(root: Path = ROOT) -> dict[str, Any]:
    return yaml.safe_load((root / "params.yaml").read_text())
