"""Detectors with one interface and one score convention.

Every detector here follows scikit-learn's estimator rules (``__init__`` only stores,
``fit`` returns ``self``, fitted state ends in ``_``) so they can be cloned, put in a
``Pipeline`` and checked with sklearn's tools. On top of that they share one convention
the raw sklearn models do not: ``score_samples`` is **higher for more anomalous** rows and
``predict`` returns ``1`` for an anomaly and ``0`` for a normal curve.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Protocol, Self

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.ensemble import IsolationForest, RandomForestClassifier
from sklearn.metrics import make_scorer
from sklearn.model_selection import (
    FixedThresholdClassifier,
    StratifiedKFold,
    TunedThresholdClassifierCV,
)
from sklearn.pipeline import Pipeline
from sklearn.svm import OneClassSVM
from sklearn.utils.validation import check_is_fitted, validate_data

from ae_anomaly.data import Predictions
from ae_anomaly.features import (
    ErrorKind,
    ResidualKind,
    reconstruction_errors,
    row_histograms,
    transform_residuals,
)
from ae_anomaly.params import BaselinesParams, HistogramForestParams, RandomForestParams

logger = logging.getLogger(__name__)


def _anomaly_share(y: np.ndarray | None, given: float | None, name: str) -> float:
    """The article sets nu/contamination to the pool's anomaly share; ``None`` means that."""
    if given is not None:
        return given
    if y is None:
        raise ValueError(f"{name}=None derives it from the labels' anomaly share; pass y to fit")
    share = float(np.mean(np.asarray(y) == 1))
    if not 0 < share <= 0.5:
        raise ValueError(f"{name} derived from labels is {share:.3f}, outside (0, 0.5]")
    return share


