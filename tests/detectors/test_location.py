"""The anomaly locator: a window and a peak on every curve, from what normal residuals
look like at each point, and the same answer after packing."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ae_anomaly.detectors.location import AnomalyLocator


def _gaussian(points: int, centre: float, sigma: float, height: float) -> np.ndarray:
    grid = np.arange(points)
    return height * np.exp(-((grid - centre) ** 2) / (2 * sigma**2))


@pytest.fixture
def normal_residuals() -> np.ndarray:
    rng = np.random.default_rng(0)
    noise = rng.normal(0, 0.01, size=(200, 128))
    noise[:, 40:60] *= 3  # a stretch normal curves are always reconstructed worse on
    return noise


def test_a_bump_is_located_at_plus_minus_two_sigma(normal_residuals):
    locator = AnomalyLocator().fit(normal_residuals)
    bumps = np.stack([_gaussian(128, c, 4.0, 0.5) for c in (20.0, 70.0, 100.0)])
    located = locator.locate(bumps)
    # Each position's mean and spread are estimated from 200 curves: a point either way.
    np.testing.assert_allclose(located.peak, [20, 70, 100], atol=1)
    np.testing.assert_allclose(located.start, [12, 62, 92], atol=1)
    np.testing.assert_allclose(located.end, [28, 78, 108], atol=1)


def test_positions_noisy_in_normal_curves_count_for_less(normal_residuals):
    """The same residual value stands out less where normal residuals vary more."""
    locator = AnomalyLocator().fit(normal_residuals)
    row = np.zeros((1, 128))
    row[0, 50], row[0, 90] = 0.05, 0.04
    assert locator.locate(row).peak[0] == 90


def test_windows_stop_at_the_curve_ends(normal_residuals):
    locator = AnomalyLocator().fit(normal_residuals)
    located = locator.locate(_gaussian(128, 0.0, 5.0, 1.0)[None])
    assert located.start[0] == 0 and located.peak[0] <= 1 and 8 <= located.end[0] <= 11


def test_the_map_is_higher_where_more_anomalous_and_one_value_per_point(normal_residuals):
    locator = AnomalyLocator().fit(normal_residuals)
    bump = _gaussian(128, 30.0, 3.0, 0.3)[None]
    anomaly_map = locator.anomaly_map(bump)
    assert anomaly_map.shape == (1, 128) and anomaly_map.argmax() == 30
    assert anomaly_map[0, 30] > 10 * np.median(locator.anomaly_map(normal_residuals))


def test_the_packed_locator_locates_identically(normal_residuals):
    locator = AnomalyLocator(window_level=0.3).fit(normal_residuals)
    entry = json.loads(json.dumps(locator.pack()))
    unpacked = AnomalyLocator.unpack(entry)
    rows = normal_residuals[:20] + _gaussian(128, 64, 2, 0.2)
    for name in ("start", "end", "peak"):
        np.testing.assert_array_equal(
            getattr(unpacked.locate(rows), name), getattr(locator.locate(rows), name)
        )
    assert unpacked.window_level == 0.3


def test_bad_input_is_refused_with_the_expected_length(normal_residuals):
    locator = AnomalyLocator().fit(normal_residuals)
    with pytest.raises(ValueError, match="128 points"):
        locator.anomaly_map(np.zeros((2, 64)))
    with pytest.raises(ValueError, match="window_level"):
        AnomalyLocator(window_level=1.5).fit(normal_residuals)
