"""Scoring throughput of the deployable detector: ``make bench-score``.

On the detector the pipeline produced (``models/detector``, default params; ``make
bench-score`` runs ``dvc repro`` first) and 1,000,000 new curves of 256 points (the article's
curve family, anomalies included), stored as a float32 NumPy file (1 GB, as the pipeline
stores curves), as a float64 Parquet file of one column per point (2 GB) and as a float64
Parquet file of an ``id`` and one array column (1.5 GB, as Spark writes curves):

- the command line, end to end (read, preprocess, all three detectors, write), from a NumPy
  and from a Parquet file, to Parquet and to CSV: curves/s of its scoring loop and of the whole
  process (interpreter start and loading the detector included), and its peak memory;
- MLflow's own server (``mlflow models serve --env-manager local``) answering HTTP batches of
  1, 100 and 10,000 curves: median and 90th-percentile latency and curves/s;
- the bare autoencoder forward pass over the same curves held in memory, the yardstick: the
  goal is a command line at least half as fast, and a single curve answered in under 50 ms at
  the median over HTTP;
- Spark (``bench.spark_job``): the registered model through ``score_spark`` on ``local[2]``,
  on the array-column file, alternating with the command line on the same file in the same
  run; the goal is Spark at least half the command line's rate, its start-up (the session,
  the Python workers' first job that loads the model) reported apart; each Python worker's
  peak memory, and its agreement with the command line; and ``ae-anomaly score --spark``
  end to end from a cold start on both Parquet files;
- what locating each anomaly costs: the command line on a copy of the detector without its
  anomaly locator (no ``anomaly_*`` columns), alternating with the real one; the goal is
  scoring with locations within 1.5x the time without.

Machines differ about 3x, and a shared machine's speed drifts from minute to minute, so the
targets are ratios measured in the same run, and the command line and the bare pass are each
measured ``--repeats`` times, alternating, and reported as medians. Writes
``score.md`` and ``score.json`` to ``--out``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ae_anomaly.report.tables import markdown_table
from ae_anomaly.tracking.registry import REGISTERED_MODEL
from tooling.pipeline import params as read_params
from tooling.pipeline import stage_paths
from tooling.sandbox import PROJECT_ROOT, pipeline_env

CURVES = 1_000_000
CHUNK = 16_384  # rows per generated chunk, and per Parquet row group


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def write_curves(folder: Path, count: int, length: int) -> dict[str, Path]:
    """``count`` curves of the article's family (10 % anomalies) as a float32 .npy, a float64
    .parquet of one column per point and a float64 .parquet of an ``id`` and one array column
    (``curve``), as Spark writes curves; generated and written chunk by chunk."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from ae_anomaly.core.params import load_params
    from ae_anomaly.pipeline.wiring import bump_curves

    curves = bump_curves(
        load_params(PROJECT_ROOT / "params.yaml").generate.synthetic.model_copy(
            update={"sample_size": length}
        )
    )
    rng = np.random.default_rng(0)
    files = {
        "npy": folder / "curves.npy",
        "parquet": folder / "curves.parquet",
        "array_parquet": folder / "curves-array.parquet",
    }
    array = np.lib.format.open_memmap(
        files["npy"], mode="w+", dtype=np.float32, shape=(count, length)
    )
    writers: dict[str, Any] = {}
    for start in range(0, count, CHUNK):
        rows = min(CHUNK, count - start)
        chunk = curves.dataset(rows - rows // 10, rows // 10, rng).x.astype(np.float64)
        array[start : start + rows] = chunk
        tables = {
            "parquet": pa.table({f"t{i}": chunk[:, i] for i in range(length)}),
            "array_parquet": pa.table(
                {
                    "id": np.arange(start, start + rows),
                    "curve": pa.FixedSizeListArray.from_arrays(pa.array(chunk.ravel()), length),
                }
            ),
        }
        for name, table in tables.items():
            if name not in writers:
                writers[name] = pq.ParquetWriter(files[name], table.schema)
            writers[name].write_table(table, row_group_size=CHUNK)
    array.flush()
    del array
    for writer in writers.values():
        writer.close()
    return files


def run_cli(
    detector: Path, source: Path, output: Path, label_column: str | None = None
) -> dict[str, Any]:
    """``ae-anomaly score`` in a child process; its peak memory is read by a small wrapper
    process started from this (small) one, as Linux counts a parent's peak into its child's.
    ``label_column``: a Parquet file with a header, that column kept beside the scores."""
    command = [
        str(Path(sys.executable).parent / "ae-anomaly"), "score", str(source),
        "--detector", str(detector), "-o", str(output), "--threads", "2",
    ]  # fmt: skip
    if label_column is not None:
        command += ["--layout", "header", "--label-column", label_column]
    wrapper = textwrap.dedent(
        f"""
        import json, resource, subprocess, sys, time
        started = time.perf_counter()
        result = subprocess.run({command!r}, capture_output=True, text=True)
        print(json.dumps({{
            "returncode": result.returncode, "stderr": result.stderr[-3000:],
            "seconds": time.perf_counter() - started,
            "peak_mib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
        }}))
        """
    )
    result = json.loads(
        subprocess.run(
            [sys.executable, "-c", wrapper],
            capture_output=True,
            text=True,
            check=True,
            env=pipeline_env(),
        ).stdout
    )
    if result["returncode"] != 0:
        raise RuntimeError(f"ae-anomaly score failed:\n{result['stderr']}")
    line = next(line for line in result["stderr"].splitlines() if line.startswith("scored "))
    loop_seconds = float(line.split(" in ")[1].split(" s ")[0])
    return {
        "input": source.suffix,
        "output": output.suffix,
        "process_seconds": result["seconds"],
        "loop_seconds": loop_seconds,
        "peak_mib": result["peak_mib"],
        "output_mib": output.stat().st_size / 2**20,
    }


def without_locator(detector: Path, folder: Path) -> Path:
    """A copy of ``detector`` without its anomaly locator: it scores the same, locating
    nothing (as a folder written before detectors located anomalies)."""
    copy = folder / "detector-without-locator"
    shutil.copytree(detector, copy, dirs_exist_ok=True)
    config = json.loads((copy / "detector.json").read_text())
    config.pop("locator", None)
    (copy / "detector.json").write_text(json.dumps(config))
    return copy


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def served(model_uri: str, tracking: str, log_file: Path) -> Iterator[str]:
    port = _free_port()
    command = [str(Path(sys.executable).parent / "mlflow"), "models", "serve", "-m", model_uri]
    command += ["--env-manager", "local", "-h", "127.0.0.1", "-p", str(port)]
    with open(log_file, "w") as output:
        server = subprocess.Popen(
            command,
            env=pipeline_env(MLFLOW_TRACKING_URI=tracking),
            stdout=output,
            stderr=output,
            start_new_session=True,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 180
            while True:
                try:
                    with urllib.request.urlopen(f"{url}/ping", timeout=2):
                        break
                except OSError:
                    if server.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(
                            f"server did not start:\n{log_file.read_text()}"
                        ) from None
                    time.sleep(0.5)
            yield url
        finally:
            os.killpg(server.pid, 15)
            server.wait(timeout=60)


def measure_http(url: str, curves: np.ndarray, batch: int, requests: int) -> dict[str, Any]:
    bodies = [
        json.dumps({"inputs": curves[i * batch : (i + 1) * batch].tolist()}).encode()
        for i in range(requests)
    ]
    latencies = []
    for body in [bodies[0], *bodies]:  # the first one warms the server up, unmeasured
        request = urllib.request.Request(
            f"{url}/invocations", data=body, headers={"Content-Type": "application/json"}
        )
        started = time.perf_counter()
        with urllib.request.urlopen(request, timeout=300) as response:
            answer = json.loads(response.read())
        latencies.append(time.perf_counter() - started)
        assert len(answer["predictions"]) == batch
    latencies = latencies[1:]
    return {
        "batch": batch,
        "requests": requests,
        "median_ms": 1000 * statistics.median(latencies),
        "p90_ms": 1000 * statistics.quantiles(latencies, n=10)[-1],
        "curves_per_s": batch * requests / sum(latencies),
    }


def bare_forward(detector_folder: Path, source: Path) -> dict[str, Any]:
    """The network alone over every curve, in memory, at the batch size the detector uses
    and every core this process may use: the yardstick. Run in a child process, so this one
    stays small (a child inherits its parent's peak memory on Linux)."""
    code = textwrap.dedent(
        f"""
        import json, time, numpy as np, torch
        from ae_anomaly.networks.base import reconstruct
        from ae_anomaly.networks.checkpoint import load_network
        from ae_anomaly.core.threads import thread_share
        torch.set_num_threads(thread_share())
        config = json.loads(open({str(detector_folder / "detector.json")!r}).read())
        model = load_network({str(detector_folder / "autoencoder.pt")!r})
        curves = np.load({str(source)!r}).astype(np.float32)  # in memory before the clock
        reconstruct(model, curves[:4096], torch.device("cpu"), config["batch_size"])
        started = time.perf_counter()
        reconstruct(model, curves, torch.device("cpu"), config["batch_size"])
        seconds = time.perf_counter() - started
        print(json.dumps({{"seconds": seconds, "curves_per_s": len(curves) / seconds,
                          "threads": torch.get_num_threads(), "batch": config["batch_size"]}}))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=pipeline_env()
    )
    if result.returncode != 0:
        raise RuntimeError(f"bare forward pass failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout)


def run_spark(
    source: Path, detector: Path, model_uri: str, tracking: str, work: Path, repeats: int
) -> dict[str, Any]:
    """``bench.spark_job`` in a child process: Spark and the command line, alternating, on
    the same Parquet file of an array column."""
    command = [
        sys.executable, "-m", "bench.spark_job", "--source", str(source),
        "--model-uri", model_uri, "--tracking-uri", tracking, "--detector", str(detector),
        "--work", str(work), "--repeats", str(repeats),
    ]  # fmt: skip
    result = subprocess.run(
        command, cwd=PROJECT_ROOT, capture_output=True, text=True, env=pipeline_env()
    )
    if result.returncode != 0:
        raise RuntimeError(f"the Spark job failed:\n{result.stderr[-5000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def run_spark_cli(source: Path, model_uri: str, output: Path) -> dict[str, Any]:
    """``ae-anomaly score SOURCE --spark local[2]`` end to end, from a cold start: the
    process's wall time and the command's own figures."""
    command = [
        str(Path(sys.executable).parent / "ae-anomaly"), "score", str(source),
        "--detector", model_uri, "--spark", "local[2]", "-o", str(output),
    ]  # fmt: skip
    started = time.perf_counter()
    result = subprocess.run(
        command, cwd=PROJECT_ROOT, capture_output=True, text=True, env=pipeline_env()
    )
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise RuntimeError(f"ae-anomaly score --spark failed:\n{result.stderr[-5000:]}")
    line = next(line for line in result.stderr.splitlines() if line.startswith("scored "))
    return {
        "input": source.name,
        "process_seconds": seconds,
        "job_seconds": float(line.split(" on Spark in ")[1].split(" s ")[0]),
        "session_seconds": float(line.split("Spark started in ")[1].split(" s)")[0]),
        "refused": int(line.split("), ")[1].split(" refused")[0]),
    }


def spark_agreement(spark_output: Path, cli_output: Path) -> dict[str, Any]:
    """How far Spark's scores are from the command line's on the same curves (matched by
    ``id``, which the command line keeps as its label column)."""
    import pyarrow.parquet as pq

    spark = pq.read_table(spark_output).to_pandas().sort_values("id").reset_index(drop=True)
    cli = pq.read_table(cli_output).to_pandas()
    cli = cli.assign(id=cli["label"].astype(np.int64)).sort_values("id").reset_index(drop=True)
    assert (spark["id"].to_numpy() == cli["id"].to_numpy()).all()
    scores = [name for name in cli.columns if name.endswith("_score")]
    integers = [name for name in cli.columns if name.endswith("_label") or "anomaly_" in name]
    return {
        "rows": len(spark),
        "max_score_difference": max(
            float(np.abs(spark[name].to_numpy() - cli[name].to_numpy()).max()) for name in scores
        ),
        "integer_columns_equal": all(
            (spark[name].to_numpy() == cli[name].to_numpy()).all() for name in integers
        ),
        "refused": int(spark["error"].notna().sum()),
    }


def spark_section(meta: dict[str, Any], spark: dict[str, Any]) -> list[str]:
    job, runs = spark["job"], spark["job"]["cli"]
    rows = [
        [
            str(index),
            f"{meta['curves'] / seconds:,.0f}",
            f"{meta['curves'] / run['loop_seconds']:,.0f}",
            f"{run['loop_seconds'] / seconds:.2f}x",
        ]
        for index, (seconds, run) in enumerate(zip(job["spark_seconds"], runs, strict=True), 1)
    ]
    before, after = job["peaks_mib_after_warm_up"], job["peaks_mib"]
    workers = sorted(after["python_workers"])
    worker_rows = [
        [
            f"Python worker {index}",
            f"{before['python_workers'].get(pid, float('nan')):,.0f} MiB",
            f"{after['python_workers'][pid]:,.0f} MiB",
        ]
        for index, pid in enumerate(workers, 1)
    ]
    worker_rows += [
        ["JVM (driver and executor)", f"{before['jvm'][pid]:,.0f} MiB", f"{peak:,.0f} MiB"]
        for pid, peak in after["jvm"].items()
    ]
    agreement = spark["agreement"]
    cold_rows = [
        [
            f"`{run['input']}`",
            f"{meta['curves'] / run['job_seconds']:,.0f}",
            f"{run['session_seconds']:.1f} s",
            f"{run['process_seconds']:.1f} s",
            f"{meta['curves'] / run['process_seconds']:,.0f}",
        ]
        for run in spark["cold"]
    ]
    batch_mib = job["batch_rows"] * meta["length"] * 8 / 2**20
    partition_mib = meta["curves"] / job["partitions"] * meta["length"] * 8 / 2**20
    return [
        "## Spark: `score_spark` (`mlflow.pyfunc.spark_udf`) on `local[2]`",
        "",
        f"The same curves as one `array<double>` column beside an `id` (`curves-array.parquet`, "
        f"{meta['input_mib']['array_parquet']:,.0f} MiB, {job['partitions']} partitions), "
        "scored by the registered model in one Spark session, each run followed by the command "
        "line on the same file (`--layout header --label-column id`):",
        "",
        markdown_table(
            ("run", "Spark curves/s", "command line curves/s, scoring", "Spark / command line"),
            rows,
        ),
        "",
        f"Spark's start-up, apart from the rows above: the session {job['session_seconds']:.1f} "
        f"s; then a first job of {job['warm_up_curves']:,} curves in two tasks, which starts "
        f"both Python workers and loads the model into each, {job['warm_up_seconds']:.1f} s.",
        "",
        f"Agreement with the command line on all {agreement['rows']:,} curves: largest score "
        f"difference {agreement['max_score_difference']:.1e}; labels and locations equal: "
        f"{'yes' if agreement['integer_columns_equal'] else '**NO**'}; refused: "
        f"{agreement['refused']}.",
        "",
        f"Peak memory (`VmHWM`), after the first job and after the {len(rows)} runs; the model "
        f"gets Arrow batches of {job['batch_rows']:,} curves ({batch_mib:,.0f} MiB in float64), "
        f"a partition holds about {partition_mib:,.0f} MiB of curves:",
        "",
        markdown_table(("process", "after the first job", "after every run"), worker_rows),
        "",
        "From a cold start, end to end: `ae-anomaly score FILE --detector "
        "models:/ae-anomaly-detector/<version> --spark local[2] -o OUT.parquet` (Parquet "
        "folder out; the job includes starting the workers and loading the model):",
        "",
        markdown_table(
            (
                "input",
                "curves/s, job",
                "session start",
                "whole process",
                "curves/s, whole process",
            ),
            cold_rows,
        ),
    ]


def report(results: dict[str, Any]) -> str:
    meta, bare = results["meta"], results["bare"]
    cli_rows = [
        [
            f"`{run['input']}` -> `{run['output']}`",
            f"{meta['curves'] / run['loop_seconds']:,.0f}",
            f"{meta['curves'] / run['process_seconds']:,.0f}",
            f"{run['peak_mib']:,.0f} MiB",
            f"{run['output_mib']:,.0f} MiB",
        ]
        for run in results["cli"]
    ]
    http_rows = [
        [
            run["batch"],
            run["requests"],
            f"{run['median_ms']:.1f} ms",
            f"{run['p90_ms']:.1f} ms",
            f"{run['curves_per_s']:,.0f}",
        ]
        for run in results["http"]
    ]
    lines = [
        "# Scoring throughput of the deployable detector",
        "",
        f"`make bench-score` on {meta['date']} ({meta['machine']}): {meta['curves']:,} curves "
        f"of {meta['length']} points (`.npy` float32, {meta['input_mib']['npy']:,.0f} MiB; "
        f"`.parquet` float64, {meta['input_mib']['parquet']:,.0f} MiB; in float64 the curves "
        f"are {meta['curves_mib']:,.0f} MiB), the detector of `models/detector` (default "
        "params). Command line rows: the first "
        f"{meta['repeats']} are the repeats behind the target's median.",
        "",
        "## Command line: `ae-anomaly score CURVES --detector models/detector -o OUT`",
        "",
        markdown_table(
            (
                "input -> output",
                "curves/s, scoring",
                "curves/s, whole process",
                "peak memory",
                "output size",
            ),
            cli_rows,
        ),
        "",
        "'Scoring' is the command's own read-preprocess-score-write loop; 'whole process' "
        "adds starting Python and loading the detector.",
        "",
        "## What locating the anomaly costs: the same command without the locator",
        "",
        "`.npy` -> `.parquet`, the detector's copy without its anomaly locator (no "
        "`anomaly_start`/`anomaly_end`/`anomaly_peak` columns), run alternately with the "
        "rows above:",
        "",
        markdown_table(
            ("run", "curves/s, scoring", "curves/s, whole process", "peak memory"),
            [
                [
                    str(index),
                    f"{meta['curves'] / run['loop_seconds']:,.0f}",
                    f"{meta['curves'] / run['process_seconds']:,.0f}",
                    f"{run['peak_mib']:,.0f} MiB",
                ]
                for index, run in enumerate(results["cli_without_locations"], 1)
            ],
        ),
        "",
        "## HTTP: `mlflow models serve -m models:/ae-anomaly-detector/<version> "
        "--env-manager local`",
        "",
        markdown_table(
            ("curves per request", "requests", "median", "90th percentile", "curves/s"), http_rows
        ),
        "",
        *spark_section(meta, results["spark"]),
        "",
        "## The yardstick: the bare autoencoder forward pass, curves in memory",
        "",
        f"{bare['curves_per_s']:,.0f} curves/s, median of "
        f"{', '.join(f'{rate:,.0f}' for rate in bare['all_curves_per_s'])} "
        f"({bare['threads']} threads, batches of {bare['batch']}).",
        "",
        "## Targets",
        "",
        markdown_table(
            ("target", "measured", "met"),
            [
                [t["target"], t["measured"], "yes" if t["met"] else "**NO**"]
                for t in results["targets"]
            ],
        ),
    ]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--curves", type=int, default=CURVES)
    parser.add_argument("--repeats", type=int, default=3, help="runs of the CLI and bare pass")
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "bench/results")
    parser.add_argument(
        "--work", type=Path, default=None, help="scratch folder (default: a temp one)"
    )
    args = parser.parse_args(argv)
    detector = stage_paths("detector")["detector"]
    if not (detector / "detector.json").is_file():
        parser.error(f"{detector} missing: run `dvc repro` (make bench-score does) first")
    length = read_params()["generate"]["synthetic"]["sample_size"]
    tracking = f"sqlite:///{PROJECT_ROOT / 'mlflow.db'}"
    work = args.work or Path(tempfile.mkdtemp(prefix="bench-score-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        log(f"writing {args.curves:,} curves to {work}")
        files = write_curves(work, args.curves, length)
        cli, bare_runs, unlocated = [], [], []
        plain = without_locator(detector, work)
        for repeat in range(args.repeats):  # alternating, so drifts hit all alike
            cli.append(run_cli(detector, files["npy"], work / "scores.parquet"))
            unlocated.append(run_cli(plain, files["npy"], work / "scores.parquet"))
            bare_runs.append(bare_forward(detector, files["npy"]))
            log(
                f"repeat {repeat + 1}: cli {cli[-1]}, without locations {unlocated[-1]}, "
                f"bare {bare_runs[-1]}"
            )
        for source, output in ((files["npy"], "scores.csv"), (files["parquet"], "scores.csv")):
            cli.append(run_cli(detector, source, work / output))
            log(f"cli {source.name} -> {output}: {cli[-1]}")
        for output in work.glob("scores.*"):
            output.unlink()

        sample = np.load(files["npy"], mmap_mode="r")[:20_000].astype(np.float64)
        from mlflow import MlflowClient

        version = max(
            int(v.version)
            for v in MlflowClient(tracking).search_model_versions(f"name = '{REGISTERED_MODEL}'")
        )
        with served(f"models:/{REGISTERED_MODEL}/{version}", tracking, work / "serve.log") as url:
            http = [
                measure_http(url, sample, 1, 200),
                measure_http(url, sample, 100, 50),
                measure_http(url, sample, 10_000, 2),
            ]
        log(f"http: {http}")
        model_uri = f"models:/{REGISTERED_MODEL}/{version}"
        spark_job = run_spark(
            files["array_parquet"], detector, model_uri, tracking, work, args.repeats
        )
        log(f"spark: {spark_job}")
        agreement = spark_agreement(work / "spark-scores.parquet", work / "cli-scores.parquet")
        log(f"spark agreement: {agreement}")
        cold = [
            run_spark_cli(files[name], model_uri, work / "spark-cold.parquet")
            for name in ("array_parquet", "parquet")
        ]
        log(f"spark, cold: {cold}")
        spark = {"job": spark_job, "agreement": agreement, "cold": cold}
        input_mib = {name: path.stat().st_size / 2**20 for name, path in files.items()}
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)

    median_cli = statistics.median(args.curves / run["loop_seconds"] for run in cli[: args.repeats])
    bare = bare_runs[0] | {
        "curves_per_s": statistics.median(run["curves_per_s"] for run in bare_runs),
        "all_curves_per_s": [run["curves_per_s"] for run in bare_runs],
    }
    median_unlocated = statistics.median(args.curves / run["loop_seconds"] for run in unlocated)
    location_cost = median_unlocated / median_cli  # time with / time without
    single = next(run for run in http if run["batch"] == 1)
    peak = max(run["peak_mib"] for run in cli)
    curves_mib = args.curves * length * 8 / 2**20
    targets = [
        (
            "command line (.npy -> .parquet) >= 0.5x the bare forward pass, medians (curves/s)",
            f"{median_cli:,.0f} / {bare['curves_per_s']:,.0f} = "
            f"{median_cli / bare['curves_per_s']:.2f}x",
            median_cli >= 0.5 * bare["curves_per_s"],
        ),
        (
            "scoring with locations <= 1.5x the time without (command line, medians)",
            f"{median_unlocated:,.0f} / {median_cli:,.0f} curves/s = {location_cost:.2f}x",
            location_cost <= 1.5,
        ),
        (
            "HTTP, one curve per request: median latency < 50 ms",
            f"{single['median_ms']:.1f} ms",
            single["median_ms"] < 50,
        ),
        (
            "command line peak memory well under the curves in float64",
            f"{peak:,.0f} MiB of {curves_mib:,.0f} MiB",
            peak < 0.5 * curves_mib,
        ),
    ]
    spark_rate = statistics.median(args.curves / t for t in spark["job"]["spark_seconds"])
    spark_cli_rate = statistics.median(
        args.curves / run["loop_seconds"] for run in spark["job"]["cli"]
    )
    before = spark["job"]["peaks_mib_after_warm_up"]["python_workers"]
    after = spark["job"]["peaks_mib"]["python_workers"]
    growth = max(after[pid] - before.get(pid, 0.0) for pid in after)
    partition_mib = args.curves / spark["job"]["partitions"] * length * 8 / 2**20
    targets += [
        (
            "Spark (local[2], array column) >= 0.5x the command line on the same Parquet file, "
            "medians (curves/s; Spark's start-up apart)",
            f"{spark_rate:,.0f} / {spark_cli_rate:,.0f} = {spark_rate / spark_cli_rate:.2f}x",
            spark_rate >= 0.5 * spark_cli_rate,
        ),
        (
            "Spark Python worker: what scoring adds to its peak memory < one partition's curves "
            "(Arrow batches, not the partition)",
            f"{growth:,.0f} MiB of {partition_mib:,.0f} MiB",
            growth < partition_mib,
        ),
        (
            "Spark agrees with the command line: scores to 1e-6, labels and locations equal",
            f"{spark['agreement']['max_score_difference']:.1e}",
            spark["agreement"]["max_score_difference"] <= 1e-6
            and spark["agreement"]["integer_columns_equal"],
        ),
    ]
    results = {
        "meta": {
            "date": time.strftime("%Y-%m-%d"),
            "machine": f"{platform.machine()}, Python {platform.python_version()}, "
            f"{os.cpu_count()} CPUs",
            "curves": args.curves,
            "length": length,
            "input_mib": input_mib,
            "repeats": args.repeats,
            "curves_mib": curves_mib,
        },
        "cli": cli,
        "cli_without_locations": unlocated,
        "http": http,
        "bare": bare,
        "spark": spark,
        "targets": [{"target": t, "measured": m, "met": ok} for t, m, ok in targets],
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "score.json").write_text(json.dumps(results, indent=2) + "\n")
    text = report(results)
    (args.out / "score.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
