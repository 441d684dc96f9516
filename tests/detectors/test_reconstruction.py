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
    absolute = ReconstructionThresholdDetector(error="mae").fit(residuals)
    np.testing.assert_allclose(absolute.decision_function(residuals), [0.2, 0.1])


def _quiet_and_noisy_normals(rows: int, seed: int = 0) -> np.ndarray:
    """Normal residuals that are small on the first half of the curve, large on the second."""
    spread = np.r_[np.full(8, 0.05), np.full(8, 1.0)]
    return np.random.default_rng(seed).normal(0, 1, size=(rows, 16)) * spread


def test_standardised_it_finds_a_residual_that_is_only_unusual_where_it_lies():
    normal = _quiet_and_noisy_normals(300)
    odd = _quiet_and_noisy_normals(20, seed=1)
    odd[:, 2] += 0.6  # small next to the noisy half, far outside what the quiet half shows
    plain = ReconstructionThresholdDetector(error="mse").fit(normal)
    standardised = ReconstructionThresholdDetector(error="mse", standardize=True).fit(normal)
    held_out = _quiet_and_noisy_normals(20, seed=2)
    assert standardised.predict(odd).mean() > 0.9
    assert plain.predict(odd).mean() < 0.3
    assert standardised.predict(held_out).mean() < 0.2


def test_standardised_the_spread_comes_from_the_reference_and_the_cut_from_the_held_out_rows():
    reference = _quiet_and_noisy_normals(300)
    held_out = _quiet_and_noisy_normals(4, seed=3) * 3  # fewer, larger: not shrunk by training
    detector = ReconstructionThresholdDetector(
        error="max_abs", quantile=1.0, standardize=True, prior_curves=0.0
    ).fit(held_out, reference=reference)
    np.testing.assert_allclose(detector.scale_.center, reference.mean(0))
    np.testing.assert_allclose(detector.scale_.scale, reference.std(0))
    assert detector.threshold_ == pytest.approx(detector.decision_function(held_out).max())


def test_a_reference_changes_nothing_unless_it_standardises():
    reference, held_out = _quiet_and_noisy_normals(50), _quiet_and_noisy_normals(10, seed=4)
    with_reference = ReconstructionThresholdDetector().fit(held_out, reference=reference)
    without = ReconstructionThresholdDetector().fit(held_out)
    assert with_reference.threshold_ == without.threshold_
    assert with_reference.scale_ is None


@pytest.mark.parametrize("error", ["mse", "mae", "max_abs"])
@pytest.mark.parametrize("standardize", [False, True])
def test_packed_it_scores_exactly_as_fitted(tmp_path, standardize, error):
    from ae_anomaly.features.residuals import ResidualRows

    reference, held_out = _quiet_and_noisy_normals(50), _quiet_and_noisy_normals(10, seed=5)
    detector = ReconstructionThresholdDetector(error=error, standardize=standardize)
    detector.fit(held_out, reference=reference)
    packed = ReconstructionThresholdDetector.unpack(
        detector.pack(tmp_path, "ae_threshold"), tmp_path, "ae_threshold"
    )
    rows = _quiet_and_noisy_normals(30, seed=6)
    rows[:5, 3] += 1.0
    scored = packed.score(ResidualRows(rows))
    np.testing.assert_array_equal(scored.score, detector.decision_function(rows))
    np.testing.assert_array_equal(scored.label, detector.predict(rows))
    assert (tmp_path / "ae_threshold.npz").is_file() == standardize
