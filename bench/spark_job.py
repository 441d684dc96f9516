"""The Spark half of ``make bench-score``, in a process of its own: one Spark session on
``local[2]`` scoring the same Parquet file ``--repeats`` times with the registered detector
(``score_spark``, so ``mlflow.pyfunc.spark_udf``), each run followed by the command line on
the same file, so that a drifting machine's speed hits both alike.

Before the measured runs, one small job in two tasks starts the Python workers and loads the
model into each: that, with the session, is Spark's start-up, reported apart. After it and at
the end, the peak memory (``VmHWM``) of the JVM and of every Python worker is read from
``/proc`` while they are still alive: what a worker gains in between is what scoring holds
(Arrow batches), not what it loaded. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import mlflow
import psutil

from ae_anomaly.tracking.spark_scoring import score_spark, start_spark
from bench.score import run_cli

WARM_UP_CURVES = 16_384


def peak_mib(pid: int) -> float:
    """The peak resident memory of a live process, from ``/proc/<pid>/status``."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def process_peaks() -> dict[str, dict[str, float]]:
    """Peak memory of this process's JVM and of the Python workers it started, by pid."""
    peaks: dict[str, dict[str, float]] = {"jvm": {}, "python_workers": {}}
    for child in psutil.Process().children(recursive=True):
        try:
            command = " ".join(child.cmdline())
            if "java" in Path(child.cmdline()[0]).name:
                peaks["jvm"][str(child.pid)] = peak_mib(child.pid)
            elif ("pyspark.daemon" in command or "pyspark.worker" in command) and (
                # The daemon forks the workers; the daemon itself holds no batch.
                child.parent() is not None
                and "pyspark.daemon" in " ".join(child.parent().cmdline())
            ):
                peaks["python_workers"][str(child.pid)] = peak_mib(child.pid)
        except (psutil.NoSuchProcess, FileNotFoundError, IndexError):
            continue
    return peaks


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--source", type=Path, required=True)
    parser.add_argument("--model-uri", required=True)
    parser.add_argument("--tracking-uri", required=True)
    parser.add_argument("--detector", type=Path, required=True, help="for the command line")
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-rows", type=int, default=8_192)
    parser.add_argument("--master", default="local[2]")
    args = parser.parse_args(argv)
    mlflow.set_tracking_uri(args.tracking_uri)

    started = time.perf_counter()
    spark = start_spark(args.master, args.batch_rows, app_name="bench-score")
    session_seconds = time.perf_counter() - started
    curves = spark.read.parquet(str(args.source))

    def job(frame: Any, output: Path) -> float:
        started = time.perf_counter()
        scored = score_spark(frame, args.model_uri, curves_column="curve").drop("curve")
        scored.write.mode("overwrite").parquet(str(output))
        return time.perf_counter() - started

    # Two tasks, so that both of local[2]'s Python workers start and load the model.
    warm_up = curves.limit(WARM_UP_CURVES).repartition(2)
    warm_up_seconds = job(warm_up, args.work / "spark-warm-up.parquet")
    peaks_after_warm_up = process_peaks()
    spark_seconds, cli_runs = [], []
    for _ in range(args.repeats):
        spark_seconds.append(job(curves, args.work / "spark-scores.parquet"))
        cli_runs.append(run_cli(args.detector, args.source, args.work / "cli-scores.parquet", "id"))
    result = {
        "master": args.master,
        "batch_rows": args.batch_rows,
        "partitions": curves.rdd.getNumPartitions(),
        "session_seconds": session_seconds,
        "warm_up_curves": WARM_UP_CURVES,
        "warm_up_seconds": warm_up_seconds,
        "spark_seconds": spark_seconds,
        "cli": cli_runs,
        "peaks_mib_after_warm_up": peaks_after_warm_up,
        "peaks_mib": process_peaks(),
    }
    spark.stop()
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
