"""What every stage process shares: arguments, logging, parameter errors, its thread share,
and how it ends (reported errors, Ctrl-C, the timings record of :mod:`.timings`).

Stage scripts receive every path from ``dvc.yaml`` as an argument; none is hard-coded. Work
that overlaps the stage's own is :mod:`ae_anomaly.pipeline.background`.
"""

from __future__ import annotations

import argparse
import errno
import gc
import logging
import signal
import sys
import time
from collections.abc import Callable, Sequence

from ae_anomaly.core.params import Params, load_params
from ae_anomaly.core.threads import limit_threads, thread_share
from ae_anomaly.core.types import ReportedError
from ae_anomaly.pipeline.timings import keep_journal, peak_memory_mib, stage_name, write_timings

logger = logging.getLogger("ae_anomaly")


def parse_stage_args(
    description: str | None, paths: Sequence[str], argv: Sequence[str] | None = None
) -> argparse.Namespace:
    """``--params``, ``--stage-costs`` (the journal of :mod:`.timings`, optional), and one
    required ``--<path>`` option per name in ``paths``."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--params", default="params.yaml", help="parameters file (default: %(default)s)"
    )
    parser.add_argument(
        "--stage-costs",
        metavar="PATH",
        help="journal this stage appends its wall time and peak memory to (default: none)",
    )
    for name in paths:
        parser.add_argument(f"--{name.replace('_', '-')}", dest=name, required=True, metavar="PATH")
    args = parser.parse_args(argv)
    keep_journal(args.stage_costs)
    return args


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
    name = stage_name()
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
    write_timings(name, seconds, peak)
