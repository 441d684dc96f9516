"""Detection quality over seeds: ``make bench-quality``.

For every configuration and seed this runs the real pipeline (``dvc repro`` in a sandbox copy
of the project, so the figures are exactly what a user gets) and collects
``metrics/validation.json`` and ``metrics/localisation.json`` (where the detector says each
anomaly is, against the generator's truth). Configurations:

- ``article``: ``params.yaml`` with ``presets/article.yaml`` on top, the article's settings;
- ``default``: this repository's ``params.yaml``;
- ``noisy``: the defaults on data with additive noise (``generate.synthetic.noise_std``), no
  targets.

The peers, PyOD's ``AutoEncoder`` and ``VAE`` at their defaults (with more epochs), are fitted
on the same normal training curves as our autoencoder and scored on the same validation set.
Nothing here reads validation labels before predicting. Writes ``quality.md`` and
``quality.json`` to ``--out``.
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

import yaml

from ae_anomaly.core.models import MODEL_NAMES, RESIDUAL_MODEL_NAMES
from ae_anomaly.core.storage import load_dataset, load_json
from ae_anomaly.report.evaluation import evaluate_detector
from ae_anomaly.report.tables import article_f1_cell, markdown_table
from tooling.pipeline import stage_paths
from tooling.sandbox import PROJECT_ROOT, dvc, make_sandbox, update_params

AE_MODELS = RESIDUAL_MODEL_NAMES
NOISE_STD = 0.01


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def pyod_peers(epochs: int) -> dict[str, Callable[[int], Any]]:
    """PyOD detectors at their defaults except ``epoch_num`` (their defaults are 10 and 30)."""
    from pyod.models.auto_encoder import AutoEncoder
    from pyod.models.vae import VAE

    return {
        "pyod_autoencoder": lambda seed: AutoEncoder(
            epoch_num=epochs, random_state=seed, verbose=0
        ),
        "pyod_vae": lambda seed: VAE(epoch_num=epochs, random_state=seed, verbose=0),
    }


def score_peers(
    sandbox: Path, seed: int, peers: dict[str, Callable[[int], Any]]
) -> dict[str, dict]:
    train = load_dataset(stage_paths("split", sandbox)["train"])
    validation = load_dataset(stage_paths("generate", sandbox)["validation"])
    results = {}
    for name, make in peers.items():
        detector = make(seed).fit(train.normal)
        scores = detector.decision_function(validation.x)
        results[name] = evaluate_detector(
            validation.y, scores, detector.predict(validation.x)
        ).metrics
    return results


def run_config(
    name: str, sandbox: Path, seeds: Sequence[int], peers: dict[str, Callable[[int], Any]] | None
) -> dict[str, Any]:
    per_seed: dict[int, dict[str, dict]] = {}
    localisation: dict[int, dict[str, float]] = {}
    seconds: dict[int, float] = {}
    for seed in seeds:
        update_params(sandbox, {"base": {"seed": seed}})
        started = time.perf_counter()
        dvc(sandbox, "repro")
        seconds[seed] = time.perf_counter() - started
        outputs = stage_paths("evaluate", sandbox)
        per_seed[seed] = load_json(outputs["metrics"])
        localisation[seed] = load_json(outputs["localisation"])
        if peers:
            per_seed[seed] |= score_peers(sandbox, seed, peers)
        f1 = per_seed[seed]["histogram_forest"]["f1_anomaly"]
        hit = localisation[seed]["hit_rate"]
        log(f"{name} seed {seed}: {seconds[seed]:.0f} s, histogram_forest F1 {f1:.3f}, hit {hit}")
    return {"per_seed": per_seed, "localisation": localisation, "seconds": seconds}


LOCALISATION_HEADER = (
    "seed", "hit rate", "mean IoU", "median centre error (points)", "mean window (points)",
    "anomalies",
)  # fmt: skip


def localisation_rows(localisation: dict[int, dict[str, float]]) -> list[list[str]]:
    """One row per seed, then the mean (and, for the error, the worst seed)."""
    rows = [
        [
            str(seed),
            f"{m['hit_rate']:.3f}",
            f"{m['mean_iou']:.3f}",
            f"{m['median_centre_error']:.2f}",
            f"{m['mean_window_points']:.1f}",
            str(m["anomalies"]),
        ]
        for seed, m in localisation.items()
    ]
    mean = summarise_localisation(localisation)
    rows.append(
        [
            "**mean (min / max)**",
            f"{mean['hit_rate_mean']:.3f} ({mean['hit_rate_min']:.3f})",
            f"{mean['mean_iou_mean']:.3f} ({mean['mean_iou_min']:.3f})",
            f"{mean['median_centre_error_mean']:.2f} ({mean['median_centre_error_max']:.2f})",
            f"{mean['mean_window_points_mean']:.1f}",
            "",
        ]
    )
    return rows


def summarise_localisation(localisation: dict[int, dict[str, float]]) -> dict[str, float]:
    def values(key: str) -> list[float]:
        return [float(m[key]) for m in localisation.values()]

    return {
        "hit_rate_mean": statistics.fmean(values("hit_rate")),
        "hit_rate_min": min(values("hit_rate")),
        "mean_iou_mean": statistics.fmean(values("mean_iou")),
        "mean_iou_min": min(values("mean_iou")),
        "median_centre_error_mean": statistics.fmean(values("median_centre_error")),
        "median_centre_error_max": max(values("median_centre_error")),
        "mean_window_points_mean": statistics.fmean(values("mean_window_points")),
    }


def localisation_targets(name: str, localisation: dict[int, dict[str, float]]) -> list[dict]:
    """The localisation issue's targets, on the mean over seeds."""
    summary = summarise_localisation(localisation)
    if name == "default":
        targets = [
            ("hit rate >= 0.95", summary["hit_rate_mean"], summary["hit_rate_mean"] >= 0.95),
            ("mean IoU >= 0.6", summary["mean_iou_mean"], summary["mean_iou_mean"] >= 0.6),
            (
                "median centre error <= 2 points",
                summary["median_centre_error_mean"],
                summary["median_centre_error_mean"] <= 2,
            ),
        ]
    elif name == "noisy":
        targets = [("hit rate >= 0.9", summary["hit_rate_mean"], summary["hit_rate_mean"] >= 0.9)]
    else:
        return []
    return [
        {"target": text, "measured": round(value, 4), "met": met} for text, value, met in targets
    ]


