"""Figures for reviewers: per-epoch error boxplots, reconstructions, residual heat maps.

Matplotlib runs on the Agg backend (no display on CI or servers), and PNGs are written
without a software-version stamp so identical runs give identical bytes. Figures use fixed
margins instead of ``tight_layout``: measuring every tick label to lay out the axes costs
more than drawing them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
from matplotlib import cbook
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from PIL import Image

from ae_anomaly.core.storage import atomic_output

_PNG_METADATA = {"Software": None}


def _save(fig: Figure, path: str | Path, dpi: int = 100) -> Path:
    with atomic_output(path) as partial:
        fig.savefig(partial, dpi=dpi, metadata=_PNG_METADATA, format="png")
    return Path(path)


def epoch_file_name(epoch: int, total_epochs: int) -> str:
    """``epoch_007.png``: zero-padded so a file browser (and MLflow) sorts by epoch."""
    return f"epoch_{epoch:0{max(3, len(str(total_epochs)))}d}.png"


def epochs_to_plot(epochs_run: int, every_n_epochs: int) -> list[int]:
    """Every n-th epoch (1-based), always including the last one trained."""
    epochs = list(range(every_n_epochs, epochs_run + 1, every_n_epochs))
    if not epochs or epochs[-1] != epochs_run:
        epochs.append(epochs_run)
    return epochs


def save_error_boxplots(
    errors_per_epoch: np.ndarray,
    labels: np.ndarray,
    epochs: Sequence[int],
    out_dir: str | Path,
) -> list[Path]:
    """The article's per-epoch boxplot of reconstruction error, normal vs anomaly.

    Hundreds of these are drawn per run, so the figure (a shared log-scale y axis, so the
    images animate cleanly) is rendered once and kept as a background; each epoch only
    draws its boxes and title over a copy of it (matplotlib's blitting) and writes the
    pixels as a fast-compressed PNG, instead of re-laying-out every tick per image.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    positive = errors_per_epoch[errors_per_epoch > 0]
    limits = (positive.min() * 0.8, positive.max() * 1.25) if positive.size else (1e-6, 1.0)
    fig, ax = plt.subplots(figsize=(6, 4.5), dpi=100)
    ax.set_yscale("log")
    ax.set_ylim(*limits)
    ax.set_xlim(0.5, 2.5)
    ax.set_xticks([1, 2], ["normal", "anomaly"])
    ax.set_ylabel("reconstruction MSE per curve")
    fig.subplots_adjust(left=0.14, right=0.97, top=0.92, bottom=0.08)
    title = ax.set_title("")
    canvas = fig.canvas  # Agg: the pixels below are the ones written
    canvas.draw()
    background = canvas.copy_from_bbox(fig.bbox)
    groups = [labels == 0, labels == 1]
    paths = []
    for epoch in epochs:
        errors = errors_per_epoch[epoch - 1]
        stats = [
            cbook.boxplot_stats(errors[mask])[0] if mask.any() else _empty_box() for mask in groups
        ]
        canvas.restore_region(background)
        artists = [
            a
            for group in ax.bxp(stats, positions=[1, 2], widths=0.5, manage_ticks=False).values()
            for a in group
        ]
        title.set_text(f"test-set reconstruction error, epoch {epoch}/{len(errors_per_epoch)}")
        for artist in [*artists, title]:
            ax.draw_artist(artist)
        path = out_dir / epoch_file_name(epoch, len(errors_per_epoch))
        image = Image.frombuffer("RGBA", canvas.get_width_height(), canvas.buffer_rgba())
        with atomic_output(path) as partial:
            image.save(partial, format="png", compress_level=1)
        paths.append(path)
        for artist in artists:
            artist.remove()
    plt.close(fig)
    return paths


def _empty_box() -> dict[str, object]:
    return {
        "med": np.nan,
        "q1": np.nan,
        "q3": np.nan,
        "whislo": np.nan,
        "whishi": np.nan,
        "fliers": [],
    }


def error_distribution_over_epochs(
    errors_per_epoch: np.ndarray, labels: np.ndarray, path: str | Path
) -> Path:
    """Median and interquartile band of the error per class across epochs, in one picture."""
    epochs = np.arange(1, len(errors_per_epoch) + 1)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for label, name, color in ((0, "normal", "tab:blue"), (1, "anomaly", "tab:red")):
        errors = errors_per_epoch[:, labels == label]
        if errors.shape[1] == 0:
            continue
        q25, median, q75 = np.quantile(errors, [0.25, 0.5, 0.75], axis=1)
        ax.plot(epochs, median, color=color, label=f"{name} median")
        ax.fill_between(epochs, q25, q75, color=color, alpha=0.25, label=f"{name} IQR")
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("reconstruction MSE per curve")
    ax.set_title("test-set reconstruction error over training")
    ax.legend()
    fig.subplots_adjust(left=0.11, right=0.97, top=0.93, bottom=0.11)
    path = _save(fig, path)
    plt.close(fig)
    return path


def loss_curves(
    train_loss: Sequence[float], holdout_loss: Sequence[float], path: str | Path
) -> Path:
    epochs = np.arange(1, len(train_loss) + 1)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.plot(epochs, train_loss, label="train (normal curves)")
    ax.plot(epochs, holdout_loss, label="held-out normal curves")
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("MSE")
    ax.legend()
    fig.subplots_adjust(left=0.11, right=0.97, top=0.95, bottom=0.11)
    path = _save(fig, path)
    plt.close(fig)
    return path


def training_figures(
    figures_dir: str | Path,
    train_loss: Sequence[float],
    holdout_loss: Sequence[float],
    errors_per_epoch: np.ndarray,
    labels: np.ndarray,
) -> list[Path]:
    """Loss curves and the error distributions over all epochs, drawn by ``train_ae`` (which
    owns the data) so that a change further down the pipeline does not redraw them."""
    figures_dir = Path(figures_dir)
    return [
        loss_curves(train_loss, holdout_loss, figures_dir / "ae_loss.png"),
        error_distribution_over_epochs(
            errors_per_epoch, labels, figures_dir / "error_distribution_over_epochs.png"
        ),
    ]


def example_reconstructions(
    x: np.ndarray, reconstruction: np.ndarray, y: np.ndarray, count: int, path: str | Path
) -> Path:
    """First ``count`` normal and anomalous validation curves with their reconstructions."""
    grid = np.linspace(0, 1, x.shape[1])
    fig, axes = plt.subplots(2, count, figsize=(3.2 * count, 5.5), squeeze=False, sharey=True)
    for row, (label, name) in enumerate(((0, "normal"), (1, "anomaly"))):
        indices = np.flatnonzero(y == label)[:count]
        for column in range(count):
            ax = axes[row, column]
            if column >= len(indices):
                ax.axis("off")
                continue
            ax.plot(grid, x[indices[column]], label="curve")
            ax.plot(grid, reconstruction[indices[column]], "--", label="reconstruction")
            ax.set_title(f"{name} #{indices[column]}")
    axes[0, 0].legend(loc="upper right", fontsize="small")
    fig.subplots_adjust(left=0.06, right=0.98, top=0.94, bottom=0.06, hspace=0.3)
    path = _save(fig, path)
    plt.close(fig)
    return path


def residual_heatmaps(
    residuals: np.ndarray, y: np.ndarray, predictions: np.ndarray, max_rows: int, path: str | Path
) -> Path:
    """The article's three heat maps of difference scores: missed anomalies, detected
    anomalies, and correctly passed normal curves (colour clipped to [0, 1] as it does)."""
    groups = {
        "missed anomalies": (y == 1) & (predictions == 0),
        "detected anomalies": (y == 1) & (predictions == 1),
        "correct normals": (y == 0) & (predictions == 0),
    }
    fig, axes = plt.subplots(1, 3, figsize=(14, 4.5))
    norm = Normalize(0, max(float(np.quantile(np.abs(residuals), 0.999)), 1e-6), clip=True)
    for ax, (title, mask) in zip(axes, groups.items(), strict=True):
        rows = residuals[mask][:max_rows]
        if len(rows):
            image = ax.imshow(rows, aspect="auto", norm=norm, interpolation="nearest")
        ax.set_title(f"{title} ({int(mask.sum())})")
        ax.set_xlabel("point")
    axes[0].set_ylabel("curve")
    if any(mask.any() for mask in groups.values()):
        fig.colorbar(image, ax=axes, shrink=0.8, label="x - reconstruction")
    path = _save(fig, path)
    plt.close(fig)
    return path


def mean_histograms(
    histograms: np.ndarray, y: np.ndarray, value_range: tuple[float, float], path: str | Path
) -> Path:
    """Average residual histogram of normal vs anomalous curves: the article's extra 'wing'."""
    bins = histograms.shape[1]
    edges = np.linspace(*value_range, bins + 1)
    centres, width = (edges[:-1] + edges[1:]) / 2, (edges[1] - edges[0])
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    for ax, label, name in ((axes[0], 0, "normal"), (axes[1], 1, "anomaly")):
        rows = histograms[y == label]
        if len(rows):
            ax.bar(centres, rows.mean(axis=0), width=width * 0.9)
        ax.set_yscale("symlog")
        ax.set_title(f"mean residual histogram: {name}")
        ax.set_xlabel("residual bin")
    axes[0].set_ylabel("points per curve")
    fig.subplots_adjust(left=0.08, right=0.98, top=0.91, bottom=0.13, wspace=0.06)
    path = _save(fig, path)
    plt.close(fig)
    return path


def roc_pr_figure(
    roc: Mapping[str, Mapping[str, np.ndarray]],
    pr: Mapping[str, Mapping[str, np.ndarray]],
    path: str | Path,
) -> Path:
    fig, (ax_roc, ax_pr) = plt.subplots(1, 2, figsize=(12, 5))
    for model, points in roc.items():
        ax_roc.plot(points["fpr"], points["tpr"], label=model)
    ax_roc.plot([0, 1], [0, 1], ":", color="grey")
    ax_roc.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC (validation)")
    for model, points in pr.items():
        ax_pr.plot(points["recall"], points["precision"], label=model)
    ax_pr.set(xlabel="recall", ylabel="precision", title="precision-recall (validation)")
    ax_roc.legend(fontsize="small")
    fig.subplots_adjust(left=0.06, right=0.98, top=0.93, bottom=0.11, wspace=0.2)
    path = _save(fig, path)
    plt.close(fig)
    return path


def confusion_matrices(confusions: Mapping[str, np.ndarray], path: str | Path) -> Path:
    fig, axes = plt.subplots(1, len(confusions), figsize=(3 * len(confusions), 3.2), squeeze=False)
    for ax, (model, matrix) in zip(axes[0], confusions.items(), strict=True):
        ax.imshow(matrix, cmap="Blues")
        for (row, column), count in np.ndenumerate(matrix):
            ax.text(column, row, str(count), ha="center", va="center")
        ax.set_xticks([0, 1], ["normal", "anomaly"])
        ax.set_yticks([0, 1], ["normal", "anomaly"])
        ax.set(title=model, xlabel="predicted", ylabel="actual")
    fig.subplots_adjust(left=0.07, right=0.99, top=0.88, bottom=0.2, wspace=0.75)
    path = _save(fig, path)
    plt.close(fig)
    return path


def located_anomalies(
    x: np.ndarray,
    reconstruction: np.ndarray,
    locations: Mapping[str, np.ndarray],
    rows: Sequence[int],
    path: str | Path,
    titles: Sequence[str] | None = None,
    truth: tuple[np.ndarray, np.ndarray] | None = None,
) -> Path:
    """Curves ``rows`` with their reconstructions and the predicted anomaly window shaded
    (its peak marked); with ``truth`` (each curve's true centre and sigma, in points) the
    true window ``[mu - 2 sigma, mu + 2 sigma]`` is outlined beside it. Points on the x axis,
    so the window reads as the indices the scores give."""
    count = max(len(rows), 1)
    columns = min(count, 4)
    lines = -(-count // columns)
    fig, axes = plt.subplots(
        lines, columns, figsize=(3.6 * columns, 2.8 * lines), squeeze=False, sharex=True
    )
    points = np.arange(x.shape[1])
    for ax in axes.flat[len(rows) :]:
        ax.axis("off")
    for panel, (ax, row) in enumerate(zip(axes.flat, rows, strict=False)):
        start, end = int(locations["anomaly_start"][row]), int(locations["anomaly_end"][row])
        ax.axvspan(start - 0.5, end + 0.5, color="tab:red", alpha=0.18, label="predicted window")
        ax.axvline(int(locations["anomaly_peak"][row]), color="tab:red", lw=0.8)
        if truth is not None and np.isfinite(truth[0][row]):
            centre, sigma = float(truth[0][row]), float(truth[1][row])
            ax.axvspan(
                centre - 2 * sigma,
                centre + 2 * sigma,
                fill=False,
                edgecolor="tab:green",
                hatch="//",
                lw=1.0,
                label="true window",
            )
        ax.plot(points, x[row], lw=1.0, label="curve")
        ax.plot(points, reconstruction[row], "--", lw=1.0, label="reconstruction")
        ax.set_title(titles[panel] if titles else f"curve {row + 1}", fontsize="small")
    axes.flat[0].legend(loc="upper right", fontsize="x-small")
    for ax in axes[-1]:
        ax.set_xlabel("point")
    fig.subplots_adjust(left=0.05, right=0.98, top=0.92, bottom=0.1, hspace=0.45, wspace=0.2)
    path = _save(fig, path)
    plt.close(fig)
    return path
