"""Shared fixtures: validated default params and small synthetic datasets."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from ae_anomaly.core.params import Params, load_params
from ae_anomaly.core.types import Dataset
from ae_anomaly.deploy.folder import pack_detector
from ae_anomaly.detectors.location import AnomalyLocator
from ae_anomaly.detectors.reconstruction import ReconstructionThresholdDetector
from ae_anomaly.detectors.residual_forests import DifferenceForest, HistogramForest
from ae_anomaly.features.preprocessing import normalize_curves
from ae_anomaly.features.residuals import residuals
from ae_anomaly.networks.base import reconstruct
from ae_anomaly.networks.checkpoint import save_network
from ae_anomaly.networks.mlp import MLPAutoencoder, MLPConfig
from ae_anomaly.pipeline.wiring import bump_curves

REPO_ROOT = Path(__file__).resolve().parents[1]
DETECTOR_CURVE_LENGTH = 48


@pytest.fixture(autouse=True)
def restore_root_logging() -> Iterator[None]:
    """Undo the logging set-up of a stage or CLI ``main`` called in-process.

    ``configure_logging`` binds a root handler to the ``sys.stderr`` of the moment, which in
    a test is pytest's capture stream; that stream is closed when the test ends, and every
    later log record would then print "--- Logging error --- I/O operation on closed file"
    into whichever test logs next.
    """
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    for handler in root.handlers[:]:
        if handler not in handlers:  # pytest's own capture handlers come and go by themselves
            root.removeHandler(handler)
            handler.close()
    root.setLevel(level)


@pytest.fixture(scope="session")
def default_params() -> Params:
    return load_params(REPO_ROOT / "params.yaml")


@pytest.fixture
def small_dataset(default_params: Params) -> Dataset:
    """80 normal + 20 anomalous curves of 64 points."""
    generate = default_params.generate.synthetic.model_copy(update={"sample_size": 64})
    return bump_curves(generate).dataset(80, 20, np.random.default_rng(0))


@pytest.fixture(scope="session")
def fitted(tmp_path_factory: pytest.TempPathFactory):
    """A small network (untrained: its residuals still separate bumps) and detectors fitted
    on its residuals of labelled curves, as the detector stage fits them."""
    folder = tmp_path_factory.mktemp("detector")
    torch.manual_seed(0)
    network = MLPAutoencoder(
        MLPConfig(DETECTOR_CURVE_LENGTH, (16,), 3, "leaky_relu", 0.2, "identity")
    )
    save_network(folder / "ae.pt", network)
    rng = np.random.default_rng(0)
    x = rng.normal(0, 1, size=(160, DETECTOR_CURVE_LENGTH)).astype(np.float32)
    y = np.r_[np.zeros(120, int), np.ones(40, int)]
    x[y == 1, 20:24] += 4.0
    curves = normalize_curves(x, "zscore")
    values = residuals(curves, reconstruct(network, curves, torch.device("cpu"), 64))
    threshold = ReconstructionThresholdDetector("max_abs", 0.95).fit(values[y == 0])
    settings = {"n_estimators": 30, "class_weight": "balanced", "random_state": 0}
    histogram = HistogramForest(
        bins=12, value_range=None, residual="absolute", decision_threshold="tuned", **settings
    ).fit(values, y)
    difference = DifferenceForest(residual="absolute", **settings).fit(values, y)
    locator = AnomalyLocator().fit(values[y == 0])
    new = rng.normal(0, 1, size=(50, DETECTOR_CURVE_LENGTH)).astype(np.float32)
    new[:10, 5:9] += 4.0
    return folder, network, threshold, histogram, difference, locator, new


@pytest.fixture(scope="session")
def detector_folder(fitted, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``fitted`` packed into a detector folder, as the detector stage writes it."""
    folder, _, threshold, histogram, difference, locator, _ = fitted
    return pack_detector(
        tmp_path_factory.mktemp("packed") / "detector",
        folder / "ae.pt",
        DETECTOR_CURVE_LENGTH,
        "zscore",
        {"ae_threshold": threshold, "difference_forest": difference, "histogram_forest": histogram},
        batch_size=64,
        locator=locator,
    )
