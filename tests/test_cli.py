"""What every stage shares: background work, timing lines, peak memory."""

from __future__ import annotations

import logging
import os

import numpy as np
import pytest

from ae_anomaly.cli import background_process, peak_memory_mib, timed_call


def _pid_and_sum(values: np.ndarray) -> tuple[int, float]:
    return os.getpid(), float(values.sum())


def _fail() -> None:
    raise ValueError("broken figure")


def _hold_mib(mib: int) -> int:
    block = np.ones(mib * 2**20, dtype=np.uint8)
    return int(block[::4096].sum())


def test_background_work_runs_in_another_process_and_returns_its_result():
    with background_process() as background:
        pid, total = background.submit(_pid_and_sum, np.arange(4.0)).result()
    assert pid != os.getpid()
    assert total == 6.0


def test_a_failure_in_background_work_reaches_the_stage():
    with background_process() as background, pytest.raises(ValueError, match="broken figure"):
        background.submit(_fail).result()


def test_peak_memory_counts_a_finished_background_worker():
    before = peak_memory_mib()
    with background_process() as background:
        background.submit(_hold_mib, int(before) + 300).result()
    assert peak_memory_mib() >= before + 300


def test_timed_call_returns_the_value_and_logs_the_line_benchmarks_read(
    caplog: pytest.LogCaptureFixture,
):
    with caplog.at_level(logging.INFO, logger="ae_anomaly"):
        assert timed_call("figures: demo", sum, [1, 2, 3]) == 6
    assert any(record.getMessage().startswith("figures: demo took ") for record in caplog.records)
