"""The article's experiment as one plain script: the yardstick of ``make bench-speed``.

What the article's notebook does, start to finish, in one process and without any of this
project's machinery (no DVC, no MLflow, no figures beyond the article's, no caching): generate
2000 normal + 200 anomalous curves and a 100 + 100 validation set, split 80/20, fit One-Class
SVM, Isolation Forest and a Random Forest on raw curves, train the article's autoencoder for
100 epochs (batch 32, Adam, a ``DataLoader``, one error boxplot of the test split per epoch,
as the article draws them), then fit the difference forest and the histogram forest on the
test split's residuals and print the validation reports. It imports nothing from
``ae_anomaly``: it is the baseline a user would otherwise write.

    python -m bench.article_script [--epochs 100] [--seed 42] [--boxplots DIR]
"""

from __future__ import annotations

import argparse
import itertools
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import torch
from sklearn.ensemble import IsolationForest, RandomForestClassifier
from sklearn.metrics import classification_report
from sklearn.model_selection import train_test_split
from sklearn.svm import OneClassSVM
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

SIZE = 256


def bumps(rng: np.random.RandomState, count: int, mu, sigma, max_val: float) -> np.ndarray:
    grid = np.linspace(0, 1, SIZE)
    mus = rng.uniform(*mu, size=(count, 1))
    sigmas = rng.uniform(*sigma, size=(count, 1))
    curves = np.exp(-((grid - mus) ** 2) / (2 * sigmas**2))
    return curves * (max_val / curves.max(axis=1, keepdims=True))


def curves(rng: np.random.RandomState, normal: int, anomalous: int) -> tuple[np.ndarray, ...]:
    inliers = bumps(rng, normal, (0.1, 0.9), (0.05, 0.5), 1.0)
    outliers = bumps(rng, anomalous, (0.1, 0.9), (0.05, 0.5), 1.0)
    outliers += bumps(rng, anomalous, (0.1, 0.9), (0.01, 0.05), 0.12)
    x = np.concatenate([inliers, outliers]).astype(np.float32)
    return x, np.concatenate([np.zeros(normal), np.ones(anomalous)]).astype(int)


def autoencoder() -> nn.Module:
    widths = [SIZE, 128, 64, 16, 4, 16, 64, 128, SIZE]
    layers: list[nn.Module] = []
    for inputs, outputs in itertools.pairwise(widths):
        layers += [nn.Linear(inputs, outputs), nn.LeakyReLU(0.2)]
    return nn.Sequential(*layers)


def histograms(residuals: np.ndarray, bins: int = 10) -> np.ndarray:
    return np.stack([np.histogram(row, bins=bins, range=(-0.3, 0.3))[0] for row in residuals])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--boxplots", type=Path, help="where the per-epoch boxplots go")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    boxplots = args.boxplots or Path(tempfile.mkdtemp(prefix="article-boxplots-"))
    boxplots.mkdir(parents=True, exist_ok=True)

    rng = np.random.RandomState(args.seed)
    torch.manual_seed(args.seed)
    x, y = curves(rng, 2000, 200)
    x_val, y_val = curves(rng, 100, 100)
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=0.2, shuffle=True, random_state=args.seed
    )

    reports = {}
    svm = OneClassSVM(nu=200 / 2200).fit(x_train)
    reports["one_class_svm"] = (svm.predict(x_val) == -1).astype(int)
    forest = IsolationForest(n_estimators=100, contamination=200 / 2200, max_features=100)
    reports["isolation_forest"] = (forest.fit(x_train).predict(x_val) == -1).astype(int)
    supervised = RandomForestClassifier(n_estimators=100, max_features=100).fit(x_train, y_train)
    reports["random_forest"] = supervised.predict(x_val)

    model = autoencoder()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-5)
    loss_fn = nn.MSELoss()
    normal_train = torch.from_numpy(x_train[y_train == 0])
    loader = DataLoader(TensorDataset(normal_train), batch_size=32, shuffle=True)
    test = torch.from_numpy(x_test)
    for epoch in range(args.epochs):
        model.train()
        for (batch,) in loader:
            optimizer.zero_grad()
            loss = loss_fn(model(batch), batch)
            loss.backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            errors = ((model(test) - test) ** 2).mean(dim=1).numpy()
        figure, axes = plt.subplots()
        axes.boxplot([errors[y_test == 0], errors[y_test == 1]], tick_labels=["normal", "anomaly"])
        axes.set_title(f"epoch {epoch + 1}")
        figure.savefig(boxplots / f"epoch_{epoch + 1:03d}.png")
        plt.close(figure)

    with torch.no_grad():
        residual_test = (test - model(test)).numpy()
        validation = torch.from_numpy(x_val)
        residual_val = (validation - model(validation)).numpy()
    difference = RandomForestClassifier(max_features=100).fit(residual_test, y_test)
    reports["difference_forest"] = difference.predict(residual_val)
    histogram = RandomForestClassifier(n_estimators=10).fit(histograms(residual_test), y_test)
    reports["histogram_forest"] = histogram.predict(histograms(residual_val))

    for name, predicted in reports.items():
        print(name, classification_report(y_val, predicted, digits=3, zero_division=0), sep="\n")
    print(f"article script: {time.perf_counter() - started:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
