"""How well the detector says where the anomaly is, measured against the known truth.

On the synthetic curves every anomaly is a second Gaussian bump of centre ``mu`` and width
``sigma`` (in points); its true window is ``[mu - 2 sigma, mu + 2 sigma]``, clipped to the
curve. A predicted window ``start..end`` (inclusive point indices) covers the interval
``[start - 0.5, end + 0.5]``. Over the validation anomalies:

- ``hit_rate``: the share whose true centre falls inside the predicted window;
- ``mean_iou``: the mean intersection over union of predicted and true windows;
- ``median_centre_error``: the median distance, in points, from ``anomaly_peak`` to ``mu``.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ae_anomaly.core.types import ANOMALY

#: What ``metrics/localisation.json`` says when the validation curves carry no truth.
NO_TRUTH = {
    "status": "no truth",
    "reason": "the validation curves carry no true anomaly locations (the synthetic "
    "generator records them; users' files do not)",
}


def true_windows(
    centre: np.ndarray, sigma: np.ndarray, curve_length: int
) -> tuple[np.ndarray, np.ndarray]:
    """``[mu - 2 sigma, mu + 2 sigma]``, clipped to the curve's extent."""
    low = np.clip(centre - 2 * sigma, -0.5, curve_length - 0.5)
    high = np.clip(centre + 2 * sigma, -0.5, curve_length - 0.5)
    return low, high


def localisation_metrics(
    locations: Mapping[str, np.ndarray],
    labels: np.ndarray,
    centre: np.ndarray | None,
    sigma: np.ndarray | None,
    curve_length: int,
) -> dict[str, object]:
    """The metrics of the module docstring over the anomalies whose truth is known, or
    :data:`NO_TRUTH`."""
    if centre is None or sigma is None or not locations:
        return dict(NO_TRUTH)
    known = (labels == ANOMALY) & np.isfinite(centre) & np.isfinite(sigma)
    if not known.any():
        return dict(NO_TRUTH)
    mu = centre[known]
    low_true, high_true = true_windows(mu, sigma[known], curve_length)
    low = locations["anomaly_start"][known] - 0.5
    high = locations["anomaly_end"][known] + 0.5
    intersection = np.clip(np.minimum(high, high_true) - np.maximum(low, low_true), 0, None)
    union = (high - low) + (high_true - low_true) - intersection
    return {
        "hit_rate": float(np.mean((mu >= low) & (mu <= high))),
        "mean_iou": float(np.mean(intersection / union)),
        "median_centre_error": float(np.median(np.abs(locations["anomaly_peak"][known] - mu))),
        "mean_window_points": float(np.mean(high - low)),
        "anomalies": int(known.sum()),
    }
