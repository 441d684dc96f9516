"""What every stage process shares: arguments, logging, parameter errors, timings, and work
that overlaps the stage's own.

Stage scripts receive every path from ``dvc.yaml`` as an argument; none is hard-coded. Each
stage logs its wall time and peak memory when it ends and, when ``AE_ANOMALY_TIMINGS`` names
a file, appends the same figures (plus its timed phases) to it as one JSON line, which is
what the benchmarks read.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import gc
import json
import logging
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from ae_anomaly.core.params import Params, load_params
from ae_anomaly.core.threads import limit_threads, thread_share
from ae_anomaly.core.types import ReportedError

logger = logging.getLogger("ae_anomaly")

T = TypeVar("T")

TIMINGS_ENV = "AE_ANOMALY_TIMINGS"

#: Seconds spent in each named phase of this process (``timed``), for the timings record.
_phases: dict[str, float] = {}


def parse_stage_args(
    description: str | None, paths: Sequence[str], argv: Sequence[str] | None = None
) -> argparse.Namespace:
    """``--params`` plus one required ``--<path>`` option per name in ``paths``."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--params", default="params.yaml", help="parameters file (default: %(default)s)"
    )
    for name in paths:
        parser.add_argument(f"--{name.replace('_', '-')}", dest=name, required=True, metavar="PATH")
    return parser.parse_args(argv)


def configure_logging() -> None:
    """INFO to stderr; ``force`` because importing MLflow's dependencies installs a root handler."""
    logging.basicConfig(
        force=True,
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )


def load_stage_params(path: str) -> Params:
    """Validate the whole parameters file; stages call this before touching any output."""
    return load_params(path)


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


def _timed_call(function: Callable[..., T], /, *args: Any, **kwargs: Any) -> tuple[T, float]:
    """``function(*args, **kwargs)`` and the seconds it took; picklable, for a worker process."""
    started = time.perf_counter()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - started


class _InlineExecutor(Executor):
    """Runs each submitted call at once, in this process: the fallback of
    :func:`background_process` where forking is not available or not safe."""

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        future: Future[T] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as error:  # handed to whoever waits for the result
            future.set_exception(error)
        return future


def _can_fork_safely() -> bool:
    """``fork`` is only safe while this process runs a single thread (Python 3.12+ warns
    otherwise, and a lock held by another thread would stay locked in the child forever)."""
    return "fork" in multiprocessing.get_all_start_methods() and threading.active_count() == 1


class BackgroundWork:
    """Work that overlaps the stage's own, in a *forked* worker process where that is safe
    and the process's share of the machine has a core for it.

    A forked worker starts in milliseconds with every module this process already imported
    (a spawned one would spend seconds importing them again). Where fork is not available
    (Windows, macOS by default) or not safe (other threads are running), or where this
    process's share is a single thread (``dvc queue start -j 2`` on two cores: a second busy
    process would take the other pipeline's core), the work runs inline when submitted: the
    results are the same, only the overlap is lost. Exceptions raised in the work come back
    through the future, so a failure still fails the stage.
    """

    def __init__(self) -> None:
        self._executor: Executor = (
            ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("fork"))
            if thread_share() > 1 and _can_fork_safely()
            else _InlineExecutor()
        )

    def submit(
        self, label: str, function: Callable[..., T], /, *args: Any, **kwargs: Any
    ) -> Future[T]:
        """Run ``function(*args, **kwargs)``; its time is recorded as the phase ``label``."""
        inner = self._executor.submit(_timed_call, function, *args, **kwargs)
        outer: Future[T] = Future()

        def unwrap(done: Future[tuple[T, float]]) -> None:
            error = done.exception()
            if error is not None:
                outer.set_exception(error)
                return
            result, seconds = done.result()
            record_phase(label, seconds)
            outer.set_result(result)

        inner.add_done_callback(unwrap)
        return outer

    def __enter__(self) -> BackgroundWork:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._executor.shutdown(wait=True)


def background_work() -> BackgroundWork:
    """See :class:`BackgroundWork`; use it as a context so the worker is always shut down."""
    return BackgroundWork()


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


def _write_timings(stage: str, seconds: float, peak_mib: float) -> None:
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


#: errno values meaning "the disk (or this process's file-size limit, or quota) is full".
_NO_SPACE = {errno.ENOSPC, errno.EFBIG, errno.EDQUOT}


class Interrupted(KeyboardInterrupt):
    """SIGTERM (``kill``, a CI timeout, a queue worker stopping), raised like Ctrl-C so every
    ``with`` block unwinds: partial files are removed and an open MLflow run ends KILLED."""


def _raise_interrupted(signum: int, frame: object) -> None:
    raise Interrupted(signal.Signals(signum).name)


def run_stage(
    main: Callable[[Sequence[str] | None], None], argv: Sequence[str] | None = None
) -> None:
    """Run a stage's ``main`` and report how it ended, in one line where that says it all.

    - A :class:`ReportedError` (bad input, a damaged file, an unreachable tracking server):
      its message, no traceback, its exit status (2 for bad input).
    - No space left (disk, quota or ``ulimit -f``): which file, and what to do; exit 1.
    - Ctrl-C or SIGTERM: one line, exit 130. Files are written whole or not at all, and DVC
      records a stage only when it succeeds, so nothing half-done is ever taken for done.
    - Success: the stage's wall time and peak memory, so slow or hungry stages show up in
      ``dvc repro``.

    The millions of objects that importing sklearn, scipy, matplotlib and MLflow creates are
    moved to the garbage collector's permanent generation (``gc.freeze``), before ``main`` and
    again after it: they live until exit anyway, and otherwise every full collection during
    the stage, and the ones the interpreter runs at shutdown, walk them all again: most of a
    small stage's overhead (``make bench-speed`` takes a rerun apart).
    """
    configure_logging()
    name = Path(sys.argv[0]).stem
    started = time.perf_counter()
    gc.freeze()
    signal.signal(signal.SIGTERM, _raise_interrupted)
    try:
        share = thread_share()
        limit_threads(share)
        logger.info("stage %s: %d thread(s), its share of the machine", name, share)
        main(argv)
    except ReportedError as error:
        logger.error("%s", error)
        sys.exit(error.exit_code)
    except OSError as error:
        if error.errno not in _NO_SPACE:
            raise
        logger.error(
            "stage %s could not write %s: %s. Free some space (or raise the file-size limit) "
            "and run `dvc repro` again; DVC has not recorded this stage as done.",
            name,
            error.filename or "its outputs",
            error.strerror,
        )
        sys.exit(1)
    except KeyboardInterrupt as interrupt:
        logger.error(
            "stage %s stopped by %s; DVC has not recorded it as done. `dvc repro` runs it again.",
            name,
            interrupt.args[0] if isinstance(interrupt, Interrupted) else "Ctrl-C",
        )
        sys.exit(130)
    gc.freeze()
    seconds, peak = time.perf_counter() - started, peak_memory_mib()
    logger.info("stage %s done in %.2f s, peak memory %.0f MiB", name, seconds, peak)
    _write_timings(name, seconds, peak)
