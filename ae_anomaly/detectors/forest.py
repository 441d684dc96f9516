"""A supervised Random Forest as an anomaly detector: the article's third baseline on raw
curves, and the classifier inside both residual forests."""

from __future__ import annotations

import logging
from typing import Any, Self

import numpy as np
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import make_scorer
from sklearn.model_selection import (
    FixedThresholdClassifier,
    StratifiedKFold,
    TunedThresholdClassifierCV,
)
from sklearn.utils.validation import check_is_fitted, validate_data

from ae_anomaly.core.types import ANOMALY
from ae_anomaly.detectors.base import AnomalyDetector

logger = logging.getLogger(__name__)


def anomaly_f1(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """F1 of the anomaly class, as ``f1_score`` computes it (0 when undefined).

    Threshold tuning scores 100 cuts on each of 5 folds; ``f1_score``'s input validation,
    repeated 500 times, cost more than fitting the forests themselves.
    """
    true, predicted = np.asarray(y_true) == ANOMALY, np.asarray(y_pred) == ANOMALY
    true_positives = int(np.count_nonzero(true & predicted))
    wrong = int(np.count_nonzero(true != predicted))
    return 2 * true_positives / (2 * true_positives + wrong) if true_positives else 0.0


def anomaly_score(proba: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """The anomaly class's column of ``predict_proba`` (zeros if training saw no anomaly)."""
    column = np.flatnonzero(classes == ANOMALY)
    return proba[:, column[0]] if column.size else np.zeros(len(proba))


def forest_labels(
    proba: np.ndarray, classes: np.ndarray, votes_decide: bool, threshold: float
) -> np.ndarray:
    """0/1 labels from a forest's class probabilities, by :class:`ForestDetector`'s rule:
    when ``votes_decide`` the anomaly vote must beat the normal vote (scikit-learn's
    ``predict``; ties go to normal), otherwise the anomaly score must reach ``threshold``."""
    if proba.shape[1] == 1:  # one class seen in training: every row is that class
        return np.full(len(proba), classes[0], dtype=np.int64)
    anomaly = proba[:, np.flatnonzero(classes == ANOMALY)[0]]
    normal = proba[:, np.flatnonzero(classes != ANOMALY)[0]]
    flagged = anomaly > normal if votes_decide else anomaly >= threshold
    return flagged.astype(np.int64)


class ForestDetector(AnomalyDetector):
    """Random Forest on labelled rows; score = the forest's probability of the anomaly class.

    ``decision_threshold`` is the cut on that score:

    - ``0.5``: the forest's own ``predict`` (and the article's): anomaly when the anomaly vote
      beats the normal vote, so 50/50 ties go to normal;
    - a number: anomaly when the score reaches it (sklearn's ``FixedThresholdClassifier``);
    - ``"tuned"``: the F1-optimal cut found by stratified cross-validation on the *training*
      rows only (sklearn's ``TunedThresholdClassifierCV``), which matters when anomalies are
      rare and the forest's votes for unseen positions are low.
    """

    _needs_labels = True

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
        X, y = validate_data(self, X, y)
        y = np.asarray(y).astype(np.int64)
        max_features: Any = self.max_features
        if isinstance(max_features, int):  # the article's 100 of 256; never more than there are
            max_features = min(max_features, X.shape[1])
        forest = RandomForestClassifier(
            n_estimators=self.n_estimators,
            max_features=max_features,
            class_weight=self.class_weight,
            n_jobs=self.n_jobs,
            random_state=self.random_state,
        )
        threshold = self.decision_threshold
        folds = min(self.cv_folds, int(np.bincount(y).min()) if np.unique(y).size == 2 else 0)
        if threshold == "tuned" and folds < 2:
            logger.warning("too few rows of one class to tune the threshold by CV; using 0.5")
            threshold = 0.5
        if threshold == "tuned":
            tuned = TunedThresholdClassifierCV(
                forest,
                scoring=make_scorer(anomaly_f1),
                cv=StratifiedKFold(folds, shuffle=True, random_state=self.random_state),
                random_state=self.random_state,
            ).fit(X, y)
            self.model_, self.threshold_ = tuned.estimator_, float(tuned.best_threshold_)
        elif threshold == 0.5:
            self.model_, self.threshold_ = forest.fit(X, y), 0.5
        else:
            fixed = FixedThresholdClassifier(forest, threshold=threshold).fit(X, y)
            self.model_, self.threshold_ = fixed.estimator_, float(threshold)
        self.votes_decide_ = threshold == 0.5
        self.classes_ = self.model_.classes_
        return self

    def _probabilities(self, X: np.ndarray) -> np.ndarray:
        check_is_fitted(self)
        return self.model_.predict_proba(validate_data(self, X, reset=False))

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        return anomaly_score(self._probabilities(X), self.classes_)

    def predict(self, X: np.ndarray) -> np.ndarray:
        """See the class docstring: votes decide at 0.5 (ties to normal), else score >= cut."""
        return forest_labels(
            self._probabilities(X), self.classes_, self.votes_decide_, self.threshold_
        )
