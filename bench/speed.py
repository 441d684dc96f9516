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
  timing records): the wall time they add (:func:`reporting_seconds`), and their phases
  summed;
- the training loops (the ``mlp`` fast path, the general autograd trainer) against a plain
  PyTorch loop (``tooling/reference_trainer.py``), each in a
  fresh process on the same curves (``bench/trainer.py``), with steps/s against the FLOP
  ceiling; on CUDA too, at 1x and 10x data, when a GPU is present;
- ``dvc repro --force`` of the default pipeline against the article's experiment written as one
  plain script (``bench/article_script.py``);
- queued sweeps of 4 points with ``dvc queue start -j 1`` and ``-j 2``: points that each
  retrain the autoencoder, and points that change only the histogram forest;
- what sets the two ratio targets: each stage's growth at 10x and the largest share of a
  default run ``baselines`` may take for the 10x run to stay within 12x
  (:func:`scaling_bound`), and the median histogram-only rerun taken apart into DVC's own
  time, each stage's start-up and its in-stage phases (:func:`rerun_breakdown`).

It checks the targets of the speed issues and writes ``speed.md`` and ``speed.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ae_anomaly.core.params import load_params
from ae_anomaly.core.threads import running_queue_workers
from ae_anomaly.pipeline.timings import TIMINGS_ENV
from tooling.pipeline import generated_paths, stage_paths
from tooling.pipeline import params as read_params
from tooling.sandbox import (
    PROJECT_ROOT,
    dvc,
    make_sandbox,
    pipeline_env,
    run,
    start_queue,
    update_params,
)

#: The speed issues' limits that the report explains as well as checks.
SCALED_RUN_LIMIT = 12  # the 10x run, as a multiple of the default full run
HISTOGRAM_ONLY_SHARE = 0.10  # a histogram-only rerun, as a share of the default full run


