"""Figures: what is drawn (axes, titles, lines, colours), the picture's size, and that it is
not blank, captured from the live matplotlib figure as it is saved."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ae_anomaly.report import figures

TAB_BLUE, TAB_RED = (31, 119, 180), (214, 39, 40)


@pytest.fixture
def drawn(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[dict]]:
    """Each saved figure's axes, by file name: title, labels, scales, lines, bars, images."""
    captured: dict[str, list[dict]] = {}
    save = figures._save

    def recording_save(fig, path, dpi=100):
        captured[Path(path).name] = [
            {
                "title": ax.get_title(),
                "xlabel": ax.get_xlabel(),
                "ylabel": ax.get_ylabel(),
                "yscale": ax.get_yscale(),
                "lines": len(ax.get_lines()),
                "bars": len(ax.patches),
                "images": len(ax.get_images()),
                "legend": [t.get_text() for t in ax.get_legend().get_texts()]
                if ax.get_legend()
                else [],
            }
            for ax in fig.axes
        ]
        return save(fig, path, dpi)

    monkeypatch.setattr(figures, "_save", recording_save)
    return captured


def _pixels(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


def _has_colour(pixels: np.ndarray, colour: tuple[int, int, int], tolerance: int = 30) -> bool:
    return bool((np.abs(pixels.astype(int) - colour).max(axis=2) < tolerance).any())


def _not_blank(pixels: np.ndarray) -> bool:
    """Drawn on: at least 1 % of the pixels are not the white background."""
    return float((pixels < 250).any(axis=2).mean()) > 0.01


@pytest.fixture
def validation():
    rng = np.random.default_rng(0)
    x = rng.uniform(size=(10, 32))
    y = np.r_[np.zeros(5, int), np.ones(5, int)]
    return x, y, rng.normal(0, 0.05, size=x.shape)


def test_boxplots_one_png_per_epoch_sorted_reproducible_and_drawn(tmp_path):
    rng = np.random.default_rng(0)
    errors = rng.uniform(0.001, 0.1, size=(12, 30))
    labels = np.r_[np.zeros(25, int), np.ones(5, int)]
    epochs = figures.epochs_to_plot(12, 5)
    assert epochs == [5, 10, 12]
    paths = figures.save_error_boxplots(errors, labels, epochs, tmp_path / "a")
    assert [p.name for p in paths] == ["epoch_005.png", "epoch_010.png", "epoch_012.png"]
    again = figures.save_error_boxplots(errors, labels, epochs, tmp_path / "b")
    assert paths[0].read_bytes() == again[0].read_bytes()
    first, last = _pixels(paths[0]), _pixels(paths[-1])
    assert first.shape == (450, 600, 3) and _not_blank(first)
    assert not np.array_equal(first, last)  # each epoch draws its own boxes


def test_loss_and_error_distribution_figures(tmp_path, drawn):
    y = np.r_[np.zeros(3, int), np.ones(2, int)]
    errors = np.random.default_rng(0).uniform(0.01, 1, size=(3, 5))
    paths = figures.training_figures(tmp_path, [0.3, 0.2, 0.1], [0.4, 0.3, 0.2], errors, y)
    assert [p.name for p in paths] == ["ae_loss.png", "error_distribution_over_epochs.png"]
    (loss,) = drawn["ae_loss.png"]
    assert loss["lines"] == 2 and loss["yscale"] == "log" and loss["xlabel"] == "epoch"
    (distribution,) = drawn["error_distribution_over_epochs.png"]
    assert distribution["legend"] == [
        "normal median",
        "normal IQR",
        "anomaly median",
        "anomaly IQR",
    ]
    pixels = _pixels(paths[1])
    assert pixels.shape == (450, 700, 3)
    assert _has_colour(pixels, TAB_BLUE) and _has_colour(pixels, TAB_RED)


def test_reconstructions_show_curve_and_reconstruction_per_panel(tmp_path, drawn, validation):
    x, y, residual = validation
    path = figures.example_reconstructions(x, x - residual, y, 3, tmp_path / "r.png")
    axes = drawn["r.png"]
    assert len(axes) == 6
    assert [ax["title"] for ax in axes] == [
        "normal #0", "normal #1", "normal #2", "anomaly #5", "anomaly #6", "anomaly #7",
    ]  # fmt: skip
    assert all(ax["lines"] == 2 for ax in axes)
    assert _not_blank(_pixels(path))


def test_residual_heatmaps_split_curves_by_verdict(tmp_path, drawn, validation):
    _, y, residual = validation
    predictions = np.r_[np.zeros(7, int), np.ones(3, int)]
    figures.residual_heatmaps(residual, y, predictions, 4, tmp_path / "h.png")
    panels = drawn["h.png"][:3]  # then the colour bar
    assert [p["title"] for p in panels] == [
        "missed anomalies (2)", "detected anomalies (3)", "correct normals (5)",
    ]  # fmt: skip
    assert all(p["images"] == 1 for p in panels)


def test_mean_histograms_and_roc_pr_and_confusion(tmp_path, drawn, validation):
    _, y, _ = validation
    histograms = np.random.default_rng(0).integers(0, 5, size=(10, 6))
    figures.mean_histograms(histograms, y, (-0.3, 0.3), tmp_path / "m.png")
    assert [ax["bars"] for ax in drawn["m.png"]] == [6, 6]
    roc = {"a": {"fpr": np.array([0, 1]), "tpr": np.array([0, 1])}}
    pr = {"a": {"recall": np.array([0, 1]), "precision": np.array([1, 0.5])}}
    figures.roc_pr_figure(roc, pr, tmp_path / "roc.png")
    assert [ax["title"] for ax in drawn["roc.png"]] == [
        "ROC (validation)",
        "precision-recall (validation)",
    ]
    path = figures.confusion_matrices({"m": np.array([[3, 1], [0, 4]])}, tmp_path / "c.png")
    (confusion,) = drawn["c.png"]
    assert confusion["title"] == "m" and confusion["images"] == 1
    assert _not_blank(_pixels(path))
