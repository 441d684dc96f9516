import numpy as np
import pytest

from ae_anomaly.features.preprocessing import normalize_curves


@pytest.fixture
def curves():
    rng = np.random.default_rng(0)
    return (rng.normal(size=(5, 40)) * rng.uniform(1, 9, size=(5, 1)) + 3).astype(np.float32)


def test_none_returns_the_same_array_untouched(curves):
    assert normalize_curves(curves, "none") is curves


def test_zscore_gives_each_curve_mean_0_and_deviation_1(curves):
    normalized = normalize_curves(curves, "zscore")
    assert normalized.dtype == np.float32
    np.testing.assert_allclose(normalized.mean(axis=1), 0, atol=1e-6)
    np.testing.assert_allclose(normalized.std(axis=1), 1, atol=1e-5)


def test_minmax_maps_each_curve_onto_0_1(curves):
    normalized = normalize_curves(curves, "minmax")
    np.testing.assert_allclose(normalized.min(axis=1), 0, atol=1e-6)
    np.testing.assert_allclose(normalized.max(axis=1), 1, atol=1e-6)


@pytest.mark.parametrize("method", ["zscore", "minmax"])
def test_each_curve_on_its_own_and_a_flat_curve_gives_zeros(curves, method):
    together = normalize_curves(curves, method)
    np.testing.assert_allclose(normalize_curves(curves[2:3], method), together[2:3], rtol=1e-6)
    flat = normalize_curves(np.full((1, 8), 4.0), method)
    assert np.isfinite(flat).all() and (flat == 0).all()


def test_unknown_method_is_refused(curves):
    with pytest.raises(ValueError, match="zscore or minmax"):
        normalize_curves(curves, "robust")
