import numpy as np
import pytest

from ae_anomaly.detectors.reconstruction import ReconstructionThresholdDetector


def test_threshold_is_a_quantile_of_normal_errors_times_the_margin():
    normal = np.full((100, 4), 0.1) * np.linspace(0.5, 1.5, 100)[:, None]
    detector = ReconstructionThresholdDetector(error="max_abs", quantile=1.0, margin=2.0)
    detector.fit(normal)
    assert detector.threshold_ == pytest.approx(0.3)
    assert detector.predict(np.array([[0.0, 0.29, 0, 0], [0.0, 0.31, 0, 0]])).tolist() == [0, 1]


def test_score_is_the_per_curve_error():
    residuals = np.array([[0.0, 0.2, -0.4], [0.1, 0.1, 0.1]])
    mse = ReconstructionThresholdDetector(error="mse").fit(residuals)
    np.testing.assert_allclose(mse.decision_function(residuals), [0.2 / 3, 0.01])
    peak = ReconstructionThresholdDetector(error="max_abs").fit(residuals)
    np.testing.assert_allclose(peak.decision_function(residuals), [0.4, 0.1])
