"""One-Class SVM on raw curves (the article's first baseline)."""

from __future__ import annotations

from typing import Self

import numpy as np
from sklearn.svm import OneClassSVM
from sklearn.utils.validation import check_is_fitted, validate_data

from ae_anomaly.detectors.base import (
    AnomalyDetector,
    label_anomaly_share,
    label_share_problem,
)


class OneClassSVMDetector(AnomalyDetector):
    """sklearn's ``OneClassSVM``; score = minus its decision function, so 0 is its own cut."""

    def __init__(
        self,
        nu: float | None = None,
        kernel: str = "rbf",
        gamma: str | float = "scale",
        cache_size: float = 200,
    ):
        self.nu = nu
        self.kernel = kernel
        self.gamma = gamma
        self.cache_size = cache_size

    def cannot_fit(self, y: np.ndarray | None) -> str | None:
        return label_share_problem(y, self.nu, "nu")

    def fit(self, X: np.ndarray, y: np.ndarray | None = None) -> Self:
        X = validate_data(self, X)
        self.nu_ = label_anomaly_share(y, self.nu, "nu")
        self.model_ = OneClassSVM(
            nu=self.nu_, kernel=self.kernel, gamma=self.gamma, cache_size=self.cache_size
        ).fit(X)
        self.threshold_ = 0.0
        return self

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        check_is_fitted(self)
        return -self.model_.decision_function(validate_data(self, X, reset=False))
