"""What every detector shares: sklearn's estimator checks and the one score convention."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils.estimator_checks import parametrize_with_checks

from ae_anomaly.detectors.base import fit_and_predict, label_anomaly_share
from ae_anomaly.detectors.forest import ForestDetector
from ae_anomaly.detectors.isolation_forest import IsolationForestDetector
from ae_anomaly.detectors.one_class_svm import OneClassSVMDetector
from ae_anomaly.detectors.reconstruction import ReconstructionThresholdDetector
from ae_anomaly.detectors.residual_forests import DifferenceForest, HistogramForest

#: One instance per detector family, small enough for sklearn's checks to run in seconds.
#: Every one of sklearn's checks passes: no exceptions are needed. The detectors are not
#: tagged as classifiers or outlier detectors on purpose, because those checks assume
#: sklearn's label conventions (any class labels; +1 inlier / -1 outlier), not our
#: 0 normal / 1 anomaly with higher scores for anomalies.
DETECTORS = [
    OneClassSVMDetector(nu=0.1),
    IsolationForestDetector(n_estimators=10, contamination=0.1, random_state=0),
    ForestDetector(n_estimators=10, random_state=0),
    ReconstructionThresholdDetector(),
    DifferenceForest(n_estimators=10, random_state=0),
    HistogramForest(n_estimators=10, value_range=None, random_state=0),
]
SUPERVISED = (ForestDetector, DifferenceForest, HistogramForest)


@parametrize_with_checks(DETECTORS)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


@pytest.mark.parametrize("detector", DETECTORS, ids=lambda d: type(d).__name__)
def test_higher_score_means_more_anomalous_and_labels_are_0_1(detector, blobs):
    x, y = blobs
    if isinstance(detector, ReconstructionThresholdDetector):
        x = x / 10  # residual-like rows: anomalies have larger errors
    if isinstance(detector, HistogramForest):
        detector = clone(detector).set_params(residual="absolute")
    supervised = isinstance(detector, SUPERVISED)
    fitted = clone(detector).fit(x, y) if supervised else clone(detector).fit(x[y == 0])
    scores = fitted.decision_function(x)
    assert scores[y == 1].min() > np.median(scores[y == 0])
    labels = fitted.predict(x)
    assert set(np.unique(labels)) <= {0, 1}
    assert labels[y == 1].mean() > 0.9 and labels[y == 0].mean() < 0.2


@pytest.mark.parametrize("detector", DETECTORS, ids=lambda d: type(d).__name__)
def test_not_fitted_and_wrong_width_are_refused(detector, blobs):
    x, y = blobs
    with pytest.raises(NotFittedError):
        clone(detector).decision_function(x)
    fitted = clone(detector).fit(x, y)
    assert fitted.n_features_in_ == x.shape[1]
    with pytest.raises(ValueError, match="features"):
        fitted.decision_function(x[:, :3])


def test_predict_is_the_score_against_the_fitted_threshold(blobs):
    x, y = blobs
    for detector in (OneClassSVMDetector(nu=0.1), ReconstructionThresholdDetector()):
        fitted = detector.fit(x, y)
        np.testing.assert_array_equal(
            fitted.predict(x), fitted.decision_function(x) > fitted.threshold_
        )


def test_anomaly_share_defaults_to_the_labels_share():
    y = np.r_[np.zeros(200, int), np.ones(20, int)]
    assert label_anomaly_share(y, None, "nu") == pytest.approx(20 / 220)
    assert label_anomaly_share(None, 0.3, "nu") == 0.3
    with pytest.raises(ValueError, match="pass y"):
        label_anomaly_share(None, None, "nu")
    with pytest.raises(ValueError, match="outside"):
        label_anomaly_share(np.zeros(5, int), None, "contamination")


def test_fit_and_predict_scores_another_set(blobs):
    x, y = blobs
    detectors = {"svm": OneClassSVMDetector(nu=0.1), "forest": ForestDetector(n_estimators=5)}
    predictions = fit_and_predict(detectors, x, y, x[:7])
    assert set(predictions) == {"svm", "forest"}
    assert predictions["svm"].score.shape == (7,) and predictions["forest"].label.shape == (7,)
