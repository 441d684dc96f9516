import numpy as np
import pytest

from ae_anomaly.detectors.isolation_forest import IsolationForestDetector


def test_contamination_defaults_to_the_labels_anomaly_share(blobs):
    x, y = blobs
    fitted = IsolationForestDetector(random_state=0).fit(x, y)
    assert fitted.contamination_ == pytest.approx(20 / 220)


def test_reproducible_with_random_state_and_max_features_capped_at_the_width(blobs):
    x, y = blobs
    first = IsolationForestDetector(max_features=100, random_state=3).fit(x, y)
    second = IsolationForestDetector(max_features=100, random_state=3).fit(x, y)
    np.testing.assert_array_equal(first.decision_function(x), second.decision_function(x))
    assert first.model_.max_features == x.shape[1]
