"""Detection quality on real curves: ``make bench-real``.

Data: every univariate, equal-length data set of the UCR archive that the ``aeon`` wheel ships
as package data (a folder of ``aeon/datasets/data`` whose name, less an ``_eq`` suffix, is in
``aeon.datasets.tsc_datasets.univariate``, and whose curves are univariate and of one length;
for a variable-length set the wheel's ``_eq`` version, padded to one length, is used). Sets
that are not in the UCR archive (aeon's regression and unit-test files) are left out.

Protocol: one-vs-rest, each class in turn is "normal", every other class an anomaly. For every
configuration and seed this runs the real pipeline (``dvc repro`` in a sandbox copy of the
project) with ``params.yaml`` plus ``presets/files.yaml`` (the one set of defaults for users'
files, never tuned per data set): the archive's TRAIN file is the pool that ``split``
divides; its TEST file is the validation set every figure is reported on.

Peers, fitted on the same normal training curves (the normal curves of the pipeline's train
split, preprocessed as the pipeline does) and scored on the same validation curves:
aeon's ROCKAD (Theissler et al. 2023) at its defaults, and PyOD's AutoEncoder, IForest, OCSVM
and KNN at theirs. None of them sees an anomaly label; of ours, ``ae_threshold`` does not
either, so it is the like-for-like comparison with them.

Configurations run two at a time (each pipeline takes half the machine, ``AE_ANOMALY_JOBS=2``).
Writes ``real.md`` and ``real.json`` to ``--out``.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import multiprocessing
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
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

PRESET = PROJECT_ROOT / "presets/files.yaml"
ROCKAD = "rockad"
PEERS = (ROCKAD, "pyod_autoencoder", "pyod_iforest", "pyod_ocsvm", "pyod_knn")
LABEL_FREE = "ae_threshold"
#: "Within 0.02 of ROCKAD or better" is the issue's bar for the label-free detector.
MARGIN = 0.02


#: The configuration ``make bench-real`` draws, seed 1: its windows on real curves.
FIGURE_CONFIG = "GunPoint/1"


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


@dataclass(frozen=True)
class UCRSet:
    name: str
    train: Path
    test: Path
    #: The labels of its TRAIN file, shortest then alphabetical (1, 2, ..., 10).
    classes: tuple[str, ...]


def ucr_datasets() -> list[UCRSet]:
    """The UCR archive's univariate, equal-length sets in the aeon wheel (module docstring)."""
    import aeon
    from aeon.datasets import load_from_ts_file
    from aeon.datasets.tsc_datasets import univariate

    found = []
    for folder in sorted((Path(aeon.__file__).parent / "datasets/data").iterdir()):
        for train in sorted(folder.glob("*_TRAIN.ts")):
            name = train.name.removesuffix("_TRAIN.ts")
            test = folder / f"{name}_TEST.ts"
            if name.removesuffix("_eq") not in univariate or not test.is_file():
                continue
            x, labels = load_from_ts_file(str(train))
            if isinstance(x, np.ndarray) and x.ndim == 3 and x.shape[1] == 1:
                classes = tuple(sorted({str(v) for v in labels}, key=lambda v: (len(v), v)))
                found.append(UCRSet(name, train, test, classes))
    return found


def write_ucr_tsv(source: Path, target: Path) -> None:
    """A ``.ts`` file as the UCR archive's TSV (label, then the curve), as a user has it."""
    from aeon.datasets import load_from_ts_file

    x, labels = load_from_ts_file(str(source))
    with open(target, "w") as handle:
        for label, curve in zip(labels, x[:, 0, :], strict=True):
            handle.write("\t".join([str(label), *(repr(float(v)) for v in curve)]) + "\n")


