import numpy as np
from PIL import Image

from ae_anomaly import plotting


def test_boxplots_one_png_per_epoch_sorted_and_reproducible(tmp_path):
    rng = np.random.default_rng(0)
    errors = rng.uniform(0.001, 0.1, size=(12, 30))
    labels = np.r_[np.zeros(25, int), np.ones(5, int)]
    epochs = plotting.epochs_to_plot(12, 5)
    assert epochs == [5, 10, 12]
    paths = plotting.save_error_boxplots(errors, labels, epochs, tmp_path / "a")
    assert [p.name for p in paths] == ["epoch_005.png", "epoch_010.png", "epoch_012.png"]
    again = plotting.save_error_boxplots(errors, labels, epochs, tmp_path / "b")
    assert paths[0].read_bytes() == again[0].read_bytes()
    assert Image.open(paths[0]).size[0] > 300


def test_figures_render(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.uniform(size=(10, 32))
    y = np.r_[np.zeros(5, int), np.ones(5, int)]
    residual = rng.normal(0, 0.05, size=x.shape)
    predictions = np.r_[np.zeros(7, int), np.ones(3, int)]
    made = [
        plotting.example_reconstructions(x, x - residual, y, 3, tmp_path / "r.png"),
        plotting.residual_heatmaps(residual, y, predictions, 4, tmp_path / "h.png"),
        plotting.mean_histograms(
            rng.integers(0, 5, size=(10, 6)), y, (-0.3, 0.3), tmp_path / "m.png"
        ),
        *plotting.training_figures(
            tmp_path / "training", [1.0, 0.5], [1.1, 0.6], rng.uniform(0.01, 1, size=(2, 10)), y
        ),
        plotting.confusion_matrices({"m": np.array([[3, 1], [0, 4]])}, tmp_path / "c.png"),
    ]
    assert all(path.stat().st_size > 1000 for path in made)


def test_training_figures_are_named_for_the_report(tmp_path):
    y = np.r_[np.zeros(3, int), np.ones(2, int)]
    errors = np.random.default_rng(0).uniform(0.01, 1, size=(3, 5))
    paths = plotting.training_figures(tmp_path, [0.3, 0.2, 0.1], [0.4, 0.3, 0.2], errors, y)
    assert [p.name for p in paths] == ["ae_loss.png", "error_distribution_over_epochs.png"]
