import numpy as np
import pytest

from ae_anomaly.core.types import ANOMALY, NORMAL
from ae_anomaly.data.synthetic import gaussian_curves, pool_and_validation
from ae_anomaly.pipeline.wiring import bump_curves


@pytest.fixture
def curves(default_params):
    return bump_curves(default_params.generate.synthetic)


def _pool_and_validation(curves, seed, pool=(2000, 200)):
    return pool_and_validation(curves, pool, (100, 100), seed)


def test_gaussian_curves_peak_at_requested_height():
    curves = gaussian_curves(
        np.array([0.3, 0.5]), np.array([0.05, 0.2]), 256, (0, 1), np.array([1.0, 0.12])
    )
    assert curves.shape == (2, 256)
    np.testing.assert_allclose(curves.max(axis=1), [1.0, 0.12])
    assert np.argmax(curves[0]) == round(0.3 * 255)


def test_every_normal_curve_peaks_at_exactly_normal_max(curves):
    normal = curves.normal(500, np.random.default_rng(1))
    assert normal.shape == (500, 256)
    np.testing.assert_allclose(normal.max(axis=1), curves.normal_max, rtol=0, atol=1e-12)
    assert (normal > 0).all()


def test_every_anomaly_exceeds_its_base_curve_by_a_bump_of_anomaly_max(curves):
    base = curves.normal(300, np.random.default_rng(7))
    anomalies, centres, sigmas = curves.anomalous(300, np.random.default_rng(7))
    bump = anomalies - base
    assert (bump >= 0).all()  # far from a narrow bump the Gaussian underflows to exactly 0
    np.testing.assert_allclose(bump.max(axis=1), curves.anomaly_max, atol=1e-12)
    assert (anomalies.max(axis=1) > curves.normal_max - 1e-12).all()
    # The recorded truth, in points: the bump peaks at its centre and is sigma wide.
    rows = np.arange(len(bump))
    assert np.abs(bump.argmax(axis=1) - centres).max() <= 0.5
    at_one_sigma = np.clip(np.rint(centres + sigmas).astype(int), 0, bump.shape[1] - 1)
    inside = np.rint(centres + sigmas) < bump.shape[1]
    ratio = bump[rows, at_one_sigma][inside] / bump.max(axis=1)[inside]
    np.testing.assert_allclose(ratio, np.exp(-0.5), atol=0.12)


def test_the_truth_is_kept_beside_curves_and_labels_without_changing_them(curves, tmp_path):
    from ae_anomaly.core.storage import load_dataset, save_dataset

    _, validation = _pool_and_validation(curves, seed=3)
    normal = validation.y == 0
    assert np.isnan(validation.anomaly_centre[normal]).all()
    assert np.isfinite(validation.anomaly_centre[~normal]).all()
    assert (validation.anomaly_sigma[~normal] > 0).all()
    save_dataset(tmp_path / "validation.npz", validation)
    loaded = load_dataset(tmp_path / "validation.npz")
    np.testing.assert_array_equal(loaded.anomaly_centre, validation.anomaly_centre)


def test_pool_and_validation_sizes_labels_and_dtype(curves):
    pool, validation = _pool_and_validation(curves, seed=3)
    assert pool.x.shape == (2200, 256) and pool.x.dtype == np.float32
    assert (pool.y == NORMAL).sum() == 2000 and (pool.y == ANOMALY).sum() == 200
    assert pool.y[:2000].max() == NORMAL  # normal curves first, as the article concatenates
    assert validation.x.shape == (200, 256)


def test_same_seed_same_data_other_seed_other_data(curves):
    first, _ = _pool_and_validation(curves, seed=5)
    again, _ = _pool_and_validation(curves, seed=5)
    other, _ = _pool_and_validation(curves, seed=6)
    np.testing.assert_array_equal(first.x, again.x)
    assert not np.array_equal(first.x, other.x)


def test_validation_set_does_not_depend_on_pool_size(curves):
    _, validation = _pool_and_validation(curves, seed=5)
    _, validation_small_pool = _pool_and_validation(curves, seed=5, pool=(50, 5))
    np.testing.assert_array_equal(validation.x, validation_small_pool.x)


def test_noise_is_added_only_when_asked(default_params):
    noisy = bump_curves(default_params.generate.synthetic.model_copy(update={"noise_std": 0.05}))
    clean, _ = _pool_and_validation(bump_curves(default_params.generate.synthetic), seed=1)
    noisy_pool, _ = _pool_and_validation(noisy, seed=1)
    assert 0.04 < (noisy_pool.x - clean.x).std() < 0.06
