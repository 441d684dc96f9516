"""Which label-free score built on the autoencoder should the files preset use? Design data only.

``make bench-real`` reports every figure on each archive's TEST file, so choosing the
detector's score there would tune the defaults on the benchmark's own labels. This bench
answers the question on *design* data instead: for each one-vs-rest configuration and seed it
makes the pipeline's own split of the archive's TRAIN file (``presets/files.yaml``: stratified,
``split.test_size`` 0.4, z-normalised curves), trains each network kind on the normal curves of
the training split with the preset's settings, and measures ROC-AUC on the split's test part.
The TEST files are never read.

Scores compared, all label-free and fitted on the same normal training curves:

- ``<kind>_<error>``: each reconstruction error (``ae_threshold.error``: ``mse``, ``mae``,
  ``max_abs``) of each network kind;
- ``<kind>_<error>_standardized``: the mean errors after each point's residual is divided by
  the spread of the normal training curves' residuals there (``ae_threshold.standardize``);

every one of them scored by ``ae_threshold``'s own class, fitted as the ``detector`` stage
fits it;
- ``conv_features_knn``: mean distance to the k nearest training curves in a space of the
  trained convolutional encoder's activations (per channel of every activation layer: max,
  mean and share of positive values, standardised on the training curves);
- ``raw_knn``: the same kNN on the z-normalised curves themselves (no network: the floor a
  network-based score must clear to be worth it);
- ``rockad``: aeon's ROCKAD at its defaults, ``n_neighbors`` capped as in ``bench.real``;
- ``<kind>_<error>_standardized_<n>_epochs``: the preset's own kind and error with the network
  trained for ``n`` epochs instead of the preset's ``train_ae.epochs`` (:data:`EPOCHS`): real
  pools hold 3 to 32 normal curves, and how long to fit so few is the other choice the preset
  makes on this data.

It runs in-process (no DVC, no MLflow), so it measures scores, not the house.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np

from ae_anomaly.core.params import Params, load_preset
from ae_anomaly.core.types import Dataset
from ae_anomaly.data.split import train_test_split_dataset
from ae_anomaly.features.preprocessing import normalize_curves
from ae_anomaly.features.residuals import residuals
from ae_anomaly.report.tables import markdown_table
from bench.real import PRESET, ROCKAD, finite, log, peer_detectors, ucr_datasets
from tooling.sandbox import PROJECT_ROOT

KINDS = ("mlp", "conv", "vae")
REFERENCES = ("rockad", "raw_knn")
#: ``ae_threshold``'s error and whether it standardises: every combination but a standardised
#: ``max_abs`` (one point's extreme is what standardising is meant to temper).
ERRORS = (("mse", False), ("mae", False), ("max_abs", False), ("mse", True), ("mae", True))
#: Training lengths tried for the preset's kind and error, beside the preset's own.
EPOCHS = (25, 50, 100, 200, 500)


def knn_distance(reference: np.ndarray, query: np.ndarray, k: int) -> np.ndarray:
    """Mean Euclidean distance of each query row to its ``k`` nearest reference rows, both
    standardised per column on the reference."""
    centre, spread = reference.mean(0), reference.std(0) + 1e-6
    a, b = (reference - centre) / spread, (query - centre) / spread
    distances = np.sqrt(((b[:, None, :] - a[None]) ** 2).sum(-1))
    return np.sort(distances, 1)[:, :k].mean(1)


def encoder_activations(model: Any, curves: np.ndarray) -> np.ndarray:
    """Per curve: max, mean and share of positive values of every channel of every
    activation layer of the convolutional encoder, before it is flattened."""
    import torch

    features = []
    hidden = torch.as_tensor(curves, dtype=torch.float32)[:, None]
    with torch.inference_mode():
        extra = model.config.padded_size - curves.shape[1]
        if extra:
            hidden = torch.nn.functional.pad(hidden, (0, extra), mode="replicate")
        for layer in model.encoder:
            if isinstance(layer, torch.nn.Flatten):
                break
            hidden = layer(hidden)
            if not isinstance(layer, torch.nn.Conv1d):
                features += [hidden.amax(2), hidden.mean(2), (hidden > 0).float().mean(2)]
    return torch.cat(features, 1).numpy()


def train_kind(
    kind: str, params: Params, seed: int, train: Dataset, test: Dataset, epochs: int | None = None
) -> tuple[Any, np.ndarray]:
    """A network of ``kind`` trained on ``train``'s normal curves exactly as ``train_ae``
    trains it (the same :func:`autoencoder_fit`), with ``seed`` as ``base.seed`` (and
    ``epochs``, where given, as ``train_ae.epochs``), and the normalised curves it held out."""
    from ae_anomaly.networks.training import train_network
    from ae_anomaly.pipeline.wiring import autoencoder_fit

    network = params.train_ae.network.model_copy(update={"kind": kind})
    epochs = params.train_ae.epochs if epochs is None else epochs
    params = params.model_copy(
        update={
            "train_ae": params.train_ae.model_copy(update={"network": network, "epochs": epochs}),
            "base": params.base.model_copy(update={"seed": seed}),
        }
    )
    fit = autoencoder_fit(params, train, test, "cpu")
    train_network(*fit.arguments(), trainer=fit.trainer)
    return fit.model.eval(), fit.holdout_x.astype(np.float32)


def score_name(error: str, standardize: bool) -> str:
    return error + ("_standardized" if standardize else "")


def threshold_scores(
    model: Any,
    errors: tuple[tuple[str, bool], ...],
    params: Params,
    holdout: np.ndarray,
    normal: np.ndarray,
    query: np.ndarray,
) -> dict[str, np.ndarray]:
    """``query``'s scores by ``ae_threshold`` with each (error, standardize) of ``errors``,
    keyed by :func:`score_name` without the kind, each fitted as the ``detector`` stage fits
    it: the cut on the ``holdout`` curves' residuals, the spread on the ``normal`` ones'. Each
    set of curves goes through the network once."""
    import torch

    from ae_anomaly.detectors.reconstruction import ReconstructionThresholdDetector
    from ae_anomaly.networks.base import reconstruct

    def residuals_of(x: np.ndarray) -> np.ndarray:
        return residuals(x, reconstruct(model, x, torch.device("cpu"), 1024))

    held_out, reference, residual = residuals_of(holdout), residuals_of(normal), residuals_of(query)
    scores = {}
    for error, standardize in errors:
        detector = ReconstructionThresholdDetector(
            error=error, standardize=standardize, prior_curves=params.ae_threshold.prior_curves
        ).fit(held_out, reference=reference)
        scores[score_name(error, standardize)] = detector.decision_function(residual)
    return scores


def score_seed(seed: int) -> dict[str, dict[str, float]]:
    """ROC-AUC of every score on every configuration's design split, for one seed."""
    os.environ["OMP_NUM_THREADS"] = "1"
    import torch
    from aeon.datasets import load_from_ts_file
    from sklearn.metrics import roc_auc_score

    torch.set_num_threads(1)
    _, params = load_preset(PRESET, PROJECT_ROOT / "params.yaml")
    split, normalize = params.split, params.preprocess.normalize
    rows: dict[str, dict[str, float]] = {}
    for data_set in ucr_datasets():
        curves, labels = load_from_ts_file(str(data_set.train))
        curves = curves[:, 0].astype(np.float32)
        for normal in data_set.classes:
            anomalous = np.array([str(label) != normal for label in labels], dtype=np.int64)
            train, test = train_test_split_dataset(
                Dataset(curves, anomalous), split.test_size, split.shuffle, split.stratify, seed
            )
            fit = normalize_curves(train.normal, normalize).astype(np.float32)
            query = normalize_curves(test.x, normalize).astype(np.float32)
            k = max(1, min(5, len(fit) - 1))
            scores: dict[str, np.ndarray] = {}
            rockad = peer_detectors(seed, len(fit))[ROCKAD]().fit(fit[:, None].astype(np.float64))
            scores["rockad"] = finite(rockad.predict(query[:, None].astype(np.float64)))
            scores["raw_knn"] = knn_distance(fit, query, k)
            for kind in KINDS:
                model, holdout = train_kind(kind, params, seed, train, test)
                scores |= {
                    f"{kind}_{name}": values
                    for name, values in threshold_scores(
                        model, ERRORS, params, holdout, fit, query
                    ).items()
                }
                if kind == "conv":
                    scores["conv_features_knn"] = knn_distance(
                        encoder_activations(model, fit), encoder_activations(model, query), k
                    )
            kind, preset = params.train_ae.network.kind, params.ae_threshold
            chosen = ((preset.error, preset.standardize),)
            for epochs in EPOCHS:
                if epochs != params.train_ae.epochs:
                    model, holdout = train_kind(kind, params, seed, train, test, epochs)
                    ((name, values),) = threshold_scores(
                        model, chosen, params, holdout, fit, query
                    ).items()
                    scores[f"{kind}_{name}_{epochs}_epochs"] = values
            key = f"{data_set.name}/{normal}"
            rows[key] = {name: float(roc_auc_score(test.y, s)) for name, s in scores.items()}
            log(f"seed {seed} {key}: {len(fit)} normal training curves")
    return rows