def peer_detectors(seed: int, n_train: int) -> dict[str, Callable[[], Any]]:
    """ROCKAD and PyOD's detectors at their defaults, except the PyOD AutoEncoder's epochs
    (10 -> 100) and its batch size: it drops incomplete batches, so with fewer curves than its
    32 it would train on none. KNN's 5 neighbours need 6 curves; with fewer it takes all."""
    from aeon.anomaly_detection import collection as aeon_collection
    from pyod.models.auto_encoder import AutoEncoder
    from pyod.models.iforest import IForest
    from pyod.models.knn import KNN
    from pyod.models.ocsvm import OCSVM

    neighbours = min(5, n_train - 1)
    return {
        ROCKAD: lambda: aeon_collection.ROCKAD(n_neighbors=neighbours, random_state=seed),
        "pyod_autoencoder": lambda: AutoEncoder(
            epoch_num=100, batch_size=min(32, n_train), random_state=seed, verbose=0
        ),
        "pyod_iforest": lambda: IForest(random_state=seed),
        "pyod_ocsvm": lambda: OCSVM(),
        "pyod_knn": lambda: KNN(n_neighbors=neighbours),
    }


def score_peers(sandbox: Path, seed: int, normalize: str) -> dict[str, dict[str, float]]:
    train = load_dataset(stage_paths("split", sandbox)["train"])
    validation = load_dataset(stage_paths("generate", sandbox)["validation"])
    fit_x = normalize_curves(train.normal, normalize).astype(np.float64)
    eval_x = normalize_curves(validation.x, normalize).astype(np.float64)
    results = {}
    for name, make in peer_detectors(seed, len(fit_x)).items():
        if name == ROCKAD:
            detector = make().fit(fit_x[:, None, :])
            scores = detector.predict(eval_x[:, None, :])
            labels = (scores > np.quantile(detector.predict(fit_x[:, None, :]), 0.99)).astype(int)
        else:
            detector = make().fit(fit_x)
            scores, labels = detector.decision_function(eval_x), detector.predict(eval_x)
        results[name] = evaluate_detector(validation.y, finite(scores), labels).metrics
    return results


def finite(scores: np.ndarray) -> np.ndarray:
    """Scores with their order kept where a peer overflows (ROCKAD's power transform can give
    infinite distances on a few curves): infinity just above the largest finite score, NaN as
    the most anomalous."""
    scores = np.asarray(scores, dtype=np.float64)
    ok = np.isfinite(scores)
    if ok.all():
        return scores
    top, bottom = (scores[ok].max(), scores[ok].min()) if ok.any() else (0.0, 0.0)
    return np.where(
        np.isnan(scores), top + 2, np.where(scores > 0, top + 1, np.where(ok, scores, bottom - 1))
    )


@dataclass(frozen=True)
class Configuration:
    dataset: UCRSet
    normal: str
    seeds: tuple[int, ...]

    @property
    def key(self) -> str:
        return f"{self.dataset.name}/{self.normal}"


def _limit_threads() -> None:
    """Each worker is half of a 2-core machine: one thread for every pool it may start."""
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        os.environ[name] = "1"
    os.environ["AE_ANOMALY_JOBS"] = "2"


def draw_located(sandbox: Path, path: Path, count: int = 8) -> Path:
    """The ``count`` validation curves ``ae_threshold`` scores highest, drawn as the network
    sees them with their reconstruction and anomaly window: real curves, no truth."""
    from ae_anomaly.deploy.detector import CurveDetector
    from ae_anomaly.report.figures import located_anomalies

    detector = CurveDetector.load(stage_paths("detector", sandbox)["detector"])
    validation = load_dataset(stage_paths("generate", sandbox)["validation"])
    curves, residuals = detector.residuals(validation.x)
    columns = detector.result_columns(residuals)
    score = columns[f"{LABEL_FREE}_score"]
    top = [int(row) for row in np.argsort(-score, kind="stable")[:count]]
    titles = [
        f"curve {row + 1} ({'anomaly' if validation.y[row] else 'normal'}), score {score[row]:.3g}"
        for row in top
    ]
    return located_anomalies(curves, curves - residuals, columns, top, path, titles=titles)