def anomaly_f1(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """F1 of the anomaly class (label 1), as ``f1_score`` computes it (0 when undefined).

    Threshold tuning scores 100 cuts on each of 5 folds; ``f1_score``'s input validation,
    repeated 500 times, cost more than fitting the forests themselves.
    """
    true, predicted = np.asarray(y_true) == 1, np.asarray(y_pred) == 1
    true_positives = int(np.count_nonzero(true & predicted))
    wrong = int(np.count_nonzero(true != predicted))
    return 2 * true_positives / (2 * true_positives + wrong) if true_positives else 0.0


class OneClassSVMDetector(BaseEstimator):
    """One-Class SVM fitted on unlabelled curves; score = minus sklearn's decision function."""

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

    def fit(self, X: np.ndarray, y: np.ndarray | None = None) -> Self:
        X = validate_data(self, X)
        self.nu_ = _anomaly_share(y, self.nu, "nu")
        self.model_ = OneClassSVM(
            nu=self.nu_, kernel=self.kernel, gamma=self.gamma, cache_size=self.cache_size
        ).fit(X)
        return self

    def score_samples(self, X: np.ndarray) -> np.ndarray:
        check_is_fitted(self)
        return -self.model_.decision_function(validate_data(self, X, reset=False))

    def predict(self, X: np.ndarray) -> np.ndarray:
        return (self.score_samples(X) > 0).astype(np.int64)


class IsolationForestDetector(BaseEstimator):
    """Isolation Forest; score = minus sklearn's decision function, so 0 is its own threshold."""

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

    def fit(self, X: np.ndarray, y: np.ndarray | None = None) -> Self:
        X = validate_data(self, X)
        self.contamination_ = _anomaly_share(y, self.contamination, "contamination")
        self.model_ = IsolationForest(
            n_estimators=self.n_estimators,
            contamination=self.contamination_,
            max_features=min(self.max_features, X.shape[1])
            if isinstance(self.max_features, int)
            else self.max_features,
            n_jobs=self.n_jobs,
            random_state=self.random_state,
        ).fit(X)
        return self

    def score_samples(self, X: np.ndarray) -> np.ndarray:
        check_is_fitted(self)
        return -self.model_.decision_function(validate_data(self, X, reset=False))

    def predict(self, X: np.ndarray) -> np.ndarray:
        return (self.score_samples(X) > 0).astype(np.int64)


class ForestDetector(BaseEstimator):
    """Supervised Random Forest; score = predicted probability of the anomaly class.

    ``predict`` flags rows whose probability reaches ``decision_threshold``: 0.5 is sklearn's
    plain ``predict`` (and the article's) rule; ``"tuned"`` picks the F1-optimal cut by stratified
    cross-validation on the *training* rows only (``TunedThresholdClassifierCV``), which
    matters when anomalies are rare and the forest's votes for unseen positions are low.
    """

    def __init__(
        self,
        n_estimators: int = 100,
        max_features: int | float | str = "sqrt",
        class_weight: str | None = None,
        decision_threshold: float | str = 0.5,
        cv_folds: int = 5,
        n_jobs: int | None = None,
        random_state: int | None = None,
    ):
        self.n_estimators = n_estimators
        self.max_features = max_features
        self.class_weight = class_weight
        self.decision_threshold = decision_threshold
        self.cv_folds = cv_folds
        self.n_jobs = n_jobs
        self.random_state = random_state

    def fit(self, X: np.ndarray, y: np.ndarray) -> Self:
        X = validate_data(self, X)
        max_features: Any = self.max_features
        if isinstance(max_features, int):
            max_features = min(max_features, X.shape[1])
        y = np.asarray(y).astype(np.int64)
        forest = RandomForestClassifier(
            n_estimators=self.n_estimators,
            max_features=max_features,
            class_weight=self.class_weight,
            n_jobs=self.n_jobs,
            random_state=self.random_state,
        )
        # Predictions are delegated to scikit-learn's own objects so each mode keeps its exact
        # semantics (plain predict sends 50/50 vote ties to the normal class).
        decision_threshold = self.decision_threshold
        folds = min(self.cv_folds, int(np.bincount(y).min()) if np.unique(y).size == 2 else 0)
        if decision_threshold == "tuned" and folds < 2:
            logger.warning("too few rows of one class to tune the threshold by CV; using 0.5")
            decision_threshold = 0.5
        if decision_threshold == "tuned":
            self.predictor_ = TunedThresholdClassifierCV(
                forest,
                scoring=make_scorer(anomaly_f1),
                cv=StratifiedKFold(folds, shuffle=True, random_state=self.random_state),
                random_state=self.random_state,
            ).fit(X, y)
            self.model_, self.threshold_ = (
                self.predictor_.estimator_,
                float(self.predictor_.best_threshold_),
            )
        elif decision_threshold == 0.5:
            self.predictor_ = self.model_ = forest.fit(X, y)
            self.threshold_ = 0.5
        else:
            self.predictor_ = FixedThresholdClassifier(
                forest, threshold=self.decision_threshold
            ).fit(X, y)
            self.model_, self.threshold_ = (
                self.predictor_.estimator_,
                float(self.decision_threshold),
            )
        self.classes_ = self.model_.classes_
        return self

    def score_samples(self, X: np.ndarray) -> np.ndarray:
        check_is_fitted(self)
        proba = self.model_.predict_proba(validate_data(self, X, reset=False))
        anomaly_column = np.flatnonzero(self.classes_ == 1)
        return proba[:, anomaly_column[0]] if anomaly_column.size else np.zeros(len(proba))

    def predict(self, X: np.ndarray) -> np.ndarray:
        check_is_fitted(self)
        return self.predictor_.predict(validate_data(self, X, reset=False)).astype(np.int64)


class ResidualTransform(TransformerMixin, BaseEstimator):
    """Keep, fold (absolute) or square the residuals before a forest sees them."""

    def __init__(self, residual: ResidualKind = "signed"):
        self.residual = residual

    def fit(self, X: np.ndarray, y: np.ndarray | None = None) -> Self:
        validate_data(self, X)
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        check_is_fitted(self, "n_features_in_")
        return transform_residuals(validate_data(self, X, reset=False), self.residual)


class ResidualHistogram(TransformerMixin, BaseEstimator):
    """Per-row histogram of (optionally folded) residuals: the article's histogram features.

    With ``value_range=None`` the range is learned in ``fit`` from the training residuals
    (the ``range_quantile`` quantile of their magnitude), which is how the article chose its
    (-0.3, 0.3) by eye from the test scores.
    """

    def __init__(
        self,
        bins: int = 10,
        value_range: tuple[float, float] | None = (-0.3, 0.3),
        range_quantile: float = 1.0,
        residual: ResidualKind = "signed",
    ):
        self.bins = bins
        self.value_range = value_range
        self.range_quantile = range_quantile
        self.residual = residual

    def fit(self, X: np.ndarray, y: np.ndarray | None = None) -> Self:
        X = validate_data(self, X)
        if self.value_range is not None:
            self.value_range_ = (float(self.value_range[0]), float(self.value_range[1]))
        else:
            values = transform_residuals(X, self.residual)
            extent = float(np.quantile(np.abs(values), self.range_quantile))
            extent = extent if extent > 0 else 1.0
            self.value_range_ = (-extent, extent) if self.residual == "signed" else (0.0, extent)
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        check_is_fitted(self)
        values = transform_residuals(validate_data(self, X, reset=False), self.residual)
        return row_histograms(values, self.bins, self.value_range_)


class ReconstructionThresholdDetector(BaseEstimator):
    """The plain autoencoder detector: flag a curve whose reconstruction error is too large.

    Fitted on residuals of *normal* curves only (no anomaly labels): the threshold is the
    ``quantile`` of their errors times ``margin``.
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

    def score_samples(self, X: np.ndarray) -> np.ndarray:
        check_is_fitted(self)
        return reconstruction_errors(validate_data(self, X, reset=False), self.error)

    def predict(self, X: np.ndarray) -> np.ndarray:
        return (self.score_samples(X) > self.threshold_).astype(np.int64)


class Detector(Protocol):
    """What the pipeline needs of a fitted detector."""

    def fit(self, X: np.ndarray, y: np.ndarray | None = ...) -> Any: ...
    def score_samples(self, X: np.ndarray) -> np.ndarray: ...
    def predict(self, X: np.ndarray) -> np.ndarray: ...


def _forest(params: RandomForestParams, n_jobs: int, seed: int) -> ForestDetector:
    return ForestDetector(
        n_estimators=params.n_estimators,
        max_features=params.max_features,
        class_weight=params.class_weight,
        decision_threshold=params.decision_threshold,
        n_jobs=n_jobs,
        random_state=seed,
    )


def baseline_detectors(params: BaselinesParams, seed: int) -> dict[str, Detector]:
    """The article's three detectors on raw curves, configured from the ``baselines`` section."""
    return {
        "one_class_svm": OneClassSVMDetector(
            nu=params.one_class_svm.nu,
            kernel=params.one_class_svm.kernel,
            gamma=params.one_class_svm.gamma,
            cache_size=params.one_class_svm.cache_size_mb,
        ),
        "isolation_forest": IsolationForestDetector(
            n_estimators=params.isolation_forest.n_estimators,
            contamination=params.isolation_forest.contamination,
            max_features=params.isolation_forest.max_features,
            n_jobs=params.n_jobs,
            random_state=seed,
        ),
        "random_forest": _forest(params.random_forest, params.n_jobs, seed),
    }


def residual_detectors(params: HistogramForestParams, seed: int) -> dict[str, Detector]:
    """The article's second-stage forests on difference scores: raw vector and histogram.

    Both see the residuals through the same ``residual`` transform (signed in the article).
    """
    histogram = ResidualHistogram(
        bins=params.bins,
        value_range=params.range,
        range_quantile=params.range_quantile,
        residual=params.residual,
    )
    return {
        "difference_forest": Pipeline(
            [
                ("residual", ResidualTransform(params.residual)),
                ("forest", _forest(params.difference_forest, params.n_jobs, seed)),
            ]
        ),
        "histogram_forest": Pipeline(
            [
                ("histogram", histogram),
                ("forest", _forest(params.histogram_forest, params.n_jobs, seed)),
            ]
        ),
    }


def fit_and_predict(
    detectors: Mapping[str, Detector], x_fit: np.ndarray, y_fit: np.ndarray, x_eval: np.ndarray
) -> dict[str, Predictions]:
    """Fit every detector on one set and return its scores and labels on another."""
    predictions = {}
    for name, detector in detectors.items():
        detector.fit(x_fit, y_fit)
        predictions[name] = Predictions(detector.score_samples(x_eval), detector.predict(x_eval))
    return predictions
