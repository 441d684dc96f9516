"""Pipeline speed and memory: ``make bench-speed``.

In a sandbox copy of the project (default params) it measures, each as the median of
``--repeats`` runs:

- a full ``dvc repro`` from scratch (outputs, DVC cache, lock and MLflow store removed), with
  per-stage wall times as DVC saw them and each stage's own wall time and peak memory (from
  the line every stage logs when it ends);
- a no-op ``dvc repro`` right after;
- ``dvc repro`` after changing only ``histogram_forest.bins``;
- ``dvc repro`` after changing only an ``evaluate`` setting;
- a full run at 10x the curve counts, with its per-stage peak memory;
- the share of a full run spent rendering figures and logging to MLflow (from the stages'
  ``figures: ... took`` and ``mlflow: ... took`` lines).

It checks the targets of the speed issue and writes ``speed.md`` and ``speed.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ae_anomaly.params import load_params
from ae_anomaly.runtime import TIMINGS_ENV
from tooling.pipeline import generated_paths, stage_paths
from tooling.pipeline import params as read_params
from tooling.sandbox import PROJECT_ROOT, make_sandbox, pipeline_env, update_params


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def timed_repro(sandbox: Path) -> dict[str, Any]:
    """Run ``dvc repro``; per-stage figures come from the timings record every stage writes."""
    timings = sandbox.parent / f"timings-{time.monotonic_ns()}.jsonl"
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "dvc", "repro"],
        cwd=sandbox,
        env=pipeline_env(**{TIMINGS_ENV: str(timings)}),
        capture_output=True,
        text=True,
    )
    total = time.perf_counter() - started
    if result.returncode != 0:
        raise RuntimeError(
            f"dvc repro failed in {sandbox}:\n{result.stdout[-4000:]}{result.stderr}"
        )
    records = (
        [json.loads(line) for line in timings.read_text().splitlines()] if timings.exists() else []
    )
    timings.unlink(missing_ok=True)

    def phase(prefix: str) -> float:
        return sum(v for r in records for k, v in r["phases"].items() if k.startswith(prefix))

    return {
        "seconds": total,
        "stages_run": [r["stage"] for r in records],
        "stage_wall": {r["stage"]: r["ended_at"] - r["started_at"] for r in records},
        "stage_self": {r["stage"]: r["seconds"] for r in records},
        "stage_peak_mib": {r["stage"]: r["peak_mib"] for r in records},
        "figures_seconds": phase("figures"),
        "mlflow_seconds": phase("mlflow"),
    }


def clean(sandbox: Path) -> None:
    """Back to a fresh clone: no outputs, no DVC cache, no lock, no MLflow store."""
    for path in [*generated_paths(sandbox), sandbox / "mlflow.db", sandbox / "mlartifacts"]:
        shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)
    shutil.rmtree(sandbox / ".dvc/cache", ignore_errors=True)
    shutil.rmtree(sandbox / ".dvc/tmp", ignore_errors=True)


def median_of(runs: Sequence[dict[str, Any]], key: str) -> float:
    return statistics.median(run[key] for run in runs)


def median_per_stage(runs: Sequence[dict[str, Any]], key: str) -> dict[str, float]:
    stages = runs[0][key].keys()
    return {stage: statistics.median(run[key][stage] for run in runs) for stage in stages}


def measure_default(sandbox: Path, repeats: int) -> dict[str, Any]:
    full, noop, histogram, evaluate = [], [], [], []
    defaults = read_params(sandbox)
    bins, rows = defaults["histogram_forest"]["bins"], defaults["evaluate"]["heatmap_rows"]
    for repeat in range(repeats):
        clean(sandbox)
        full.append(timed_repro(sandbox))
        noop.append(timed_repro(sandbox))
        update_params(sandbox, {"histogram_forest": {"bins": bins + 1 + repeat % 2}})
        histogram.append(timed_repro(sandbox))
        update_params(sandbox, {"evaluate": {"heatmap_rows": rows + 1 + repeat % 2}})
        evaluate.append(timed_repro(sandbox))
        update_params(
            sandbox, {"histogram_forest": {"bins": bins}, "evaluate": {"heatmap_rows": rows}}
        )
        log(
            f"default run {repeat + 1}/{repeats}: full {full[-1]['seconds']:.1f} s, no-op "
            f"{noop[-1]['seconds']:.2f} s, bins {histogram[-1]['seconds']:.1f} s "
            f"({histogram[-1]['stages_run']}), evaluate {evaluate[-1]['seconds']:.1f} s"
        )
    return {"full": full, "noop": noop, "histogram_only": histogram, "evaluate_only": evaluate}


def measure_scaled(sandbox: Path, repeats: int) -> list[dict[str, Any]]:
    runs = []
    for repeat in range(repeats):
        clean(sandbox)
        runs.append(timed_repro(sandbox))
        log(f"10x run {repeat + 1}/{repeats}: {runs[-1]['seconds']:.1f} s")
    return runs


def input_mib(sandbox: Path) -> float:
    """Size of the generated curves (pool + validation), the data every stage works on."""
    paths = stage_paths("generate", sandbox)
    return (paths["pool"].stat().st_size + paths["validation"].stat().st_size) / 2**20


def report(results: dict[str, Any]) -> str:
    s = results["summary"]
    lines = [
        "# Pipeline speed and memory",
        "",
        f"`make bench-speed` on {results['meta']['date']} ({results['meta']['machine']}); every "
        f"figure is the median of {results['meta']['repeats']} runs (10x: "
        f"{results['meta']['repeats_10x']}). Install time excluded.",
        "",
        "| measurement | median |",
        "|---|---|",
        f"| full `dvc repro` from scratch, default params | {s['full_s']:.1f} s |",
        f"| no-op `dvc repro` right after | {s['noop_s']:.2f} s |",
        f"| `dvc repro` after changing only `histogram_forest.bins` "
        f"| {s['histogram_only_s']:.1f} s |",
        f"| `dvc repro` after changing only `evaluate.heatmap_rows` "
        f"| {s['evaluate_only_s']:.1f} s |",
        f"| full run at 10x curve counts | {s['full_10x_s']:.1f} s ({s['scale_ratio']:.2f}x) |",
        f"| figure rendering + MLflow logging in a full run | {s['figures_s']:.1f} s + "
        f"{s['mlflow_s']:.1f} s = {100 * s['logging_share']:.1f} % |",
        "",
        "## Per stage (full run)",
        "",
        "| stage | wall, default (DVC) | in-stage, default | peak memory, default | wall, 10x "
        "| peak memory, 10x | extra memory / extra input |",
        "|---|---|---|---|---|---|---|",
    ]
    for stage, wall in s["stage_wall"].items():
        lines.append(
            f"| {stage} | {wall:.1f} s | {s['stage_self'][stage]:.1f} s | "
            f"{s['stage_peak_mib'][stage]:.0f} MiB | {s['stage_wall_10x'][stage]:.1f} s | "
            f"{s['stage_peak_mib_10x'][stage]:.0f} MiB | {s['input_copies'][stage]:.1f} |"
        )
    lines += [
        "",
        f"Input (pool + validation curves): {s['input_mib']:.1f} MiB at default size, "
        f"{s['input_mib_10x']:.1f} MiB at 10x. The last column is (peak 10x - peak default) / "
        "(input 10x - input default): how many copies of its input a stage holds on top of "
        "its fixed cost (interpreter, torch, sklearn).",
        "",
        "## Targets",
        "",
        "| target | measured | met |",
        "|---|---|---|",
    ]
    lines += [
        f"| {t['target']} | {t['measured']} | {'yes' if t['met'] else '**NO**'} |"
        for t in results["targets"]
    ]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=3, help="runs per default-size figure")
    parser.add_argument("--repeats-10x", type=int, default=3, help="runs at 10x data")
    parser.add_argument("--scale", type=int, default=10, help="curve-count multiplier")
    parser.add_argument(
        "--out", type=Path, default=PROJECT_ROOT / "bench/results", help="results folder"
    )
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="bench-speed-"))
    try:
        default = make_sandbox(work / "default")
        counts = ("pool_normal", "pool_anomalous", "validation_normal", "validation_anomalous")
        generate = load_params(default / "params.yaml").generate
        scaled_counts = {name: getattr(generate, name) * args.scale for name in counts}
        scaled = make_sandbox(work / "scaled", overrides={"generate": scaled_counts})
        log(f"sandboxes in {work}")
        measured = measure_default(default, args.repeats)
        clean(default)
        timed_repro(default)
        input_default = input_mib(default)
        runs_10x = measure_scaled(scaled, args.repeats_10x)
        input_10x = input_mib(scaled)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    full = measured["full"]
    summary = {
        "full_s": median_of(full, "seconds"),
        "noop_s": median_of(measured["noop"], "seconds"),
        "histogram_only_s": median_of(measured["histogram_only"], "seconds"),
        "evaluate_only_s": median_of(measured["evaluate_only"], "seconds"),
        "full_10x_s": median_of(runs_10x, "seconds"),
        "figures_s": median_of(full, "figures_seconds"),
        "mlflow_s": median_of(full, "mlflow_seconds"),
        "stage_wall": median_per_stage(full, "stage_wall"),
        "stage_self": median_per_stage(full, "stage_self"),
        "stage_peak_mib": median_per_stage(full, "stage_peak_mib"),
        "stage_wall_10x": median_per_stage(runs_10x, "stage_wall"),
        "stage_peak_mib_10x": median_per_stage(runs_10x, "stage_peak_mib"),
        "input_mib": input_default,
        "input_mib_10x": input_10x,
        "histogram_only_stages": measured["histogram_only"][0]["stages_run"],
        "evaluate_only_stages": measured["evaluate_only"][0]["stages_run"],
    }
    summary["scale_ratio"] = summary["full_10x_s"] / summary["full_s"]
    summary["logging_share"] = (summary["figures_s"] + summary["mlflow_s"]) / summary["full_s"]
    summary["input_copies"] = {
        stage: (summary["stage_peak_mib_10x"][stage] - peak) / (input_10x - input_default)
        for stage, peak in summary["stage_peak_mib"].items()
    }
    heaviest_copies = max(summary["input_copies"].values())
    targets = [
        ("no-op dvc repro <= 3 s", f"{summary['noop_s']:.2f} s", summary["noop_s"] <= 3),
        (
            "histogram-only change <= 10 % of the full run",
            f"{100 * summary['histogram_only_s'] / summary['full_s']:.1f} %",
            summary["histogram_only_s"] <= 0.10 * summary["full_s"],
        ),
        (
            f"full run at {args.scale}x data <= 12x the default full run",
            f"{summary['scale_ratio']:.2f}x",
            summary["scale_ratio"] <= 12,
        ),
        (
            "figures + MLflow logging <= 15 % of the full run",
            f"{100 * summary['logging_share']:.1f} %",
            summary["logging_share"] <= 0.15,
        ),
        (
            "no stage holds more than a few copies of its input",
            f"{heaviest_copies:.1f} copies",
            heaviest_copies <= 5,
        ),
    ]
    results = {
        "meta": {
            "date": time.strftime("%Y-%m-%d"),
            "machine": f"{platform.machine()}, Python {platform.python_version()}, "
            f"{os.cpu_count()} CPUs",
            "repeats": args.repeats,
            "repeats_10x": args.repeats_10x,
            "scale": args.scale,
        },
        "summary": summary,
        "targets": [{"target": t, "measured": m, "met": ok} for t, m, ok in targets],
        "runs": {**measured, "full_10x": runs_10x},
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "speed.json").write_text(json.dumps(results, indent=2) + "\n")
    text = report(results)
    (args.out / "speed.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
