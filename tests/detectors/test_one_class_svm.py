import numpy as np
import pytest

from ae_anomaly.detectors.one_class_svm import OneClassSVMDetector


def test_nu_defaults_to_the_labels_anomaly_share_and_is_reported(blobs):
    x, y = blobs
    assert OneClassSVMDetector().fit(x, y).nu_ == pytest.approx(20 / 220)
    with pytest.raises(ValueError, match="pass y"):
        OneClassSVMDetector().fit(x)


def test_score_is_minus_sklearns_decision_function_so_zero_is_its_cut(blobs):
    x, y = blobs
    detector = OneClassSVMDetector(nu=0.1, cache_size=32).fit(x, y)
    np.testing.assert_allclose(detector.decision_function(x), -detector.model_.decision_function(x))
    assert detector.threshold_ == 0.0
    assert detector.model_.cache_size == 32
