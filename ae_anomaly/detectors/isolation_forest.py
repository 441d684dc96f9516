"""Isolation Forest on raw curves (the article's second baseline)."""

from __future__ import annotations

from typing import Self

import numpy as np
from sklearn.ensemble import IsolationForest
from sklearn.utils.validation import check_is_fitted, validate_data

from ae_anomaly.detectors.base import (
    AnomalyDetector,
    label_anomaly_share,
    label_share_problem,
)


class IsolationForestDetector(AnomalyDetector):
    """sklearn's ``IsolationForest``; score = minus its decision function, so 0 is its own cut."""

    def __init__(
        self,
        n_estimators: int = 100,
        contamination: float | None = None,
        max_features: int | float = 1.0,
        n_jobs: int | None = None,
        random_state: int | None = None,
    ):
        self.n_estimators = n_estimators
        self.contamination = contamination
        self.max_features = max_features
        self.n_jobs = n_jobs
        self.random_state = random_state

    def cannot_fit(self, y: np.ndarray | None) -> str | None:
        return label_share_problem(y, self.contamination, "contamination")

    def fit(self, X: np.ndarray, y: np.ndarray | None = None) -> Self:
        X = validate_data(self, X)
        self.contamination_ = label_anomaly_share(y, self.contamination, "contamination")
        max_features = self.max_features
        if isinstance(max_features, int):  # the article's 100 of 256; never more than there are
            max_features = min(max_features, X.shape[1])
        self.model_ = IsolationForest(
            n_estimators=self.n_estimators,
            contamination=self.contamination_,
            max_features=max_features,
            n_jobs=self.n_jobs,
            random_state=self.random_state,
        ).fit(X)
        self.threshold_ = 0.0
        return self

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        check_is_fitted(self)
        return -self.model_.decision_function(validate_data(self, X, reset=False))