def summarise(per_seed: dict[int, dict[str, dict]]) -> dict[str, dict[str, float]]:
    models = list(next(iter(per_seed.values())))
    summary = {}
    for model in models:
        values = {
            metric: [scores[model][metric] for scores in per_seed.values()]
            for metric in per_seed[next(iter(per_seed))][model]
        }
        f1 = values["f1_anomaly"]
        summary[model] = {
            "f1_anomaly_mean": statistics.fmean(f1),
            "f1_anomaly_std": statistics.stdev(f1) if len(f1) > 1 else 0.0,
            "f1_anomaly_min": min(f1),
            "f1_macro_mean": statistics.fmean(values["f1_macro"]),
            "roc_auc_mean": statistics.fmean(values["roc_auc"]),
            "roc_auc_min": min(values["roc_auc"]),
            "average_precision_mean": statistics.fmean(values["average_precision"]),
        }
    return summary


def check_targets(
    per_seed: dict[int, dict[str, dict]], summary: dict[str, dict]
) -> list[dict[str, Any]]:
    """The targets of the quality issue, each with the measured figure and a verdict."""
    histogram, threshold = summary["histogram_forest"], summary["ae_threshold"]
    difference_f1 = [scores["difference_forest"]["f1_anomaly"] for scores in per_seed.values()]
    targets = [
        (
            "histogram_forest F1 mean >= 0.98",
            histogram["f1_anomaly_mean"],
            histogram["f1_anomaly_mean"] >= 0.98,
        ),
        (
            "histogram_forest F1 >= 0.95 on every seed",
            histogram["f1_anomaly_min"],
            histogram["f1_anomaly_min"] >= 0.95,
        ),
        (
            "histogram_forest ROC-AUC >= 0.995 (mean)",
            histogram["roc_auc_mean"],
            histogram["roc_auc_mean"] >= 0.995,
        ),
        (
            "ae_threshold F1 mean >= 0.95",
            threshold["f1_anomaly_mean"],
            threshold["f1_anomaly_mean"] >= 0.95,
        ),
        (
            "difference_forest F1 > 0.82 on every seed",
            min(difference_f1),
            min(difference_f1) > 0.82,
        ),
    ]
    peer_names = [name for name in next(iter(per_seed.values())) if name.startswith("pyod_")]
    if peer_names:
        margins = [
            scores[model]["roc_auc"] - max(scores[peer]["roc_auc"] for peer in peer_names)
            for scores in per_seed.values()
            for model in AE_MODELS
        ]
        targets.append(
            (
                "every AE model's ROC-AUC > best PyOD peer's, every seed (smallest margin)",
                min(margins),
                min(margins) > 0,
            )
        )
    return [
        {"target": text, "measured": round(value, 4), "met": met} for text, value, met in targets
    ]


SUMMARY_HEADER = (
    "model", "F1 anomaly mean ± std", "F1 min", "macro F1", "ROC-AUC mean (min)", "AP mean",
    "article F1",
)  # fmt: skip


def _summary_row(model: str, s: dict[str, float]) -> list[str]:
    return [
        model,
        f"{s['f1_anomaly_mean']:.3f} ± {s['f1_anomaly_std']:.3f}",
        f"{s['f1_anomaly_min']:.3f}",
        f"{s['f1_macro_mean']:.3f}",
        f"{s['roc_auc_mean']:.4f} ({s['roc_auc_min']:.4f})",
        f"{s['average_precision_mean']:.3f}",
        article_f1_cell(model),
    ]


TARGET_HEADER = ("target", "measured", "met")


def target_rows(targets: list[dict[str, Any]], number_format: str) -> list[list[str]]:
    return [
        [t["target"], number_format.format(t["measured"]), "yes" if t["met"] else "**NO**"]
        for t in targets
    ]


