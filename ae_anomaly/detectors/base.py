"""The one interface every detector of the project follows.

scikit-learn's estimator rules (``__init__`` only stores, ``fit`` returns ``self``, fitted
state ends in ``_``) so detectors can be cloned and checked with sklearn's own tools, plus
PyOD's convention for anomaly scores, which sklearn's outlier detectors do not share:

- ``decision_function(X)``: one score per row, **higher = more anomalous**;
- ``threshold_``: the fitted cut on that score;
- ``predict(X)``: ``1`` (``ANOMALY``) where the score exceeds ``threshold_``, else ``0``.

(sklearn's own ``score_samples`` means the opposite, higher = more normal, so no detector
here defines it.)
"""

from __future__ import annotations

import logging
from abc import ABCMeta, abstractmethod
from collections.abc import Mapping
from typing import Any, Self

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils import Tags
from sklearn.utils.validation import check_is_fitted

from ae_anomaly.core.types import ANOMALY, ModelOutput, NotFitted, Predictions

logger = logging.getLogger(__name__)


class AnomalyDetector(BaseEstimator, metaclass=ABCMeta):
    """Base class: subclasses implement ``fit`` (setting ``threshold_``) and
    ``decision_function``."""

    @abstractmethod
    def fit(self, X: np.ndarray, y: np.ndarray | None = None) -> Self: ...

    @abstractmethod
    def decision_function(self, X: np.ndarray) -> np.ndarray: ...

    #: Whether ``fit`` needs labels ``y`` (a supervised detector); sklearn's checks read it.
    _needs_labels: bool = False

    def __sklearn_tags__(self) -> Tags:
        tags = super().__sklearn_tags__()
        tags.target_tags.required = self._needs_labels
        return tags

    def cannot_fit(self, y: np.ndarray | None) -> str | None:
        """Why these training labels cannot fit this detector, or ``None`` if they can (a
        supervised detector needs anomalous examples; on an unlabelled file it has none)."""
        if not self._needs_labels:
            return None
        labels = np.asarray([] if y is None else y)
        if not (labels == ANOMALY).any():
            return "needs anomalous training curves to learn from; the training labels have none"
        if (labels == ANOMALY).all():
            return "needs normal training curves too; every training label is an anomaly"
        return None

    def predict(self, X: np.ndarray) -> np.ndarray:
        """``1`` for rows scoring above ``threshold_``, ``0`` for the others."""
        check_is_fitted(self, "threshold_")
        return (self.decision_function(X) > self.threshold_).astype(np.int64)


def label_share_problem(y: np.ndarray | None, given: float | None, name: str) -> str | None:
    """Why ``label_anomaly_share`` would fail for these labels, or ``None``."""
    try:
        label_anomaly_share(y, given, name)
    except ValueError as error:
        return f"{error}; set it explicitly in params.yaml"
    return None


def label_anomaly_share(y: np.ndarray | None, given: float | None, name: str) -> float:
    """``given``, or when it is ``None`` the share of anomalies in the labels ``y`` (the article
    sets One-Class SVM's ``nu`` and Isolation Forest's ``contamination`` that way)."""
    if given is not None:
        return given
    if y is None:
        raise ValueError(f"{name}=None derives it from the labels' anomaly share; pass y to fit")
    share = float(np.mean(np.asarray(y) == ANOMALY))
    if not 0 < share <= 0.5:
        raise ValueError(f"{name} derived from labels is {share:.3f}, outside (0, 0.5]")
    return share


def fit_if_possible(
    name: str,
    detector: AnomalyDetector,
    x_fit: np.ndarray,
    y_fit: np.ndarray | None,
    **fit_params: Any,
) -> AnomalyDetector | NotFitted:
    """``detector`` fitted (``fit_params`` passed on to its ``fit``), or :class:`NotFitted`
    (with one log line) when these labels cannot fit it, e.g. a supervised detector on data
    without anomalies."""
    reason = detector.cannot_fit(y_fit)
    if reason is not None:
        logger.warning("%s: not fitted: %s", name, reason)
        return NotFitted(reason)
    return detector.fit(x_fit, y_fit, **fit_params)


def fit_and_predict(
    detectors: Mapping[str, AnomalyDetector],
    x_fit: np.ndarray,
    y_fit: np.ndarray | None,
    x_eval: np.ndarray,
) -> dict[str, ModelOutput]:
    """Fit every detector on one set and return its scores and labels on another; one that
    cannot be fitted on these labels is reported :class:`NotFitted`, with one log line."""
    predictions: dict[str, ModelOutput] = {}
    for name, detector in detectors.items():
        reason = detector.cannot_fit(y_fit)
        if reason is not None:
            logger.warning("%s: not fitted: %s", name, reason)
            predictions[name] = NotFitted(reason)
            continue
        detector.fit(x_fit, y_fit)
        predictions[name] = Predictions(
            detector.decision_function(x_eval), detector.predict(x_eval)
        )
    return predictions
