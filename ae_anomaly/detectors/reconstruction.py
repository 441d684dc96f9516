"""The plain autoencoder detector: flag a curve whose reconstruction error is too large."""

from __future__ import annotations

from typing import Self

import numpy as np
from sklearn.utils.validation import check_is_fitted, validate_data

from ae_anomaly.detectors.base import AnomalyDetector
from ae_anomaly.features.residuals import ErrorKind, reconstruction_errors


class ReconstructionThresholdDetector(AnomalyDetector):
    """Score = one error per residual row (``mse`` or ``max_abs``); the cut is the ``quantile``
    of the errors of *normal* rows seen in ``fit`` times ``margin``: no anomaly label is used.
    """

    def __init__(self, error: ErrorKind = "mse", quantile: float = 0.99, margin: float = 1.0):
        self.error = error
        self.quantile = quantile
        self.margin = margin

    def fit(self, X: np.ndarray, y: np.ndarray | None = None) -> Self:
        X = validate_data(self, X)
        self.threshold_ = float(np.quantile(reconstruction_errors(X, self.error), self.quantile))
        self.threshold_ *= self.margin
        return self

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        check_is_fitted(self)
        return reconstruction_errors(validate_data(self, X, reset=False), self.error)
