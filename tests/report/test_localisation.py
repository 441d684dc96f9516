"""Localisation metrics against the synthetic truth."""

from __future__ import annotations

import numpy as np

from ae_anomaly.report.localisation import NO_TRUTH, localisation_metrics


def _locations(start, end, peak) -> dict[str, np.ndarray]:
    return {
        "anomaly_start": np.asarray(start),
        "anomaly_end": np.asarray(end),
        "anomaly_peak": np.asarray(peak),
    }


def test_hit_rate_iou_and_centre_error_over_the_anomalies_only():
    labels = np.array([0, 1, 1])
    centre = np.array([np.nan, 19.5, 50.0])
    sigma = np.array([np.nan, 2.5, 2.5])  # true windows [14.5, 24.5] and [45, 55]
    # The first anomaly's window matches its truth; the second one's misses it.
    located = _locations([0, 15, 70], [100, 24, 79], [5, 20, 75])
    metrics = localisation_metrics(located, labels, centre, sigma, curve_length=100)
    assert metrics["anomalies"] == 2
    assert metrics["hit_rate"] == 0.5
    assert metrics["mean_iou"] == (1.0 + 0.0) / 2
    assert metrics["median_centre_error"] == (0.5 + 25.0) / 2


def test_true_windows_are_clipped_to_the_curve():
    located = _locations([0], [5], [0])
    metrics = localisation_metrics(located, np.array([1]), np.array([0.0]), np.array([2.75]), 100)
    assert metrics["mean_iou"] == 1.0  # [-5.5, 5.5] clipped to [-0.5, 5.5], the window


def test_without_truth_the_metrics_say_so():
    located = _locations([0], [1], [0])
    assert localisation_metrics(located, np.array([1]), None, None, 10) == NO_TRUTH