def markdown(results: dict[str, Any]) -> str:
    meta = results["meta"]
    lines = [
        "# Detection quality over seeds",
        "",
        f"Seeds {', '.join(map(str, meta['seeds']))}; validation set of the article's protocol; "
        f"anomaly = positive class. Produced by `make bench-quality` on {meta['date']} "
        f"({meta['machine']}) in {meta['wall_seconds'] / 60:.1f} min.",
    ]
    for name, config in results["configs"].items():
        lines += ["", f"## `{name}`: {config['description']}", ""]
        summary = config["summary"]
        lines.append(markdown_table(SUMMARY_HEADER, [_summary_row(m, summary[m]) for m in summary]))
        lines += ["", "Anomaly F1 per seed:", ""]
        seeds = list(config["per_seed"])
        per_seed = config["per_seed"]
        lines.append(
            markdown_table(
                ["model", *(f"seed {seed}" for seed in seeds)],
                [
                    [model, *(f"{per_seed[seed][model]['f1_anomaly']:.3f}" for seed in seeds)]
                    for model in summary
                ],
            )
        )
        if config.get("targets"):
            lines += ["", markdown_table(TARGET_HEADER, target_rows(config["targets"], "{:.4f}"))]
        if config.get("localisation"):
            lines += [
                "",
                "Where the anomaly is: each validation anomaly's predicted window "
                "(`anomaly_start`..`anomaly_end`) and `anomaly_peak` against its true bump "
                "(`[mu - 2 sigma, mu + 2 sigma]`), from `metrics/localisation.json`:",
                "",
                markdown_table(LOCALISATION_HEADER, localisation_rows(config["localisation"])),
            ]
            if config.get("localisation_targets"):
                rows = target_rows(config["localisation_targets"], "{:.3f}")
                lines += ["", markdown_table(TARGET_HEADER, rows)]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--seeds", default="1,2,3,4,5", help="comma-separated seeds (default: %(default)s)"
    )
    parser.add_argument(
        "--configs", default="article,default,noisy", help="which configurations to run"
    )
    parser.add_argument("--peer-epochs", type=int, default=100, help="epochs for the PyOD peers")
    parser.add_argument("--no-peers", action="store_true", help="skip PyOD (not installed, say)")
    parser.add_argument(
        "--out", type=Path, default=PROJECT_ROOT / "bench/results", help="results folder"
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the sandboxes (printed) for inspection"
    )
    parser.add_argument(
        "--check", action="store_true", help="exit 1 when a target of `default` is missed"
    )
    args = parser.parse_args(argv)
    seeds = [int(seed) for seed in args.seeds.split(",")]
    peers = None if args.no_peers else pyod_peers(args.peer_epochs)

    article = yaml.safe_load((PROJECT_ROOT / "presets/article.yaml").read_text())
    configs = {
        "article": ("the article's settings (presets/article.yaml)", article, None),
        "default": ("our params.yaml", {}, peers),
        "noisy": (
            f"our params.yaml on data with generate.synthetic.noise_std={NOISE_STD}",
            {"generate": {"synthetic": {"noise_std": NOISE_STD}}},
            None,
        ),
    }
    selected = [name for name in args.configs.split(",") if name]
    unknown = set(selected) - configs.keys()
    if unknown:
        parser.error(f"unknown configuration(s) {sorted(unknown)}; choose from {sorted(configs)}")

    started = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="bench-quality-"))
    results: dict[str, Any] = {"configs": {}}
    try:
        # Every sandbox is copied before any runs, so edits made meanwhile cannot leak in.
        sandboxes = {
            name: make_sandbox(work / name, overrides=configs[name][1]) for name in selected
        }
        for name in selected:
            description, _, config_peers = configs[name]
            log(f"configuration {name}: {description}")
            outcome = run_config(name, sandboxes[name], seeds, config_peers)
            summary = summarise(outcome["per_seed"])
            results["configs"][name] = {
                "description": description,
                "summary": summary,
                "per_seed": outcome["per_seed"],
                "seconds_per_run": outcome["seconds"],
                "localisation": outcome["localisation"],
                "localisation_targets": localisation_targets(name, outcome["localisation"]),
                "targets": check_targets(outcome["per_seed"], summary) if name == "default" else [],
            }
    finally:
        if args.keep:
            log(f"sandboxes kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)

    results["meta"] = {
        "seeds": seeds,
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, Python {platform.python_version()}, "
        f"{os.cpu_count()} CPUs",
        "wall_seconds": time.perf_counter() - started,
        "models": list(MODEL_NAMES),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "quality.json").write_text(json.dumps(results, indent=2) + "\n")
    report = markdown(results)
    (args.out / "quality.md").write_text(report)
    print(report)
    default = results["configs"].get("default", {})
    missed = [
        t
        for t in [*default.get("targets", []), *default.get("localisation_targets", [])]
        if not t["met"]
    ]
    return 1 if args.check and missed else 0


if __name__ == "__main__":
    sys.exit(main())
