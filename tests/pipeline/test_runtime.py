"""What every stage shares: background work, timed phases, the timings record, peak memory."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest

from ae_anomaly.core.threads import THREADS_ENV
from ae_anomaly.pipeline import timings as timings_module
from ae_anomaly.pipeline.background import background_work
from ae_anomaly.pipeline.runtime import configure_logging, run_stage
from ae_anomaly.pipeline.timings import timed


def _pid_and_sum(values: np.ndarray) -> tuple[int, float]:
    return os.getpid(), float(values.sum())


def _fail() -> None:
    raise ValueError("broken figure")


def _in_a_fresh_interpreter(code: str) -> str:
    """Run ``code`` where this test session's threads (which make fork unsafe) do not exist."""
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, check=True
    ).stdout


@pytest.mark.parametrize(("share", "forked"), [("2", "True"), ("1", "False")])
def test_background_work_forks_when_single_threaded_with_a_core_to_spare(share, forked):
    """A share of one thread (a two-pipeline queue on two cores) keeps the work inline."""
    out = _in_a_fresh_interpreter(
        f"""
        import os
        os.environ["{THREADS_ENV}"] = "{share}"
        from ae_anomaly.pipeline.background import background_work
        with background_work() as background:
            pid = background.submit("demo", os.getpid).result()
        print(pid != os.getpid())
        """
    )
    assert out.strip() == forked


def test_without_a_safe_fork_the_work_runs_inline_with_the_same_result():
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()  # a second thread makes fork unsafe
    try:
        with background_work() as background:
            pid, total = background.submit("demo", _pid_and_sum, np.arange(4.0)).result()
    finally:
        stop.set()
        other.join()
    assert pid == os.getpid() and total == 6.0


def test_a_failure_in_background_work_reaches_the_stage():
    with background_work() as background, pytest.raises(ValueError, match="broken figure"):
        background.submit("figures", _fail).result()


def test_peak_memory_counts_a_finished_background_worker():
    out = _in_a_fresh_interpreter(
        """
        import numpy as np
        from ae_anomaly.pipeline.background import background_work
        from ae_anomaly.pipeline.timings import peak_memory_mib
        def hold(mib):
            return int(np.ones(mib * 2**20, dtype=np.uint8)[::4096].sum())
        # A process starts with its parent's peak (Linux keeps it across exec): hold more.
        before = peak_memory_mib()
        with background_work() as background:
            background.submit("hold", hold, int(before) + 300).result()
        print(peak_memory_mib() - before)
        """
    )
    assert float(out) >= 300


def test_timed_phases_are_logged_and_written_to_the_timings_record(
    tmp_path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
):
    timings = tmp_path / "timings.jsonl"
    monkeypatch.setenv(timings_module.TIMINGS_ENV, str(timings))
    monkeypatch.setattr(timings_module, "_phases", {})
    monkeypatch.setattr("sys.argv", ["stages/demo.py"])

    def main(argv):
        with timed("figures"):
            pass
        with background_work() as background:
            background.submit("forest", sum, [1, 2]).result()

    run_stage(main, [])  # it configures logging to stderr itself
    record = json.loads(timings.read_text())
    assert record["stage"] == "demo" and record["seconds"] >= 0 and record["peak_mib"] > 0
    assert record["started_at"] <= record["ended_at"]
    assert set(record["phases"]) == {"figures", "forest"}
    assert "figures took " in capsys.readouterr().err


def test_a_parameter_error_exits_2_with_its_message(capsys: pytest.CaptureFixture):
    from ae_anomaly.core.params import ParamsError

    def main(argv):
        raise ParamsError("params.yaml: train_ae.epochs: bad")

    with pytest.raises(SystemExit) as exit_info:
        run_stage(main, [])
    assert exit_info.value.code == 2
    assert "train_ae.epochs: bad" in capsys.readouterr().err


def test_a_damaged_file_exits_1_with_one_line_and_no_traceback(capsys: pytest.CaptureFixture):
    from ae_anomaly.core.storage import DamagedFileError

    def main(argv):
        raise DamagedFileError("data/split/train.npz is damaged; `dvc checkout --force`")

    with pytest.raises(SystemExit) as exit_info:
        run_stage(main, [])
    err = capsys.readouterr().err
    assert exit_info.value.code == 1
    assert "train.npz is damaged" in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("code", "reason"), [(28, "No space left on device"), (27, "File too large")]
)
def test_a_full_disk_names_the_file_and_the_way_out(capsys, code, reason):
    def main(argv):
        raise OSError(code, reason, "models/autoencoder.pt")

    with pytest.raises(SystemExit) as exit_info:
        run_stage(main, [])
    err = capsys.readouterr().err
    assert exit_info.value.code == 1
    assert f"could not write models/autoencoder.pt: {reason}" in err
    assert "not recorded this stage as done" in err


def test_other_os_errors_keep_their_traceback():
    def main(argv):
        raise PermissionError(13, "Permission denied", "x")

    with pytest.raises(PermissionError):
        run_stage(main, [])


def test_sigterm_unwinds_like_ctrl_c_and_exits_130(capsys: pytest.CaptureFixture):
    unwound = []

    def main(argv):
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)
        finally:
            unwound.append(True)

    previous = signal.getsignal(signal.SIGTERM)
    try:
        with pytest.raises(SystemExit) as exit_info:
            run_stage(main, [])
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert exit_info.value.code == 130 and unwound == [True]
    assert "stopped by SIGTERM" in capsys.readouterr().err


def test_a_stage_process_start_time_is_when_it_was_started():
    """The timings record's start is the process's own (to the 10 ms tick), not psutil's
    create time, which runs about half a second early on Linux."""
    before = time.time()
    out = _in_a_fresh_interpreter(
        """
        import time
        from ae_anomaly.pipeline.timings import _process_age
        print(time.time() - _process_age())
        """
    )
    started = float(out)
    assert before - 0.05 <= started <= time.time()


def test_logging_set_up_by_a_stage_in_one_test_is_undone_for_the_next(
    capsys: pytest.CaptureFixture,
):
    """``configure_logging`` writes to this test's capture stream, closed when it ends."""
    configure_logging()
    logging.getLogger("ae_anomaly").info("from the first test")
    assert "from the first test" in capsys.readouterr().err


def test_the_next_test_logs_without_errors(capsys: pytest.CaptureFixture):
    """Runs after the one above (pytest keeps file order): its handler must be gone."""
    logging.getLogger("ae_anomaly").warning("from the next test")
    assert "Logging error" not in capsys.readouterr().err