def run_configuration(
    config: Configuration, work: Path, network_kind: str | None, figure: Path | None = None
) -> dict[str, Any]:
    """Every seed of one configuration: the pipeline, then the peers on the same split; with
    ``figure``, the first seed's most anomalous validation curves and their windows."""
    import torch

    torch.set_num_threads(1)
    preset = yaml.safe_load(PRESET.read_text())
    sandbox = make_sandbox(work / config.key.replace("/", "-"), overrides=preset)
    train, test = (sandbox / "inputs/train.tsv", sandbox / "inputs/validation.tsv")
    write_ucr_tsv(config.dataset.train, train)
    write_ucr_tsv(config.dataset.test, test)
    files = {
        "train": "inputs/train.tsv",
        "validation": "inputs/validation.tsv",
        "normal_labels": [config.normal],
    }
    update_params(sandbox, {"generate": {"source": "files", "files": files}})
    if network_kind:
        update_params(sandbox, {"train_ae": {"network": {"kind": network_kind}}})
    run(sandbox, "git", "add", "-A")
    run(sandbox, "git", "commit", "-q", "-m", f"{config.key} is normal")
    normalize = yaml.safe_load((sandbox / "params.yaml").read_text())["preprocess"]["normalize"]
    per_seed: dict[int, dict[str, Any]] = {}
    started = time.perf_counter()
    for seed in config.seeds:
        update_params(sandbox, {"base": {"seed": seed}})
        dvc(sandbox, "repro")
        ours = load_json(stage_paths("evaluate", sandbox)["metrics"])
        per_seed[seed] = {**ours, **score_peers(sandbox, seed, normalize)}
        if figure is not None and seed == config.seeds[0]:
            draw_located(sandbox, figure)
        log(f"{config.key} seed {seed}: {time.perf_counter() - started:.0f} s so far")
    summary = load_json(stage_paths("train_ae", sandbox)["summary"])
    shutil.rmtree(sandbox, ignore_errors=True)
    return {
        "per_seed": per_seed,
        "n_train_normal": summary.get("n_train", 0) + summary.get("n_holdout", 0),
        "seconds": time.perf_counter() - started,
    }


def roc(scores: dict[str, Any], model: str) -> float | None:
    value = scores.get(model, {}).get("roc_auc")
    return None if value is None or (isinstance(value, float) and np.isnan(value)) else value


def mean_roc(config: dict[str, Any], model: str) -> float | None:
    values = [roc(scores, model) for scores in config["per_seed"].values()]
    values = [v for v in values if v is not None]
    return statistics.fmean(values) if values else None


