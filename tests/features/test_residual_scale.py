import numpy as np
import pytest

from ae_anomaly.features.residual_scale import PointwiseScale


def test_a_residual_where_normal_ones_are_small_counts_more_than_where_they_are_large():
    rng = np.random.default_rng(0)
    normal = rng.normal(0, 1, size=(400, 4)) * np.array([0.1, 1.0, 1.0, 1.0])
    scale = PointwiseScale.fit(normal, prior_curves=0.0)
    quiet, noisy = np.array([[0.5, 0, 0, 0]]), np.array([[0, 0.5, 0, 0]])
    assert np.abs(scale.standardize(quiet)).max() > 4 * np.abs(scale.standardize(noisy)).max()


def test_without_a_prior_it_is_each_points_own_mean_and_spread():
    normal = np.array([[0.0, 1.0], [2.0, 1.0], [4.0, 1.0]])
    scale = PointwiseScale.fit(normal, prior_curves=0.0)
    np.testing.assert_allclose(scale.center, [2.0, 1.0])
    assert scale.scale[0] == pytest.approx(np.std([0.0, 2.0, 4.0]))
    assert scale.scale[1] > 0  # a point every normal curve leaves alike does not divide by 0
    assert np.isfinite(scale.standardize(np.array([[1.0, 1.5]]))).all()


def test_few_curves_lean_on_the_curve_wide_spread_many_on_their_own():
    rng = np.random.default_rng(1)
    spread = np.array([0.1, 2.0])
    few = PointwiseScale.fit(rng.normal(0, 1, size=(3, 2)) * spread, prior_curves=5.0)
    many = PointwiseScale.fit(rng.normal(0, 1, size=(50_000, 2)) * spread, prior_curves=5.0)
    assert few.scale[1] / few.scale[0] < 4  # pulled toward one shared spread
    assert many.scale[1] / many.scale[0] == pytest.approx(20, rel=0.1)


def test_it_refuses_what_it_cannot_scale():
    with pytest.raises(ValueError, match="at least one normal residual row"):
        PointwiseScale.fit(np.empty((0, 5)), 5.0)
    scale = PointwiseScale.fit(np.ones((3, 5)), 5.0)
    with pytest.raises(ValueError, match="residuals of 4 points; the scale was fitted on 5"):
        scale.standardize(np.ones((2, 4)))


def test_it_round_trips_through_arrays():
    scale = PointwiseScale.fit(np.random.default_rng(2).normal(size=(10, 6)), 5.0)
    again = PointwiseScale.from_arrays(scale.to_arrays())
    np.testing.assert_array_equal(again.center, scale.center)
    np.testing.assert_array_equal(again.scale, scale.scale)
