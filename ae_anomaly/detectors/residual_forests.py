"""The article's second stage: Random Forests trained on the autoencoder's residuals.

- :class:`DifferenceForest` sees the raw residual vector (one feature per point);
- :class:`HistogramForest` sees a histogram of each residual row, which no longer cares
  *where* along the curve a bump sits.

Both are trained on the *test* split's residuals (the autoencoder has fitted the train split,
so its residuals there are unrepresentatively small) and work on residuals of any curves.
"""

from __future__ import annotations

from typing import Self

import numpy as np
from sklearn.utils.validation import check_is_fitted, validate_data

from ae_anomaly.detectors.base import AnomalyDetector
from ae_anomaly.detectors.forest import ForestDetector
from ae_anomaly.features.residuals import (
    ResidualKind,
    learned_histogram_range,
    row_histograms,
    transform_residuals,
)


class _ResidualForest(AnomalyDetector):
    """A :class:`ForestDetector` on features of residual rows; subclasses define the features."""

    _needs_labels = True

    def __init__(
        self,
        residual: ResidualKind = "signed",
        n_estimators: int = 100,
        max_features: int | float | str = "sqrt",
        class_weight: str | None = None,
        decision_threshold: float | str = 0.5,
        n_jobs: int | None = None,
        random_state: int | None = None,
    ):
        self.residual = residual
        self.n_estimators = n_estimators
        self.max_features = max_features
        self.class_weight = class_weight
        self.decision_threshold = decision_threshold
        self.n_jobs = n_jobs
        self.random_state = random_state

    def _features(self, residuals: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _fit_forest(self, residuals: np.ndarray, y: np.ndarray) -> None:
        self.forest_ = ForestDetector(
            n_estimators=self.n_estimators,
            max_features=self.max_features,
            class_weight=self.class_weight,
            decision_threshold=self.decision_threshold,
            n_jobs=self.n_jobs,
            random_state=self.random_state,
        ).fit(self._features(residuals), y)
        self.threshold_ = self.forest_.threshold_

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        check_is_fitted(self)
        return self.forest_.decision_function(self._features(validate_data(self, X, reset=False)))

    def predict(self, X: np.ndarray) -> np.ndarray:
        check_is_fitted(self)
        return self.forest_.predict(self._features(validate_data(self, X, reset=False)))


class DifferenceForest(_ResidualForest):
    """Random Forest on the (folded) residual vector: one feature per point of the curve."""

    def fit(self, X: np.ndarray, y: np.ndarray) -> Self:
        X, y = validate_data(self, X, y)
        self._fit_forest(X, y)
        return self

    def _features(self, residuals: np.ndarray) -> np.ndarray:
        return transform_residuals(residuals, self.residual)


class HistogramForest(_ResidualForest):
    """Random Forest on each residual row's histogram (``bins`` counts over ``value_range``).

    With ``value_range=None`` the range is learned in ``fit``: the ``range_quantile`` of the
    training residuals' magnitude (a well-trained autoencoder's residuals span ~0.1, so the
    article's fixed (-0.3, 0.3) put almost every point into 2 of 10 bins).
    """

    def __init__(
        self,
        bins: int = 10,
        value_range: tuple[float, float] | None = (-0.3, 0.3),
        range_quantile: float = 1.0,
        residual: ResidualKind = "signed",
        n_estimators: int = 100,
        max_features: int | float | str = "sqrt",
        class_weight: str | None = None,
        decision_threshold: float | str = 0.5,
        n_jobs: int | None = None,
        random_state: int | None = None,
    ):
        super().__init__(
            residual=residual,
            n_estimators=n_estimators,
            max_features=max_features,
            class_weight=class_weight,
            decision_threshold=decision_threshold,
            n_jobs=n_jobs,
            random_state=random_state,
        )
        self.bins = bins
        self.value_range = value_range
        self.range_quantile = range_quantile

    def fit(self, X: np.ndarray, y: np.ndarray) -> Self:
        X, y = validate_data(self, X, y)
        if self.value_range is not None:
            self.value_range_ = (float(self.value_range[0]), float(self.value_range[1]))
        else:
            self.value_range_ = learned_histogram_range(X, self.residual, self.range_quantile)
        self._fit_forest(X, y)
        return self

    def histograms(self, X: np.ndarray) -> np.ndarray:
        """The features the forest sees: one row of ``bins`` counts per residual row."""
        check_is_fitted(self, "value_range_")
        return self._features(validate_data(self, X, reset=False))

    def _features(self, residuals: np.ndarray) -> np.ndarray:
        return row_histograms(
            transform_residuals(residuals, self.residual), self.bins, self.value_range_
        )
