"""How long a stage took, and what it held: its wall time, peak memory and timed phases.

Each stage logs its wall time and peak memory when it ends, and appends the same figures
(plus its timed phases) as one JSON line to

- the stage-costs journal that ``dvc.yaml`` names (``--stage-costs``): the MLflow run reads
  the records of the stages that ran in its own ``dvc repro`` / ``dvc exp run`` from it, so
  the run covers the whole execution and shows where its time went;
- the file ``AE_ANOMALY_TIMINGS`` names, when set: what the benchmarks read.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

logger = logging.getLogger("ae_anomaly")

TIMINGS_ENV = "AE_ANOMALY_TIMINGS"

#: Records the journal keeps: enough for every stage of many executions, never unbounded.
JOURNAL_RECORDS = 200

#: This process's stage-costs journal, from ``--stage-costs``; ``None``: none is kept.
_journal: Path | None = None


#: Seconds spent in each named phase of this process (``timed``), for the timings record.
_phases: dict[str, float] = {}


def record_phase(label: str, seconds: float) -> None:
    """Add ``seconds`` to the phase ``label`` of this stage's timings record, and log it."""
    _phases[label] = _phases.get(label, 0.0) + seconds
    logger.info("%s took %.2f s", label, seconds)


@contextlib.contextmanager
def timed(label: str) -> Iterator[None]:
    """Time a block as the phase ``label`` (see :func:`record_phase`)."""
    started = time.perf_counter()
    yield
    record_phase(label, time.perf_counter() - started)


def peak_memory_mib() -> float:
    """Peak resident memory of this process, or of its largest finished worker if higher.

    Linux reports ``ru_maxrss`` in KiB (macOS in bytes); for children it is the largest
    single child's peak. Where ``resource`` does not exist (Windows) this reports 0.
    """
    try:
        import resource
    except ImportError:
        return 0.0
    peak = max(
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
    )
    return peak / (2**20 if sys.platform == "darwin" else 1024)


def _process_age() -> float:
    """Seconds since this process started. On Linux from its start tick and the boot clock
    (10 ms steps): ``psutil``'s create time adds the boot time, which Linux gives in whole
    seconds, and so reads up to a second early, which every stage's wall time would carry."""
    try:
        with open("/proc/self/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        started = int(fields[19]) / os.sysconf("SC_CLK_TCK")
        return time.clock_gettime(time.CLOCK_BOOTTIME) - started
    except (OSError, ValueError, IndexError, AttributeError):
        import psutil

        return time.time() - psutil.Process().create_time()


def keep_journal(path: str | Path | None) -> None:
    """Append this stage's record to the stage-costs journal ``path`` when it ends."""
    global _journal
    _journal = None if path is None else Path(path)


def stage_name() -> str:
    """The running stage: its script's name (``stages/train_ae.py`` -> ``train_ae``)."""
    return Path(sys.argv[0]).stem


def pipeline_execution() -> str:
    """Names the ``dvc repro`` / ``dvc exp run`` this stage runs under: the nearest ``dvc``
    process above it (its pid and start time; a recycled pid has another), or its parent
    process when no ``dvc`` is above it (a stage run by hand)."""
    import psutil

    me = psutil.Process()
    owner = me.parent() or me
    for process in me.parents():
        try:
            command = process.cmdline()
            name = process.name()
        except psutil.Error:
            continue
        if name == "dvc" or any(Path(part).name == "dvc" for part in command[:3]):
            owner = process
            break
    return f"{owner.pid}:{owner.create_time()!r}"


def stage_record(stage: str, seconds: float, peak_mib: float) -> dict[str, Any]:
    """The stage's own time (``seconds``), its process's wall-clock start and end
    (interpreter start-up and imports included), peak memory, timed phases, and the
    pipeline execution it belongs to."""
    now = time.time()
    return {
        "stage": stage,
        "seconds": seconds,
        "started_at": now - _process_age(),
        "ended_at": now,
        "peak_mib": peak_mib,
        "phases": dict(_phases),
        "execution": pipeline_execution(),
    }


def cost_so_far(stage: str) -> dict[str, Any]:
    """``stage``'s record as if it ended now: for a stage that reports its own cost before
    it ends (``evaluate`` logs the MLflow run)."""
    return stage_record(stage, _process_age(), peak_memory_mib())


def write_timings(stage: str, seconds: float, peak_mib: float) -> None:
    """Append the stage's record to the journal and to ``AE_ANOMALY_TIMINGS``' file, if any."""
    record = stage_record(stage, seconds, peak_mib)
    if _journal is not None:
        _append_to_journal(_journal, record)
    path = os.environ.get(TIMINGS_ENV)
    if path:
        with open(path, "a") as handle:
            handle.write(json.dumps(record) + "\n")


def _read_journal(path: Path) -> list[dict[str, Any]]:
    """The journal's records; lines that do not parse (a stage killed mid-write) are skipped."""
    try:
        lines = path.read_text().splitlines()
    except FileNotFoundError:
        return []
    records = []
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and {"stage", "started_at", "ended_at"} <= record.keys():
            records.append(record)
    return records


def _append_to_journal(path: Path, record: dict[str, Any]) -> None:
    """Add ``record``, keeping the last :data:`JOURNAL_RECORDS`. DVC runs one pipeline per
    workspace at a time (it locks the repository), so nothing else writes here meanwhile."""
    kept = [*_read_journal(path)[-(JOURNAL_RECORDS - 1) :], record]
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text("".join(json.dumps(entry) + "\n" for entry in kept))
    partial.replace(path)


def costs_of_this_execution(journal: str | Path, stage: str) -> list[dict[str, Any]]:
    """The records of the stages that ran before ``stage`` in this pipeline execution: the
    journal's records of this execution since ``stage`` last ended in it, oldest first.
    Stages DVC took from its cache have none."""
    execution = pipeline_execution()
    records = [r for r in _read_journal(Path(journal)) if r.get("execution") == execution]
    ends = [index for index, record in enumerate(records) if record["stage"] == stage]
    return records[ends[-1] + 1 :] if ends else records
