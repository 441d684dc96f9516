"""How many threads a process of this project may use: its share of the machine.

Every process sizes its own thread pools (PyTorch, BLAS/OpenMP, joblib). On a 2-core machine
two processes that each take every core starve each other (spinning thread pools, orders of
magnitude slower), so each takes only its share:

- ``AE_ANOMALY_THREADS=N``: exactly N threads per process;
- otherwise the cores this process may run on (CPU affinity and a container's CPU quota),
  divided by the number of pipelines sharing them: ``AE_ANOMALY_JOBS=N`` if set, else the
  number of running ``dvc queue`` workers of this repository (``dvc queue start -j 2``: 2),
  else 1.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

from ae_anomaly.core.types import InputError

THREADS_ENV = "AE_ANOMALY_THREADS"
JOBS_ENV = "AE_ANOMALY_JOBS"


def available_cores() -> int:
    """Cores this process may use: its CPU affinity, capped by a cgroup v2 CPU quota."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    cores = cores or 1
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
        if quota != "max":
            cores = min(cores, max(1, math.ceil(int(quota) / int(period))))
    except (OSError, ValueError):
        pass
    return cores


class ThreadSettingError(InputError):
    """A malformed ``AE_ANOMALY_THREADS`` / ``AE_ANOMALY_JOBS``."""


def _positive_int(name: str) -> int | None:
    value = os.environ.get(name, "").strip()
    if not value:
        return None
    if not value.isdigit() or int(value) < 1:
        raise ThreadSettingError(f"{name}={value!r}: expected a whole number of at least 1")
    return int(value)


def running_queue_workers(repository: Path | None) -> int:
    """``dvc queue`` workers of ``repository`` that are alive; 0 when none, or not a DVC
    repository. DVC records each worker's pid and exit status in
    ``.dvc/tmp/exps/celery/dvc-exp-worker-N.json`` (older releases: in a folder of that name)."""
    if repository is None:
        return 0
    import psutil

    celery = repository / ".dvc/tmp/exps/celery"
    alive = 0
    for info in [*celery.glob("dvc-exp-worker-*.json"), *celery.glob("dvc-exp-worker-*/*.json")]:
        try:
            record = json.loads(info.read_text())
        except (OSError, ValueError):
            continue
        if record.get("returncode") is None and psutil.pid_exists(int(record.get("pid", 0))):
            alive += 1
    return alive


def concurrent_pipelines(repository: Path | None = None) -> int:
    """How many pipelines share this machine's cores (see the module docstring)."""
    jobs = _positive_int(JOBS_ENV)
    if jobs is not None:
        return jobs
    if repository is None and os.environ.get("DVC_ROOT"):
        repository = Path(os.environ["DVC_ROOT"])
    return max(1, running_queue_workers(repository))


def thread_share(repository: Path | None = None) -> int:
    """Threads this process should use (at least 1)."""
    threads = _positive_int(THREADS_ENV)
    if threads is not None:
        return threads
    return max(1, available_cores() // concurrent_pipelines(repository))


def resolve_n_jobs(n_jobs: int, share: int | None = None) -> int:
    """scikit-learn's ``n_jobs`` against this process's share instead of the whole machine:
    ``-1`` is every thread of the share, ``-2`` all but one, and so on; a positive number is
    taken as asked."""
    if n_jobs > 0:
        return n_jobs
    share = thread_share() if share is None else share
    return max(1, share + 1 + n_jobs)


#: Environment variables that size the thread pools of libraries a process loads later, and
#: of its child processes.
POOL_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def limit_threads(count: int) -> None:
    """Size every thread pool of this process (and of its children) to ``count``: BLAS and
    OpenMP pools already loaded (threadpoolctl), PyTorch's if it is loaded, and the
    environment that pools loaded later read."""
    import sys

    from threadpoolctl import threadpool_limits

    for name in POOL_VARIABLES:
        os.environ[name] = str(count)
    threadpool_limits(count)
    if "torch" in sys.modules:
        import torch

        torch.set_num_threads(count)
