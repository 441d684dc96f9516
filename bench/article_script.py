"""The article's experiment as one plain script: the yardstick of ``make bench-speed``.

What the article's notebook does, start to finish, in one process and without any of this
project's machinery (no DVC, no MLflow, no caching), each step as the article writes it
(``../shared/reference``): generate 2000 normal + 200 anomalous curves and a 100 + 100
validation set, split 80/20, fit One-Class SVM, Isolation Forest and a Random Forest on raw
curves and print their reports; train the article's autoencoder for 100 epochs (batch 32,
Adam, a shuffling ``DataLoader``, the loss summed with ``loss.item()`` and printed per epoch),
saving after every epoch, and once before training, the article's boxplot of per-curve error
on the test split (``save_score_distribution``: through the test ``DataLoader``, an 8 x 6 inch
``.jpg``); then its figures (reconstructions of a normal and an anomalous test curve and of a
missed anomaly, the three heat maps of difference scores, the normal and anomalous
histograms), the difference forest and the histogram forest, and their reports. Figures the
notebook shows inline are saved as PNG. It imports nothing from ``ae_anomaly``: it is the
baseline a user would otherwise write.

    python -m bench.article_script [--epochs 100] [--seed 42] [--figures DIR]
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
from matplotlib.colors import Normalize
from sklearn.ensemble import IsolationForest, RandomForestClassifier
from sklearn.metrics import classification_report
from sklearn.model_selection import train_test_split
from sklearn.svm import OneClassSVM
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

BATCH_SIZE = 32
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


def loader(x: np.ndarray, *columns: np.ndarray) -> DataLoader:
    tensors = [torch.from_numpy(x), *(torch.from_numpy(c) for c in columns)]
    return DataLoader(TensorDataset(*tensors), batch_size=BATCH_SIZE, shuffle=False)


def save_score_distribution(
    model: nn.Module, test_loader: DataLoader, save_to: Path, figsize=(8, 6)
) -> None:
    """The article's per-epoch figure: per-curve MSE on the test split, normal vs anomaly."""
    per_sample = nn.MSELoss(reduction="none")
    losses, labels = [], []
    for x_batch, y_batch in test_loader:
        loss = torch.mean(per_sample(model(x_batch), x_batch), dim=1)
        losses.append(loss.detach().numpy().flatten())
        labels.append(y_batch.numpy().flatten())
    errors, classes = np.concatenate(losses), np.concatenate(labels)
    fig, ax = plt.subplots(1, figsize=figsize)
    ax.boxplot([errors[classes == 0], errors[classes == 1]])
    ax.set_xticklabels(["normal", "anomaly"])
    plt.savefig(save_to)
    plt.close(fig)


def predict(model: nn.Module, x: np.ndarray) -> np.ndarray:
    """The article's ``get_prediction``: reconstructions batch by batch."""
    return np.concatenate([model(batch).detach().numpy() for (batch,) in loader(x)])


def compare_data(xs: Sequence[np.ndarray], sample: int, save_to: Path, labels=None) -> None:
    fig, axes = plt.subplots(len(xs))
    for index, x in enumerate(xs):
        axes[index].plot(np.linspace(0, 1, x.shape[1]), x[sample])
        if labels:
            axes[index].set_ylabel(labels[index])
    plt.savefig(save_to)
    plt.close(fig)


def heatmap(scores: np.ndarray, save_to: Path) -> None:
    if not len(scores):  # no such curves: nothing to draw
        return
    fig = plt.figure()
    plt.imshow(scores, norm=Normalize(0, 1, clip=True))
    plt.savefig(save_to)
    plt.close(fig)


def bars(title: str, histogram: np.ndarray, save_to: Path) -> None:
    fig = plt.figure()
    plt.title(title)
    plt.bar(np.linspace(-0.3, 0.3, 10), histogram)
    plt.savefig(save_to)
    plt.close(fig)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--figures", type=Path, help="where the figures go")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    figures = args.figures or Path(tempfile.mkdtemp(prefix="article-figures-"))
    figures.mkdir(parents=True, exist_ok=True)

    rng = np.random.RandomState(args.seed)
    torch.manual_seed(args.seed)
    x, y = curves(rng, 2000, 200)
    x_val, y_val = curves(rng, 100, 100)
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=0.2, shuffle=True, random_state=args.seed
    )

    svm = OneClassSVM(nu=200 / 2200).fit(x_train)
    print(classification_report(y_val, (svm.predict(x_val) == -1).astype(int), zero_division=0))
    forest = IsolationForest(n_estimators=100, contamination=200 / 2200, max_features=100)
    isolated = (forest.fit(x_train).predict(x_val) == -1).astype(int)
    print(classification_report(y_val, isolated, zero_division=0))
    supervised = RandomForestClassifier(n_estimators=100, max_features=100).fit(x_train, y_train)
    print(classification_report(y_val, supervised.predict(x_val), zero_division=0))

    model = autoencoder()
    criterion = nn.MSELoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-5)
    train_loader = DataLoader(
        TensorDataset(torch.from_numpy(x_train[y_train == 0])), batch_size=BATCH_SIZE, shuffle=True
    )
    test_loader = loader(x_test, y_test)
    save_score_distribution(model, test_loader, figures / "untrained.jpg")
    for epoch in range(args.epochs):
        running_loss = 0.0
        for (batch,) in train_loader:
            loss = criterion(model(batch), batch)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            running_loss += loss.item()
        print(f"epoch [{epoch + 1}/{args.epochs}], train loss:{running_loss:.4f}")
        save_score_distribution(model, test_loader, figures / f"{epoch + 1}.jpg")

    reconstructed_test = predict(model, x_test)
    normal_pair = [x_test[y_test == 0], reconstructed_test[y_test == 0]]
    compare_data(normal_pair, 10, figures / "normal.png", labels=["real", "encoded"])
    compare_data(
        [x_test[y_test == 1], reconstructed_test[y_test == 1]], 10, figures / "anomaly.png"
    )
    test_score = x_test - reconstructed_test
    reconstructed_val = predict(model, x_val)
    val_score = x_val - reconstructed_val
    difference = RandomForestClassifier(max_features=100).fit(test_score, y_test)
    prediction = difference.predict(val_score)
    print(classification_report(y_val, prediction, zero_division=0))
    missed = np.flatnonzero((prediction == 0) & (y_val == 1))
    if missed.size:
        compare_data([x_val, reconstructed_val], missed[0], figures / "missed.png")
    heatmap(val_score[missed], figures / "missed_scores.png")
    heatmap(val_score[(prediction == 1) & (y_val == 1)], figures / "detected_scores.png")
    heatmap(val_score[(prediction == 0) & (y_val == 0)], figures / "normal_scores.png")

    print(f"test score: [{test_score.min()}; {test_score.max()}]")
    test_histogram, val_histogram = histograms(test_score), histograms(val_score)
    bars("normal histogram", test_histogram[y_test == 0][0], figures / "normal_histogram.png")
    bars("anomaly histogram", test_histogram[y_test == 1][0], figures / "anomaly_histogram.png")
    histogram = RandomForestClassifier(n_estimators=10).fit(test_histogram, y_test)
    print(classification_report(y_val, histogram.predict(val_histogram), zero_division=0))
    print(f"article script: {time.perf_counter() - started:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