def cpu_model() -> str:
    """The CPU's model name (the same project runs 3x faster on one of our machines than on
    another), or the architecture where the system does not say."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.machine()


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def reporting_seconds(record: dict[str, Any]) -> float:
    """The wall time a stage's figures and MLflow logging add to it.

    ``evaluate`` runs them beside its other work (MLflow's import beside the worker that
    scores the validation set, the run's logging beside the figures), so summing their phases
    counts the overlap twice; it times the scoring and writing of its results as the phase
    ``validation``, and the rest of its time goes to figures and the run. In other stages
    (``train_ae``) the figures phase runs with nothing beside it.
    """
    phases = record["phases"]
    if "validation" in phases:
        return max(0.0, record["seconds"] - phases["validation"])
    return sum(
        seconds for name, seconds in phases.items() if name.startswith(("figures", "mlflow"))
    )


def scaling_bound(
    full: float, baselines: float, full_scaled: float, baselines_scaled: float, limit: float
) -> dict[str, float]:
    """How far the scaled run's ratio is set by the ``baselines`` stage alone.

    The article's raw-curve detectors (above all its fully grown 100-tree Random Forest) grow
    faster than the data; the rest of the run grows at most with it (its fixed costs not at
    all). With ``b`` the baselines' share of the default run and ``g_b``, ``g_r`` the growth
    of the baselines and of the rest, the scaled run is ``b g_b + (1 - b) g_r`` times the
    default one, which stays within ``limit`` only while ``b <= (limit - g_r) / (g_b - g_r)``.
    Making the rest faster leaves both growths as they are and does not move that bound.
    """
    rest, rest_scaled = full - baselines, full_scaled - baselines_scaled
    growth_baselines, growth_rest = baselines_scaled / baselines, rest_scaled / rest
    if growth_baselines > growth_rest:
        bound = (limit - growth_rest) / (growth_baselines - growth_rest)
    else:
        bound = 1.0 if growth_rest <= limit else 0.0
    return {
        "growth_baselines": growth_baselines,
        "growth_rest": growth_rest,
        "baselines_share": baselines / full,
        "baselines_share_allowed": min(1.0, max(0.0, bound)),
    }


def rerun_breakdown(run: dict[str, Any]) -> dict[str, Any]:
    """Where a partial ``dvc repro``'s wall time went: DVC's own time (the total less the
    stages' wall times), each stage's start-up (its wall time less its in-stage time: the
    interpreter and the imports before ``main``), and each stage's in-stage time and phases.
    """
    startup = {
        stage: run["stage_wall"][stage] - run["stage_self"][stage] for stage in run["stage_wall"]
    }
    return {
        "seconds": run["seconds"],
        "dvc": run["seconds"] - sum(run["stage_wall"].values()),
        "startup": startup,
        "in_stage": dict(run["stage_self"]),
        "phases": run.get("stage_phases", {}),
    }


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
        "stage_phases": {r["stage"]: r["phases"] for r in records},
        "figures_seconds": phase("figures"),
        "mlflow_seconds": phase("mlflow"),
        "reporting_seconds": sum(reporting_seconds(record) for record in records),
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


def time_command(sandbox: Path, *command: str) -> float:
    started = time.perf_counter()
    result = subprocess.run(
        command, cwd=sandbox, env=pipeline_env(), capture_output=True, text=True
    )
    if result.returncode != 0:
        raise RuntimeError(f"{command} failed:\n{result.stdout[-3000:]}{result.stderr[-3000:]}")
    return time.perf_counter() - started


def time_trainer(sandbox: Path, loop: str, device: str = "cpu") -> dict[str, Any]:
    """One training loop in a fresh process (``bench/trainer.py``), on ``sandbox``'s split."""
    result = subprocess.run(
        [sys.executable, "-m", "bench.trainer", str(sandbox), "--loop", loop, "--device", device],
        cwd=PROJECT_ROOT,
        env=pipeline_env(),
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise RuntimeError(f"bench.trainer --loop {loop} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


TRAINER_LOOPS = ("reference", "autograd", "fast")


def measure_trainers(sandbox: Path, repeats: int) -> dict[str, list[dict[str, Any]]]:
    """The plain reference loop, the general trainer and the fast path, in an order that
    turns each repeat, so drift on a shared machine hits all alike."""
    loops: dict[str, list[dict[str, Any]]] = {loop: [] for loop in TRAINER_LOOPS}
    for repeat in range(repeats):
        for loop in TRAINER_LOOPS if repeat % 2 == 0 else TRAINER_LOOPS[::-1]:
            loops[loop].append(time_trainer(sandbox, loop))
            log(f"training loop {loop}: {loops[loop][-1]['seconds']:.1f} s")
    return loops


def measure_gpu(default: Path, scaled: Path) -> dict[str, Any] | None:
    """The fast loop on CUDA against 2 CPU threads, at 1x and 10x data; None without a GPU."""
    import torch

    if not torch.cuda.is_available():
        return None
    figures = {}
    for name, sandbox in (("1x", default), ("10x", scaled)):
        cpu, gpu = time_trainer(sandbox, "fast", "cpu"), time_trainer(sandbox, "fast", "cuda")
        figures[name] = {"cpu": cpu, "cuda": gpu, "speedup": cpu["seconds"] / gpu["seconds"]}
        log(f"GPU {name}: {gpu['seconds']:.1f} s vs CPU {cpu['seconds']:.1f} s")
    figures["device_name"] = torch.cuda.get_device_name()
    return figures


def measure_article(sandbox: Path, repeats: int) -> dict[str, list[float]]:
    """``dvc repro --force`` (everything: 500 epochs, figures, MLflow) vs the plain script."""
    forced, script = [], []
    for _ in range(repeats):
        forced.append(time_command(sandbox, sys.executable, "-m", "dvc", "repro", "--force"))
        script.append(time_command(sandbox, sys.executable, "-m", "bench.article_script"))
        log(f"dvc repro --force {forced[-1]:.1f} s, article script {script[-1]:.1f} s")
    return {"repro_force": forced, "article_script": script}


#: A finished experiment's ref: ``refs/exps/<baseline sha[:2]>/<baseline sha[2:]>/<name>``.
#: DVC keeps other refs under ``refs/exps`` while experiments run (``celery/``, ``exec/``,
#: ``temp/``, ``stash``, ``apply/``); counting any of them would end a sweep's clock early.
_EXPERIMENT_REF = re.compile(r"refs/exps/[0-9a-f]{2}/[0-9a-f]{38}/[^/]+")


def _finished_experiments(sandbox: Path) -> int:
    """Experiments DVC has finished (refs matching :data:`_EXPERIMENT_REF`): cheap to poll,
    unlike ``dvc queue status``, whose process would take CPU from the workers measured."""
    refs = run(sandbox, "git", "for-each-ref", "--format=%(refname)", "refs/exps").stdout
    return sum(1 for ref in refs.split() if _EXPERIMENT_REF.fullmatch(ref))


def time_sweep(sandbox: Path, overrides: str, jobs: int) -> float:
    """Queue one ``-S`` sweep, run it with ``dvc queue start -j jobs``, time it to the end."""
    before = _finished_experiments(sandbox)
    points = len(overrides.split("=", 1)[1].split(","))
    dvc(sandbox, "exp", "run", "--queue", "-S", overrides)
    started = time.perf_counter()
    start_queue(sandbox, jobs)
    deadline, polls = started + 3600, 0
    while _finished_experiments(sandbox) < before + points:
        polls += 1
        late = time.perf_counter() > deadline
        if late or polls % 30 == 0:  # now and then, the costlier check for a failed point
            status = dvc(sandbox, "queue", "status").stdout
            if late or "Failed" in status:
                raise RuntimeError(f"sweep {overrides} did not finish:\n{status}")
        time.sleep(1)
    # Every point has left its ref: done unless a worker is still running a task (then a
    # ref came from elsewhere; keep the clock running until the queue has nothing active).
    status = dvc(sandbox, "queue", "status").stdout
    while re.search(r"\b[1-9]\d* active", status) and time.perf_counter() < deadline:
        time.sleep(1)
        status = dvc(sandbox, "queue", "status").stdout
    seconds = time.perf_counter() - started
    if "Failed" in status:
        raise RuntimeError(f"sweep {overrides}: an experiment failed:\n{status}")
    # The workers leave once the queue is empty. `dvc queue stop` only if one lingers: its
    # shutdown request stays in the queue's broker and would stop the next sweep's worker.
    lingering = time.perf_counter() + 120
    while running_queue_workers(sandbox) and time.perf_counter() < lingering:
        time.sleep(1)
    if running_queue_workers(sandbox):
        dvc(sandbox, "queue", "stop", check=False)
    log(f"sweep {overrides} with -j {jobs}: {seconds:.1f} s")
    return seconds


def measure_sweeps(sandbox: Path) -> dict[str, dict[str, float]]:
    """4-point sweeps at -j 1 and -j 2 on the committed default results. Each job count gets
    points of its own (DVC's run cache would otherwise restore the first sweep's outputs)."""
    run(sandbox, "git", "add", "-A")
    run(sandbox, "git", "commit", "-q", "-m", "baseline results")
    defaults = read_params(sandbox)
    lr, bins = defaults["train_ae"]["lr"], defaults["histogram_forest"]["bins"]
    mixes = {
        "retrain": lambda jobs: (
            "train_ae.lr=" + ",".join(f"{lr * (1 + (jobs * 4 + k) / 100):.6g}" for k in range(4))
        ),
        "histogram_only": lambda jobs: (
            "histogram_forest.bins=" + ",".join(str(bins + jobs * 4 + k) for k in range(4))
        ),
    }
    return {
        mix: {f"j{jobs}": time_sweep(sandbox, points(jobs), jobs) for jobs in (1, 2)}
        for mix, points in mixes.items()
    }


def input_mib(sandbox: Path) -> float:
    """Size of the generated curves (pool + validation), the data every stage works on."""
    paths = stage_paths("generate", sandbox)
    return (paths["pool"].stat().st_size + paths["validation"].stat().st_size) / 2**20


def bounds_report(s: dict[str, Any], scale: int) -> list[str]:
    """What sets the two ratio targets, in the measured figures: the growth of ``baselines``
    against the rest (:func:`scaling_bound`) and a histogram-only rerun taken apart
    (:func:`rerun_breakdown`)."""
    bound, rerun = s["scaling"], s["histogram_only_breakdown"]
    lines = [
        f"## What sets the {scale}x ratio and the histogram-only share",
        "",
        f"**{scale}x data.** `baselines` grew {bound['growth_baselines']:.1f}x and the rest of "
        f"the run {bound['growth_rest']:.1f}x (DVC included). At those growths the {scale}x "
        f"run stays within {SCALED_RUN_LIMIT}x of the default run only while `baselines` "
        "takes at most "
        f"{100 * bound['baselines_share_allowed']:.0f} % of the default run; it took "
        f"{100 * bound['baselines_share']:.0f} % ({s['stage_wall']['baselines']:.1f} of "
        f"{s['full_s']:.1f} s). `baselines` fits the article's three detectors on raw curves "
        "as the article specifies them, above all a Random Forest of 100 fully grown trees "
        "that grow deeper with more curves. The bound depends on the two growths only, so a "
        "faster rest of the pipeline leaves it where it is and raises the baselines' share.",
        "",
        f"**A histogram-only rerun, taken apart** (the median run, {rerun['seconds']:.1f} s; "
        f"the {100 * HISTOGRAM_ONLY_SHARE:.0f} % target allows "
        f"{HISTOGRAM_ONLY_SHARE * s['full_s']:.1f} s):",
        "",
        "| part | seconds |",
        "|---|---|",
        f"| DVC itself (reading the pipeline, hashing, the lock file) | {rerun['dvc']:.2f} s |",
    ]
    for stage, startup in rerun["startup"].items():
        phases = rerun["phases"].get(stage, {})
        detail = ", ".join(f"{name} {seconds:.2f} s" for name, seconds in phases.items())
        lines += [
            f"| `{stage}`: start-up (interpreter, imports before `main`) | {startup:.2f} s |",
            f"| `{stage}`: in-stage{f' (phases, some side by side: {detail})' if detail else ''}"
            f" | {rerun['in_stage'][stage]:.2f} s |",
        ]
    fixed = rerun["dvc"] + sum(rerun["startup"].values())
    lines += [
        "",
        f"DVC and the stages' start-up alone took {fixed:.1f} s, "
        f"{100 * fixed / s['full_s']:.1f} % of the full run.",
    ]
    return lines


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
        f"| figure rendering + MLflow logging in a full run: the wall time they add "
        f"| {s['reporting_s']:.1f} s = {100 * s['logging_share']:.1f} % |",
        f"| ... their phases summed, side by side or not (figures + MLflow) "
        f"| {s['figures_s']:.1f} s + {s['mlflow_s']:.1f} s = "
        f"{100 * (s['figures_s'] + s['mlflow_s']) / s['full_s']:.1f} % |",
        "",
        "## Per stage (full run)",
        "",
        "| stage | wall, default (DVC) | in-stage, default | peak memory, default | wall, 10x "
        "| growth 10x / default | peak memory, 10x | extra memory / extra input |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for stage, wall in s["stage_wall"].items():
        lines.append(
            f"| {stage} | {wall:.1f} s | {s['stage_self'][stage]:.1f} s | "
            f"{s['stage_peak_mib'][stage]:.0f} MiB | {s['stage_wall_10x'][stage]:.1f} s | "
            f"{s['stage_wall_10x'][stage] / wall:.1f}x | "
            f"{s['stage_peak_mib_10x'][stage]:.0f} MiB | {s['input_copies'][stage]:.1f} |"
        )
    lines += [
        "",
        f"Input (pool + validation curves): {s['input_mib']:.1f} MiB at default size, "
        f"{s['input_mib_10x']:.1f} MiB at 10x. The last column is (peak 10x - peak default) / "
        "(input 10x - input default): how many copies of its input a stage holds on top of "
        "its fixed cost (interpreter, torch, sklearn).",
        "",
        *bounds_report(s, results["meta"]["scale"]),
        "",
        "## Training loop (`train_ae`, default params, one process each, CPU)",
        "",
        "| loop | seconds | optimizer steps/s | share of the FLOP ceiling |",
        "|---|---|---|---|",
        f"| reference (`tooling/reference_trainer.py`: DataLoader, autograd, Adam) | "
        f"{s['trainer_reference_s']:.1f} s | {s['trainer_reference_steps_per_s']:,.0f} | "
        f"{100 * s['trainer_reference_steps_per_s'] / s['trainer_steps_allowed']:.0f} % |",
        *(
            [
                "| general (`ae_anomaly/networks/training.py`, `trainer: autograd`, every kind) | "
                f"{s['trainer_autograd_s']:.1f} s | {s['trainer_autograd_steps_per_s']:,.0f} | "
                f"{100 * s['trainer_autograd_steps_per_s'] / s['trainer_steps_allowed']:.0f} % |"
            ]
            if s.get("trainer_autograd_s")
            else []
        ),
        "| fast (`ae_anomaly/networks/fast_mlp.py`, what `train_ae` runs for `mlp`) | "
        f"{s['trainer_fast_s']:.1f} s | "
        f"{s['trainer_steps_per_s']:,.0f} | "
        f"{100 * s['trainer_steps_per_s'] / s['trainer_steps_allowed']:.0f} % |",
        "",
        f"{s['trainer_steps']:,} optimizer steps. The FLOP ceiling, "
        f"{s['trainer_steps_allowed']:,.0f} steps/s, is this process's measured float32 "
        "matrix-multiply rate divided by one step's arithmetic (6 x batch x weights: forward "
        "and backward through every Linear).",
        "",
        "## Whole pipeline vs the article's script; parallel sweeps",
        "",
        "| measurement | seconds |",
        "|---|---|",
        f"| `dvc repro --force`, default params (500 epochs, every figure, MLflow) | "
        f"{s['repro_force_s']:.1f} s |",
        f"| the article's experiment as one plain script (`bench/article_script.py`, 100 "
        f"epochs) | {s['article_script_s']:.1f} s |",
    ]
    mixes = {
        "retrain": "each retrains the autoencoder (`train_ae.lr`)",
        "histogram_only": "each refits only the detector (`histogram_forest.bins`)",
    }
    for mix, label in mixes.items():
        for jobs in ("j1", "j2"):
            lines.append(
                f"| queued sweep of 4 points that {label}, `dvc queue start -j {jobs[1]}` | "
                f"{s['sweeps'][mix][jobs]:.1f} s |"
            )
    if s["gpu"]:
        lines += [
            "",
            f"## GPU ({s['gpu']['device_name']})",
            "",
            "| data | 2 CPU cores | GPU | speed-up |",
            "|---|---|---|---|",
        ]
        lines += [
            f"| {scale} | {s['gpu'][scale]['cpu']['seconds']:.1f} s | "
            f"{s['gpu'][scale]['cuda']['seconds']:.1f} s | {s['gpu'][scale]['speedup']:.1f}x |"
            for scale in ("1x", "10x")
        ]
    lines += [
        "",
        "## Targets",
        "",
        "| target | measured | met |",
        "|---|---|---|",
    ]
    verdicts = {True: "yes", False: "**NO**", None: "-"}
    lines += [
        f"| {t['target']} | {t['measured']} | {verdicts[t['met']]} |" for t in results["targets"]
    ]
    return "\n".join(lines) + "\n"


def measure(args: argparse.Namespace) -> dict[str, Any]:
    """Every measurement, in sandboxes of a temporary folder removed afterwards."""
    work = Path(tempfile.mkdtemp(prefix="bench-speed-"))
    try:
        default = make_sandbox(work / "default")
        counts = ("pool_normal", "pool_anomalous", "validation_normal", "validation_anomalous")
        synthetic = load_params(default / "params.yaml").generate.synthetic
        scaled_counts = {name: getattr(synthetic, name) * args.scale for name in counts}
        scaled = make_sandbox(work / "scaled", overrides={"generate": {"synthetic": scaled_counts}})
        log(f"sandboxes in {work}")
        measured = measure_default(default, args.repeats)
        clean(default)
        timed_repro(default)
        input_default = input_mib(default)
        trainers = measure_trainers(default, args.repeats_trainer)
        article = measure_article(default, args.repeats_article)
        sweeps = measure_sweeps(default)
        runs_10x = measure_scaled(scaled, args.repeats_10x)
        input_10x = input_mib(scaled)
        gpu = measure_gpu(default, scaled)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {
        "measured": measured,
        "input_default": input_default,
        "trainers": trainers,
        "article": article,
        "sweeps": sweeps,
        "runs_10x": runs_10x,
        "input_10x": input_10x,
        "gpu": gpu,
    }


def summarise(raw: dict[str, Any]) -> dict[str, Any]:
    """The figures the report and the targets use, from the raw measurements."""
    measured, trainers, article = raw["measured"], raw["trainers"], raw["article"]
    runs_10x, sweeps, gpu = raw["runs_10x"], raw["sweeps"], raw["gpu"]
    input_default, input_10x = raw["input_default"], raw["input_10x"]
    full = measured["full"]
    summary = {
        "full_s": median_of(full, "seconds"),
        "noop_s": median_of(measured["noop"], "seconds"),
        "histogram_only_s": median_of(measured["histogram_only"], "seconds"),
        "evaluate_only_s": median_of(measured["evaluate_only"], "seconds"),
        "full_10x_s": median_of(runs_10x, "seconds"),
        "figures_s": median_of(full, "figures_seconds"),
        "mlflow_s": median_of(full, "mlflow_seconds"),
        "reporting_s": median_of(full, "reporting_seconds"),
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
    fast, reference = trainers["fast"], trainers["reference"]
    autograd = trainers.get("autograd", [])
    summary.update(
        trainer_fast_s=median_of(fast, "seconds"),
        trainer_reference_s=median_of(reference, "seconds"),
        trainer_autograd_s=median_of(autograd, "seconds") if autograd else None,
        trainer_autograd_steps_per_s=median_of(autograd, "steps_per_s") if autograd else None,
        trainer_steps_per_s=median_of(fast, "steps_per_s"),
        trainer_reference_steps_per_s=median_of(reference, "steps_per_s"),
        trainer_steps_allowed=median_of(fast, "steps_per_s_allowed_by_flops"),
        trainer_steps=fast[0]["steps"],
        repro_force_s=statistics.median(article["repro_force"]),
        article_script_s=statistics.median(article["article_script"]),
        sweeps=sweeps,
        gpu=gpu,
    )
    summary["trainer_ratio"] = summary["trainer_fast_s"] / summary["trainer_reference_s"]
    summary["scale_ratio"] = summary["full_10x_s"] / summary["full_s"]
    summary["logging_share"] = summary["reporting_s"] / summary["full_s"]
    summary["scaling"] = scaling_bound(
        summary["full_s"],
        summary["stage_wall"]["baselines"],
        summary["full_10x_s"],
        summary["stage_wall_10x"]["baselines"],
        limit=SCALED_RUN_LIMIT,
    )
    histogram_runs = measured["histogram_only"]
    median_seconds = statistics.median_low(run["seconds"] for run in histogram_runs)
    summary["histogram_only_breakdown"] = rerun_breakdown(
        next(run for run in histogram_runs if run["seconds"] == median_seconds)
    )
    summary["input_copies"] = {
        stage: (summary["stage_peak_mib_10x"][stage] - peak) / (input_10x - input_default)
        for stage, peak in summary["stage_peak_mib"].items()
    }
    return summary


def speed_targets(summary: dict[str, Any], scale: int) -> list[tuple[str, str, bool | None]]:
    """Each target: what it asks, what was measured, whether it was met (None: not measured)."""
    sweeps, gpu = summary["sweeps"], summary["gpu"]
    heaviest_copies = max(summary["input_copies"].values())
    targets = [
        ("no-op dvc repro <= 3 s", f"{summary['noop_s']:.2f} s", summary["noop_s"] <= 3),
        (
            f"histogram-only change <= {100 * HISTOGRAM_ONLY_SHARE:.0f} % of the full run",
            f"{100 * summary['histogram_only_s'] / summary['full_s']:.1f} %",
            summary["histogram_only_s"] <= HISTOGRAM_ONLY_SHARE * summary["full_s"],
        ),
        (
            f"full run at {scale}x data <= {SCALED_RUN_LIMIT}x the default full run",
            f"{summary['scale_ratio']:.2f}x",
            summary["scale_ratio"] <= SCALED_RUN_LIMIT,
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
        (
            "default train_ae loop <= 0.45x the reference loop's time",
            f"{summary['trainer_fast_s']:.1f} s / {summary['trainer_reference_s']:.1f} s = "
            f"{summary['trainer_ratio']:.2f}x",
            summary["trainer_ratio"] <= 0.45,
        ),
        (
            "sweep of 4 retraining points: -j 2 at least 1.3x faster than -j 1",
            f"{sweeps['retrain']['j1']:.0f} s / {sweeps['retrain']['j2']:.0f} s = "
            f"{sweeps['retrain']['j1'] / sweeps['retrain']['j2']:.2f}x",
            sweeps["retrain"]["j1"] >= 1.3 * sweeps["retrain"]["j2"],
        ),
        (
            "sweep of 4 histogram-only points: -j 2 never slower than -j 1",
            f"{sweeps['histogram_only']['j1']:.0f} s / {sweeps['histogram_only']['j2']:.0f} s = "
            f"{sweeps['histogram_only']['j1'] / sweeps['histogram_only']['j2']:.2f}x",
            sweeps["histogram_only"]["j2"] <= sweeps["histogram_only"]["j1"],
        ),
        (
            "dvc repro --force (500 epochs, figures, MLflow) <= the article as a plain script",
            f"{summary['repro_force_s']:.1f} s vs {summary['article_script_s']:.1f} s",
            summary["repro_force_s"] <= summary["article_script_s"],
        ),
    ]
    for scale, floor in (("1x", 5), ("10x", 20)):
        goal = f"GPU training at {scale} data >= {floor}x faster than 2 CPU cores"
        if gpu is None:
            targets.append((goal, "not measured: no GPU", None))
        else:
            speedup = gpu[scale]["speedup"]
            targets.append((goal, f"{speedup:.1f}x ({gpu['device_name']})", speedup >= floor))
    return targets


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=3, help="runs per default-size figure")
    parser.add_argument(
        "--repeats-10x", type=int, default=1, help="runs at 10x data (each about 10 min)"
    )
    parser.add_argument("--scale", type=int, default=10, help="curve-count multiplier")
    parser.add_argument("--repeats-trainer", type=int, default=2, help="runs of each training loop")
    parser.add_argument(
        "--repeats-article", type=int, default=2, help="runs of repro --force and the script"
    )
    parser.add_argument(
        "--out", type=Path, default=PROJECT_ROOT / "bench/results", help="results folder"
    )
    args = parser.parse_args(argv)

    raw = measure(args)
    summary = summarise(raw)
    targets = speed_targets(summary, args.scale)
    results = {
        "meta": {
            "date": time.strftime("%Y-%m-%d"),
            "machine": f"{cpu_model()}, Python {platform.python_version()}, {os.cpu_count()} CPUs",
            "repeats": args.repeats,
            "repeats_10x": args.repeats_10x,
            "scale": args.scale,
        },
        "summary": summary,
        "targets": [{"target": t, "measured": m, "met": ok} for t, m, ok in targets],
        "runs": {
            **raw["measured"],
            "full_10x": raw["runs_10x"],
            "trainers": raw["trainers"],
            "article": raw["article"],
        },
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "speed.json").write_text(json.dumps(results, indent=2) + "\n")
    text = report(results)
    (args.out / "speed.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
