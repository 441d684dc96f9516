"""Time one training loop on a reproduced sandbox's split, in a process of its own.

``make bench-speed`` runs this once per loop so that each is timed in a fresh process with
the same thread share, on the same curves and params as the ``train_ae`` stage:

- ``fast``: ``ae_anomaly.networks.training.train_network`` with ``trainer: auto``, what
  ``train_ae`` runs for the ``mlp`` kind (its hand-written step, ``networks/fast_mlp.py``);
- ``autograd``: the same function with ``trainer: autograd``, the general trainer every
  network kind uses (the same weights bit for bit);
- ``reference``: ``tooling/reference_trainer.py``, the plain PyTorch loop (a ``DataLoader``,
  autograd, ``torch.optim.Adam``), kept runnable as the yardstick.

Besides seconds it reports optimizer steps per second and what the arithmetic would allow:
the measured float32 matrix-multiply rate of this process (its threads, its device) divided
by the FLOPs of one step (forward + backward through every Linear: 6 x batch x weights).

    python -m bench.trainer SANDBOX --loop fast|reference [--device cpu|cuda|auto]

prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import torch

from ae_anomaly.core.params import load_params
from ae_anomaly.core.storage import load_dataset
from ae_anomaly.core.threads import limit_threads, thread_share
from ae_anomaly.networks.base import Network
from ae_anomaly.networks.training import train_network
from ae_anomaly.pipeline.wiring import autoencoder_fit
from tooling.pipeline import stage_paths
from tooling.reference_trainer import train_autoencoder_reference


def matmul_flops_per_second(device: torch.device, size: int = 1024, repeats: int = 20) -> float:
    """Float32 GEMM rate of this process on ``device``: the ceiling for a dense network."""
    a = torch.randn(size, size, device=device)
    b = torch.randn(size, size, device=device)
    for _ in range(3):
        a @ b
    if device.type == "cuda":
        torch.cuda.synchronize()
    started = time.perf_counter()
    for _ in range(repeats):
        a @ b
    if device.type == "cuda":
        torch.cuda.synchronize()
    return 2 * size**3 * repeats / (time.perf_counter() - started)


def step_flops(model: Network, batch_size: int) -> float:
    """Forward (2 x batch x weights) plus backward (twice that) through every Linear."""
    weights = sum(m.weight.numel() for m in model.modules() if isinstance(m, torch.nn.Linear))
    return 6.0 * batch_size * weights


def time_loop(sandbox: Path, loop: str, device_name: str) -> dict:
    params = load_params(sandbox / "params.yaml")
    paths = stage_paths("train_ae", sandbox)
    train, test = load_dataset(paths["train"]), load_dataset(paths["test"])
    fit = autoencoder_fit(params, train, test, device_name)
    model, device, batch_size = fit.model, fit.device, fit.config.batch_size
    started = time.perf_counter()
    if loop == "reference":
        history = train_autoencoder_reference(*fit.arguments())
    else:  # fast: what train_ae runs (trainer auto); autograd: the general trainer
        history = train_network(*fit.arguments(), trainer="auto" if loop == "fast" else "autograd")
    if device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - started
    steps = history.epochs_run * math.ceil(len(fit.fit_x) / batch_size)
    ceiling = matmul_flops_per_second(device) / step_flops(model, batch_size)
    return {
        "loop": loop,
        "device": str(device),
        "threads": torch.get_num_threads(),
        "curves": len(fit.fit_x),
        "epochs": history.epochs_run,
        "steps": steps,
        "seconds": seconds,
        "steps_per_s": steps / seconds,
        "steps_per_s_allowed_by_flops": ceiling,
        "final_holdout_loss": history.holdout_loss[-1],
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("sandbox", type=Path, help="a sandbox after `dvc repro`")
    parser.add_argument("--loop", choices=("fast", "autograd", "reference"), required=True)
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda", "auto"))
    args = parser.parse_args(argv)
    limit_threads(thread_share())
    print(json.dumps(time_loop(args.sandbox, args.loop, args.device)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
