"""Work that overlaps a stage's own, in a forked worker where the thread share allows."""

from __future__ import annotations

import multiprocessing
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from typing import Any, TypeVar

from ae_anomaly.core.threads import thread_share
from ae_anomaly.pipeline.timings import record_phase

T = TypeVar("T")


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
