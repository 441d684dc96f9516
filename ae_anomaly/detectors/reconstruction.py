"""The plain autoencoder detector: flag a curve whose reconstruction error is too large."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

import numpy as np
from sklearn.utils.validation import check_is_fitted, validate_data

from ae_anomaly.core.params import AEThresholdParams
from ae_anomaly.core.types import Predictions
from ae_anomaly.detectors.residual import ResidualDetector
from ae_anomaly.features.residuals import ErrorKind, ResidualRows, reconstruction_errors


@dataclass(frozen=True)
class PackedThreshold:
    """The fitted cut on one error per residual row."""

    error: ErrorKind
    threshold: float

    def score(self, rows: ResidualRows) -> Predictions:
        errors = rows.errors(self.error)
        return Predictions(errors, (errors > self.threshold).astype(np.int64))


class ReconstructionThresholdDetector(ResidualDetector):
    """Score = one error per residual row (``mse`` or ``max_abs``); the cut is the ``quantile``
    of the errors of *normal* rows seen in ``fit`` times ``margin``: no anomaly label is used.
    """

    fits_on = "holdout"

    def __init__(self, error: ErrorKind = "mse", quantile: float = 0.99, margin: float = 1.0):
        self.error = error
        self.quantile = quantile
        self.margin = margin

    @classmethod
    def from_params(cls, params: AEThresholdParams, seed: int) -> Self:
        return cls(error=params.error, quantile=params.quantile, margin=params.margin)

    def fit(self, X: np.ndarray, y: np.ndarray | None = None) -> Self:
        X = validate_data(self, X)
        self.threshold_ = float(np.quantile(reconstruction_errors(X, self.error), self.quantile))
        self.threshold_ *= self.margin
        return self

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        check_is_fitted(self)
        return reconstruction_errors(validate_data(self, X, reset=False), self.error)

    def pack(self, folder: Path, name: str) -> dict[str, Any]:
        check_is_fitted(self)
        return {"error": self.error, "threshold": float(self.threshold_)}

    @classmethod
    def unpack(
        cls, config: dict[str, Any], folder: Path, name: str, threads: int = 1
    ) -> PackedThreshold:
        return PackedThreshold(error=config["error"], threshold=float(config["threshold"]))
