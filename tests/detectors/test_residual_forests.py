import numpy as np
import pytest

from ae_anomaly.detectors.forest import ForestDetector
from ae_anomaly.detectors.residual_forests import DifferenceForest, HistogramForest
from ae_anomaly.features.residuals import row_histograms


@pytest.fixture
def bumps():
    """Residual rows: noise for normal curves, plus a narrow bump somewhere for anomalies."""
    rng = np.random.default_rng(0)
    residuals = rng.normal(0, 0.01, size=(120, 32))
    y = np.r_[np.zeros(100, int), np.ones(20, int)]
    for row, position in zip(range(100, 120), rng.integers(2, 30, size=20), strict=True):
        residuals[row, position - 1 : position + 2] += [0.05, 0.12, 0.05]
    return residuals, y


def test_histogram_forest_learns_its_range_and_exposes_its_features(bumps):
    residuals, y = bumps
    fixed = HistogramForest(bins=4, value_range=(-0.5, 0.5)).fit(residuals, y)
    assert fixed.value_range_ == (-0.5, 0.5)
    learned = HistogramForest(bins=6, value_range=None, residual="absolute").fit(residuals, y)
    assert learned.value_range_ == pytest.approx((0.0, np.abs(residuals).max()))
    features = learned.histograms(residuals)
    np.testing.assert_array_equal(
        features, row_histograms(np.abs(residuals), 6, learned.value_range_)
    )
    assert features.sum(axis=1).tolist() == [32] * len(residuals)


def test_residual_forests_are_the_forest_on_their_features(bumps):
    residuals, y = bumps
    settings = {"n_estimators": 20, "random_state": 0, "class_weight": "balanced"}
    histogram = HistogramForest(bins=8, value_range=None, residual="absolute", **settings)
    histogram.fit(residuals, y)
    forest = ForestDetector(**settings).fit(histogram.histograms(residuals), y)
    np.testing.assert_array_equal(
        histogram.decision_function(residuals),
        forest.decision_function(histogram.histograms(residuals)),
    )
    difference = DifferenceForest(residual="squared", **settings).fit(residuals, y)
    plain = ForestDetector(**settings).fit(np.square(residuals), y)
    np.testing.assert_array_equal(
        difference.predict(residuals), plain.predict(np.square(residuals))
    )
    assert difference.threshold_ == plain.threshold_


def test_histogram_forest_finds_bumps_wherever_they_are(bumps):
    residuals, y = bumps
    detector = HistogramForest(bins=10, value_range=None, residual="absolute", random_state=0)
    detector.fit(residuals[::2], y[::2])
    held_out = detector.decision_function(residuals[1::2])
    assert held_out[y[1::2] == 1].min() > held_out[y[1::2] == 0].max()
