"""How long a stage took, and what it held: its wall time, peak memory and timed phases.

Each stage logs its wall time and peak memory when it ends and, when ``AE_ANOMALY_TIMINGS``
names a file, appends the same figures (plus its timed phases) to it as one JSON line, which
is what the benchmarks read.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import time
from collections.abc import Iterator

logger = logging.getLogger("ae_anomaly")

TIMINGS_ENV = "AE_ANOMALY_TIMINGS"


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


def write_timings(stage: str, seconds: float, peak_mib: float) -> None:
    """One JSON line: the stage's own time (``seconds``), its process's wall-clock start and
    end (interpreter start-up and imports included), peak memory and timed phases."""
    path = os.environ.get(TIMINGS_ENV)
    if not path:
        return
    now = time.time()
    record = {
        "stage": stage,
        "seconds": seconds,
        "started_at": now - _process_age(),
        "ended_at": now,
        "peak_mib": peak_mib,
        "phases": _phases,
    }
    with open(path, "a") as handle:
        handle.write(json.dumps(record) + "\n")
