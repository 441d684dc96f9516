"""Driving DVC as a user does: queued experiments, and commands watched while they run (to
interrupt or kill them at a chosen moment)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import threading
import time
from pathlib import Path

from tests.integration.conftest import dvc, pipeline_env
from tooling.sandbox import start_queue, wait_for_queue

__all__ = ["Watched", "experiments_of", "start_queue", "wait_for_queue"]


def experiments_of(repo: Path) -> dict[str, dict]:
    """``{name: {"rev": sha, "params": ..., "metrics": ...}}`` from ``dvc exp show --json``."""
    shown = json.loads(dvc(repo, "exp", "show", "--json").stdout)
    experiments = {}
    for baseline in shown:
        for experiment in baseline.get("experiments") or []:
            for revision in experiment["revs"]:
                data = revision["data"]
                experiments[revision["name"]] = {
                    "rev": revision["rev"],
                    "params": data["params"]["params.yaml"]["data"],
                    "metrics": {path: m["data"] for path, m in data["metrics"].items()},
                }
    return experiments


class Watched:
    """A command started in its own process group (as a terminal runs a job), its output
    collected line by line, so a test can act at a chosen moment and signal the whole group
    the way Ctrl-C or ``kill`` would."""

    def __init__(self, cwd: Path, *command: str, **env: str):
        self.started = time.monotonic()
        self.process = subprocess.Popen(
            command,
            cwd=cwd,
            env=pipeline_env(**env),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
            # A shell without job control starts background jobs with SIGINT ignored, and the
            # child would inherit that: Ctrl-C must reach it as it would from a terminal.
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        self.lines: list[str] = []
        self.exited: float | None = None
        self._new_line = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self._new_line:
                self.lines.append(line)
                self._new_line.notify_all()

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def wait_for_line(self, pattern: str, timeout_s: float = 120) -> str:
        """The first output line matching ``pattern``, waiting for it if need be."""
        deadline = time.monotonic() + timeout_s
        with self._new_line:
            while True:
                for line in self.lines:
                    if re.search(pattern, line):
                        return line
                left = deadline - time.monotonic()
                if left <= 0 or (self.process.poll() is not None and not self._reader.is_alive()):
                    raise AssertionError(f"no line matching {pattern!r}:\n{self.output}")
                self._new_line.wait(min(left, 0.5))

    def wait_until(self, condition, timeout_s: float = 120, poll_s: float = 0.01) -> None:
        """Poll ``condition()`` until it is true (e.g. a file appears)."""
        deadline = time.monotonic() + timeout_s
        while not condition():
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise AssertionError(f"condition not met while running:\n{self.output}")
            time.sleep(poll_s)

    def send(self, signum: signal.Signals) -> float:
        """Signal the whole process group; returns when it was sent (monotonic seconds)."""
        os.killpg(self.process.pid, signum)
        return time.monotonic()

    def wait(self, timeout_s: float = 120) -> int:
        """The exit status; ``exited`` records when the command ended (monotonic seconds),
        before its output is drained (a process it left behind may hold the pipe open)."""
        code = self.process.wait(timeout_s)
        self.exited = time.monotonic()
        self._reader.join(10)
        if self._reader.is_alive():
            self.lines.append("[the output stayed open 10 s after the command ended]\n")
        return code
