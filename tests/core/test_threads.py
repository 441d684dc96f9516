import json

import pytest

from ae_anomaly.core import threads
from ae_anomaly.core.threads import (
    ThreadSettingError,
    available_cores,
    concurrent_pipelines,
    running_queue_workers,
    thread_share,
)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch):
    for name in (threads.THREADS_ENV, threads.JOBS_ENV, "DVC_ROOT"):
        monkeypatch.delenv(name, raising=False)


def test_alone_a_process_takes_every_core_it_may_use():
    assert thread_share() == available_cores() >= 1


def test_an_explicit_thread_count_wins(monkeypatch):
    monkeypatch.setenv(threads.THREADS_ENV, "3")
    monkeypatch.setenv(threads.JOBS_ENV, "8")
    assert thread_share() == 3


def test_parallel_pipelines_split_the_cores(monkeypatch):
    monkeypatch.setattr(threads, "available_cores", lambda: 8)
    monkeypatch.setenv(threads.JOBS_ENV, "2")
    assert thread_share() == 4
    monkeypatch.setenv(threads.JOBS_ENV, "16")
    assert thread_share() == 1  # never less than one


@pytest.mark.parametrize("value", ["0", "-2", "two"])
def test_bad_settings_are_refused_naming_the_variable(monkeypatch, value):
    monkeypatch.setenv(threads.THREADS_ENV, value)
    with pytest.raises(ThreadSettingError, match="AE_ANOMALY_THREADS"):
        thread_share()


@pytest.mark.parametrize("in_folders", [False, True], ids=["dvc-3.67", "older"])
def test_running_dvc_queue_workers_are_counted(tmp_path, monkeypatch, in_folders):
    """DVC 3.67 writes ``celery/dvc-exp-worker-1.json`` (+ ``.out``, ``.pid``) next to each
    other, as ``dvc queue start`` does in the speed bench; older releases used folders."""
    import os

    celery = tmp_path / ".dvc/tmp/exps/celery"
    for number, pid, returncode in (
        (1, os.getpid(), None),
        (2, os.getpid(), None),
        (3, 999_999, None),
        (4, os.getpid(), 0),
    ):
        folder = celery / f"dvc-exp-worker-{number}" if in_folders else celery
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"dvc-exp-worker-{number}.json").write_text(
            json.dumps({"pid": pid, "stdout": None, "returncode": returncode})
        )
        (folder / f"dvc-exp-worker-{number}.pid").write_text(str(pid))
    assert running_queue_workers(tmp_path) == 2  # alive and not finished
    monkeypatch.setenv("DVC_ROOT", str(tmp_path))
    assert concurrent_pipelines() == 2
    monkeypatch.setattr(threads, "available_cores", lambda: 2)
    assert thread_share() == 1
    assert running_queue_workers(None) == 0


def test_n_jobs_counts_against_the_share():
    assert threads.resolve_n_jobs(-1, share=3) == 3
    assert threads.resolve_n_jobs(-2, share=3) == 2
    assert threads.resolve_n_jobs(-9, share=3) == 1
    assert threads.resolve_n_jobs(4, share=1) == 4  # asked for explicitly


def test_limit_threads_sizes_torch_blas_and_childrens_pools(monkeypatch):
    import os

    import torch
    from threadpoolctl import threadpool_info

    before = torch.get_num_threads()
    for name in threads.POOL_VARIABLES:
        monkeypatch.setenv(name, "9")  # restored after the test
    try:
        threads.limit_threads(1)
        assert torch.get_num_threads() == 1
        assert all(pool["num_threads"] == 1 for pool in threadpool_info())
        assert os.environ["OMP_NUM_THREADS"] == "1"
    finally:
        torch.set_num_threads(before)
        from threadpoolctl import threadpool_limits

        threadpool_limits(before)
