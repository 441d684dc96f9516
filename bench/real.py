"""Detection quality on real curves: ``make bench-real``.

GunPoint (UCR archive, ``bench/data/GunPoint``): two classes of hand-motion curves, 150
points each. One-vs-rest: each class in turn is "normal", the other an anomaly. For every
configuration and seed this runs the real pipeline (``dvc repro`` in a sandbox copy of the
project) on the archive's files, with ``params.yaml`` plus ``presets/files.yaml`` (the one set
of defaults for users' files, not tuned per data set):

- the training file (GunPoint_TRAIN, 50 curves) is the pool that ``split`` divides;
- the validation file (GunPoint_TEST, 150 curves) is where every figure is reported.

Beside every model of the pipeline, PyOD's AutoEncoder, IForest, OCSVM and KNN (at their
defaults) are fitted on the same split (the normal curves of the training split, preprocessed
as the pipeline does) and scored on the same validation curves. Reported: ROC-AUC, average
precision and anomaly F1, over 3 seeds. Writes ``real.md`` and ``real.json`` to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from ae_anomaly.core.models import MODEL_NAMES
from ae_anomaly.core.storage import load_dataset, load_json
from ae_anomaly.features.preprocessing import normalize_curves
from ae_anomaly.report.evaluation import evaluate_detector
from ae_anomaly.report.tables import markdown_table
from tooling.pipeline import stage_paths
from tooling.sandbox import PROJECT_ROOT, dvc, make_sandbox, run, update_params

DATA = PROJECT_ROOT / "bench/data"
PRESET = PROJECT_ROOT / "presets/files.yaml"
PYOD = ("pyod_autoencoder", "pyod_iforest", "pyod_ocsvm", "pyod_knn")
METRICS = ("roc_auc", "average_precision", "f1_anomaly")


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def pyod_detectors(seed: int, n_train: int) -> dict[str, Callable[[], Any]]:
    """PyOD's detectors at their defaults, except the AutoEncoder's epochs (10 -> 100) and its
    batch size: it drops incomplete batches, so with fewer curves than its 32 it would train
    on none."""
    from pyod.models.auto_encoder import AutoEncoder
    from pyod.models.iforest import IForest
    from pyod.models.knn import KNN
    from pyod.models.ocsvm import OCSVM

    return {
        "pyod_autoencoder": lambda: AutoEncoder(
            epoch_num=100, batch_size=min(32, n_train), random_state=seed, verbose=0
        ),
        "pyod_iforest": lambda: IForest(random_state=seed),
        "pyod_ocsvm": lambda: OCSVM(),
        "pyod_knn": lambda: KNN(),
    }


def score_pyod(sandbox: Path, seed: int, normalize: str) -> dict[str, dict[str, float]]:
    train = load_dataset(stage_paths("split", sandbox)["train"])
    validation = load_dataset(stage_paths("generate", sandbox)["validation"])
    fit_x = normalize_curves(train.normal, normalize).astype(np.float64)
    eval_x = normalize_curves(validation.x, normalize).astype(np.float64)
    results = {}
    for name, make in pyod_detectors(seed, len(fit_x)).items():
        detector = make().fit(fit_x)
        results[name] = evaluate_detector(
            validation.y, detector.decision_function(eval_x), detector.predict(eval_x)
        ).metrics
    return results


def run_configuration(
    sandbox: Path, normal_label: object, seeds: Sequence[int]
) -> dict[int, dict[str, dict[str, Any]]]:
    per_seed = {}
    normalize = yaml.safe_load((sandbox / "params.yaml").read_text())["preprocess"]["normalize"]
    for seed in seeds:
        update_params(sandbox, {"base": {"seed": seed}})
        started = time.perf_counter()
        dvc(sandbox, "repro")
        ours = load_json(stage_paths("evaluate", sandbox)["metrics"])
        per_seed[seed] = {**ours, **score_pyod(sandbox, seed, normalize)}
        best = best_of(per_seed[seed], MODEL_NAMES), best_of(per_seed[seed], PYOD)
        seconds = time.perf_counter() - started
        log(
            f"normal={normal_label} seed {seed}: {seconds:.0f} s, best ROC-AUC "
            f"ours {best[0][0]} {best[0][1]:.3f}, PyOD {best[1][0]} {best[1][1]:.3f}"
        )
    return per_seed


def best_of(scores: dict[str, dict[str, Any]], models: Sequence[str]) -> tuple[str, float]:
    """The model with the highest ROC-AUC among ``models`` that were fitted."""
    fitted = {m: scores[m]["roc_auc"] for m in models if "roc_auc" in scores.get(m, {})}
    name = max(fitted, key=lambda m: fitted[m])
    return name, fitted[name]


def _mean(values: list[float]) -> str:
    return f"{statistics.fmean(values):.3f}" if values else "-"


def markdown(results: dict[str, Any]) -> str:
    meta = results["meta"]
    lines = [
        "# Detection quality on real curves: GunPoint one-vs-rest",
        "",
        f"`make bench-real` on {meta['date']} ({meta['machine']}) in "
        f"{meta['wall_seconds'] / 60:.1f} min; seeds {', '.join(map(str, meta['seeds']))}. "
        "Pool (split into train/test by the pipeline): GunPoint_TRAIN, 50 curves; validation: "
        "GunPoint_TEST, 150 curves; 150 points per curve. Our models run with `params.yaml` + "
        "`presets/files.yaml`; PyOD's detectors at their defaults, fitted on the normal curves "
        "of the same training split, preprocessed the same way. Anomaly = positive class. "
        "PyOD's detectors see no anomaly label; of ours, the forests and the Random Forest "
        "learn from labelled anomalies and `ae_threshold` does not, so its column is the "
        "like-for-like comparison.",
    ]
    for label, config in results["configs"].items():
        per_seed = config["per_seed"]
        seeds = list(per_seed)
        lines += ["", f"## Normal = class {label}, anomaly = the other class", ""]
        rows = []
        for model in (*MODEL_NAMES, *PYOD):
            values = {
                metric: [per_seed[s][model][metric] for s in seeds if metric in per_seed[s][model]]
                for metric in METRICS
            }
            if not values["roc_auc"]:
                rows.append([model, "not fitted", "-", "-", "-"])
                continue
            roc = values["roc_auc"]
            rows.append(
                [
                    model,
                    f"{statistics.fmean(roc):.3f} ± {statistics.pstdev(roc):.3f}",
                    f"{min(roc):.3f}",
                    _mean(values["average_precision"]),
                    _mean(values["f1_anomaly"]),
                ]
            )
        header = ("model", "ROC-AUC mean ± std", "ROC-AUC min", "AP mean", "F1 anomaly mean")
        lines.append(markdown_table(header, rows))
        lines += ["", "Best ROC-AUC per seed:", ""]
        rows = []
        for seed in seeds:
            ours, peer = best_of(per_seed[seed], MODEL_NAMES), best_of(per_seed[seed], PYOD)
            label_free = per_seed[seed]["ae_threshold"]["roc_auc"]
            rows.append(
                [
                    seed,
                    f"{ours[0]} {ours[1]:.3f}",
                    f"{peer[0]} {peer[1]:.3f}",
                    "yes" if ours[1] >= peer[1] else "**NO**",
                    f"{label_free:.3f} ({'>=' if label_free >= peer[1] else '<'} PyOD)",
                ]
            )
        header = ("seed", "ours", "best PyOD", "ours >= PyOD", "ae_threshold (no labels)")
        lines.append(markdown_table(header, rows))
    lines += ["", "| target | met |", "|---|---|"]
    lines += [f"| {t['target']} | {'yes' if t['met'] else '**NO**'} |" for t in results["targets"]]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seeds", default="1,2,3", help="comma-separated seeds")
    parser.add_argument("--dataset", default="GunPoint", help="a folder of bench/data")
    parser.add_argument("--classes", default="1,2", help="each class in turn is normal")
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "bench/results")
    parser.add_argument("--name", default="real", help="results file name (real.md)")
    args = parser.parse_args(argv)
    seeds = [int(seed) for seed in args.seeds.split(",")]
    folder = DATA / args.dataset
    train, test = folder / f"{args.dataset}_TRAIN.tsv", folder / f"{args.dataset}_TEST.tsv"
    preset = yaml.safe_load(PRESET.read_text())

    started = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="bench-real-"))
    results: dict[str, Any] = {"configs": {}}
    try:
        for label in args.classes.split(","):
            files = {
                "train": f"inputs/{train.name}",
                "validation": f"inputs/{test.name}",
                "normal_labels": [int(label) if label.lstrip("-").isdigit() else label],
            }
            sandbox = make_sandbox(work / f"class-{label}", overrides=preset)
            update_params(sandbox, {"generate": {"source": "files", "files": files}})
            for source in (train, test):
                shutil.copy(source, sandbox / "inputs" / source.name)
            run(sandbox, "git", "add", "-A")
            run(sandbox, "git", "commit", "-q", "-m", f"{args.dataset}, normal = {label}")
            results["configs"][label] = {"per_seed": run_configuration(sandbox, label, seeds)}
    finally:
        shutil.rmtree(work, ignore_errors=True)

    results["targets"] = [
        {
            "target": f"normal = {label}, seed {seed}: our best ROC-AUC >= best PyOD ROC-AUC",
            "met": best_of(scores, MODEL_NAMES)[1] >= best_of(scores, PYOD)[1],
        }
        for label, config in results["configs"].items()
        for seed, scores in config["per_seed"].items()
    ]
    results["meta"] = {
        "seeds": seeds,
        "dataset": args.dataset,
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, Python {platform.python_version()}, "
        f"{os.cpu_count()} CPUs",
        "wall_seconds": time.perf_counter() - started,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{args.name}.json").write_text(json.dumps(results, indent=2) + "\n")
    text = markdown(results)
    (args.out / f"{args.name}.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