def summary_table(results: dict[int, dict[str, dict[str, float]]]) -> list[list[str]]:
    """Mean ROC-AUC per score and seed, the mean over seeds, and configurations within 0.02
    of ROCKAD or better (all seeds pooled)."""
    scores = list(next(iter(next(iter(results.values())).values())))
    table = []
    for score in scores:
        per_seed = {
            s: statistics.fmean(r[score] for r in rows.values()) for s, rows in results.items()
        }
        close = [
            row[score] >= row["rockad"] - 0.02 for rows in results.values() for row in rows.values()
        ]
        table.append(
            [
                score,
                *(f"{value:.3f}" for value in per_seed.values()),
                f"{statistics.fmean(per_seed.values()):.3f}",
                f"{sum(close)}/{len(close)}",
            ]
        )
    return sorted(table, key=lambda row: row[-2], reverse=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("bench/results"))
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    args = parser.parse_args()
    started = time.perf_counter()
    with concurrent.futures.ProcessPoolExecutor(min(2, len(args.seeds))) as pool:
        results = dict(zip(args.seeds, pool.map(score_seed, args.seeds), strict=True))
    minutes = (time.perf_counter() - started) / 60
    table = summary_table(results)
    configurations = len(next(iter(results.values())))
    text = "\n".join(
        [
            "# Label-free scores on design data (bench/real_scores.py)",
            "",
            f"{configurations} one-vs-rest configurations x seeds {args.seeds}, ROC-AUC on the "
            "pipeline's own test split of each archive's TRAIN file (`presets/files.yaml`); "
            f"the TEST files are not read. {minutes:.1f} min on {os.cpu_count()} cores.",
            "",
            markdown_table(
                ["score", *(f"seed {seed}" for seed in results), "mean", "within 0.02 of ROCKAD"],
                table,
            ),
            "",
        ]
    )
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "real_scores.md").write_text(text)
    (args.out / "real_scores.json").write_text(json.dumps(results, indent=1))
    print(text)


if __name__ == "__main__":
    main()