def summarise(configs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Mean ROC-AUC and mean rank per model (ranked per configuration, 1 = best, ties share
    the mean rank, a model not fitted there left out), the label-free detector against
    ROCKAD, and our best model against the best peer."""
    import pandas as pd

    models = [*MODEL_NAMES, *PEERS]
    table = {key: {m: mean_roc(c, m) for m in models} for key, c in configs.items()}
    ranks: dict[str, list[float]] = {m: [] for m in models}
    for row in table.values():
        fitted = [m for m in models if row[m] is not None]
        ranked = pd.Series([row[m] for m in fitted]).rank(ascending=False)
        for model, rank in zip(fitted, ranked, strict=True):
            ranks[model].append(float(rank))
    differences = [
        row[LABEL_FREE] - row[ROCKAD]
        for row in table.values()
        if row[LABEL_FREE] is not None and row[ROCKAD] is not None
    ]
    best_ours_vs_peer = [
        max(row[m] for m in MODEL_NAMES if row[m] is not None)
        >= max(row[m] for m in PEERS if row[m] is not None)
        for row in table.values()
    ]
    mean = {
        m: statistics.fmean(v)
        for m in models
        if (v := [r[m] for r in table.values() if r[m] is not None])
    }
    return {
        "table": table,
        "mean_roc_auc": mean,
        "mean_rank": {m: statistics.fmean(v) for m, v in ranks.items() if v},
        "label_free_vs_rockad": {
            "wins": sum(d > 0 for d in differences),
            "ties": sum(d == 0 for d in differences),
            "losses": sum(d < 0 for d in differences),
            "within_margin_or_better": sum(d >= -MARGIN for d in differences),
            "configurations": len(differences),
        },
        "best_ours_at_least_best_peer": sum(best_ours_vs_peer),
    }


def targets(summary: dict[str, Any]) -> list[dict[str, Any]]:
    versus = summary["label_free_vs_rockad"]
    mean = summary["mean_roc_auc"]
    share = versus["within_margin_or_better"] / max(1, versus["configurations"])
    configurations = len(summary["table"])
    return [
        {
            "target": f"{LABEL_FREE} mean ROC-AUC >= ROCKAD's "
            f"({mean[LABEL_FREE]:.3f} vs {mean[ROCKAD]:.3f})",
            "met": mean[LABEL_FREE] >= mean[ROCKAD],
        },
        {
            "target": f"{LABEL_FREE} within {MARGIN} of ROCKAD or better on >= 80 % of "
            f"configurations ({share:.0%})",
            "met": share >= 0.8,
        },
        {
            "target": "our best model >= the best peer on every configuration "
            f"({summary['best_ours_at_least_best_peer']} of {configurations})",
            "met": summary["best_ours_at_least_best_peer"] == configurations,
        },
    ]


def _cell(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def markdown(results: dict[str, Any]) -> str:
    meta, summary = results["meta"], results["summary"]
    models = [*MODEL_NAMES, *PEERS]
    versus = summary["label_free_vs_rockad"]
    lines = [
        "# Detection quality on real curves: UCR archive, one-vs-rest",
        "",
        f"`make bench-real` on {meta['date']} ({meta['machine']}) in "
        f"{meta['wall_seconds'] / 60:.1f} min; seeds {', '.join(map(str, meta['seeds']))}; "
        f"{len(summary['table'])} configurations of {len(meta['datasets'])} data sets "
        f"({', '.join(meta['datasets'])}). Each class in turn is normal, every other class "
        "an anomaly (the positive class). Pool: the archive's TRAIN file (split by the "
        "pipeline); validation: its TEST file. Ours: `params.yaml` + `presets/files.yaml`, "
        "one set of defaults for every configuration. Peers (ROCKAD from aeon, PyOD's "
        "detectors) at their defaults, fitted on the normal curves of the same training split, "
        "preprocessed the same way. No peer sees an anomaly label; of ours, the forests and "
        "the Random Forest learn from labelled anomalies, `ae_threshold`, One-Class SVM and "
        "Isolation Forest do not. Figures: ROC-AUC, mean over the seeds.",
        "",
        "## Summary",
        "",
        markdown_table(
            ("model", "mean ROC-AUC", "mean rank"),
            [
                [m, _cell(summary["mean_roc_auc"].get(m)), f"{summary['mean_rank'][m]:.2f}"]
                for m in sorted(models, key=lambda m: summary["mean_rank"].get(m, 99))
                if m in summary["mean_rank"]
            ],
        ),
        "",
        f"`{LABEL_FREE}` (no labels) against ROCKAD: {versus['wins']} wins, {versus['ties']} "
        f"ties, {versus['losses']} losses over {versus['configurations']} configurations; "
        f"within {MARGIN} of ROCKAD or better on {versus['within_margin_or_better']}.",
        "",
        "| target | met |",
        "|---|---|",
        *(f"| {t['target']} | {'yes' if t['met'] else '**NO**'} |" for t in results["targets"]),
        "",
        "## Every configuration",
        "",
    ]
    header = ("data set / normal class", "normal train curves", *models)
    rows = []
    for key, row in summary["table"].items():
        best = max(v for v in row.values() if v is not None)
        cells = [f"**{_cell(row[m])}**" if row[m] == best else _cell(row[m]) for m in models]
        rows.append([key, results["configs"][key]["n_train_normal"], *cells])
    lines.append(markdown_table(header, rows))
    lines += ["", "Best per row in bold; `-`: not fitted (a forest needs both classes)."]
    if meta.get("figure"):
        lines += [
            "",
            "## Where on the curve",
            "",
            f"`{meta['figure_config']}`, seed {meta['seeds'][0]}: the validation curves "
            f"`{LABEL_FREE}` scores highest, as the network sees them (normalised), with their "
            "reconstruction and the detector's anomaly window (shaded) and peak. Real curves "
            "carry no true location to measure against.",
            "",
            f"![the most anomalous curves of {meta['figure_config']}]({meta['figure']})",
        ]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seeds", default="1,2,3", help="comma-separated seeds")
    parser.add_argument("--datasets", default="", help="comma-separated names (default: all)")
    parser.add_argument("--jobs", type=int, default=2, help="configurations side by side")
    parser.add_argument(
        "--network-kind", default=None, help="train_ae.network.kind (default: the preset's)"
    )
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "bench/results")
    parser.add_argument("--name", default="real", help="results file name (real.md)")
    parser.add_argument(
        "--figure-config",
        default=FIGURE_CONFIG,
        help="the configuration whose most anomalous validation curves are drawn with their "
        "windows, to <name>_located.png (default %(default)s; '' for none)",
    )
    args = parser.parse_args(argv)
    seeds = tuple(int(seed) for seed in args.seeds.split(","))
    datasets = ucr_datasets()
    if args.datasets:
        wanted = args.datasets.split(",")
        datasets = [d for d in datasets if d.name in wanted]
    configurations = [
        Configuration(dataset, label, seeds) for dataset in datasets for label in dataset.classes
    ]
    order = [c.key for c in configurations]  # data sets by name, classes in order: the table's
    # Largest first, so the two workers finish together.
    configurations.sort(key=lambda c: -c.dataset.train.stat().st_size)
    log(f"{len(configurations)} configurations of {len(datasets)} data sets, seeds {seeds}")

    started = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="bench-real-"))
    results: dict[str, Any] = {"configs": {}}
    context = multiprocessing.get_context("spawn")
    try:
        with concurrent.futures.ProcessPoolExecutor(
            args.jobs, mp_context=context, initializer=_limit_threads
        ) as pool:
            figure = (args.out / f"{args.name}_located.png").resolve()
            args.out.mkdir(parents=True, exist_ok=True)
            figure.unlink(missing_ok=True)  # drawn again, or not at all
            futures = {
                pool.submit(
                    run_configuration,
                    c,
                    work,
                    args.network_kind,
                    figure if c.key == args.figure_config else None,
                ): c
                for c in configurations
            }
            for future in concurrent.futures.as_completed(futures):
                config = futures[future]
                outcome = future.result()
                results["configs"][config.key] = outcome
                log(
                    f"{config.key}: {outcome['seconds']:.0f} s, ROC-AUC {LABEL_FREE} "
                    f"{_cell(mean_roc(outcome, LABEL_FREE))}, ROCKAD "
                    f"{_cell(mean_roc(outcome, ROCKAD))} ({len(results['configs'])}/"
                    f"{len(configurations)})"
                )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    results["configs"] = {key: results["configs"][key] for key in order}
    results["summary"] = summarise(results["configs"])
    results["targets"] = targets(results["summary"])
    results["meta"] = {
        "seeds": list(seeds),
        "network_kind": args.network_kind or "the preset's",
        "datasets": [d.name for d in datasets],
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, Python {platform.python_version()}, "
        f"{os.cpu_count()} CPUs",
        "wall_seconds": time.perf_counter() - started,
        "figure_config": args.figure_config,
        "figure": figure.name if figure.is_file() else None,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{args.name}.json").write_text(json.dumps(results, indent=2) + "\n")
    text = markdown(results)
    (args.out / f"{args.name}.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
