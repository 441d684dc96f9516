"""Progress of long work, readable wherever the output goes.

On a terminal: a ``tqdm`` bar, redrawn in place. Anywhere else (``make run > run.log``, CI,
``dvc queue`` logs): a short log line every tenth of the work instead, because a redrawn bar
written to a file becomes thousands of lines.
"""

from __future__ import annotations

import logging
import sys
import time
from types import TracebackType
from typing import Any

logger = logging.getLogger("ae_anomaly")


def on_terminal() -> bool:
    return sys.stderr.isatty()


class Progress:
    """``update(n)`` as work is done; ``set_postfix(**values)`` for the latest figures."""

    def __init__(self, total: int | None, description: str, unit: str, steps: int = 10):
        self.total, self.description, self.unit = total, description, unit
        self.done = 0
        self._postfix: dict[str, Any] = {}
        self._started = time.perf_counter()
        self._next_report = 1
        self._steps = steps
        self._bar = None
        if on_terminal():
            from tqdm.auto import tqdm

            self._bar = tqdm(total=total, desc=description, unit=unit, dynamic_ncols=True)

    def set_postfix(self, **values: Any) -> None:
        self._postfix = values
        if self._bar is not None:
            self._bar.set_postfix(**values, refresh=False)

    def update(self, count: int = 1) -> None:
        self.done += count
        if self._bar is not None:
            self._bar.update(count)
            return
        if not self.total:
            return
        crossed = False
        while self._next_report <= self._steps and self.done * self._steps >= (
            self._next_report * self.total
        ):
            crossed, self._next_report = True, self._next_report + 1
        if crossed:  # one line, however many tenths this update covered
            self._report()

    def _report(self) -> None:
        elapsed = time.perf_counter() - self._started
        rate = self.done / elapsed if elapsed > 0 else float("inf")
        extra = "".join(f", {key} {value}" for key, value in self._postfix.items())
        logger.info(
            "%s: %d/%d %s (%d %%) in %.1f s, %.0f %s/s%s",
            self.description,
            self.done,
            self.total,
            self.unit,
            round(100 * self.done / (self.total or 1)),
            elapsed,
            rate,
            self.unit,
            extra,
        )

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
        elif not self.total and self.done:
            elapsed = time.perf_counter() - self._started
            logger.info("%s: %d %s in %.1f s", self.description, self.done, self.unit, elapsed)

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
