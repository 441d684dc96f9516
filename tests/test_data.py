import numpy as np
import pytest

from ae_anomaly.data import (
    ANOMALY,
    NORMAL,
    Dataset,
    gaussian_curves,
    generate_anomalous,
    generate_normal,
    generate_pool_and_validation,
    train_test_split_dataset,
)


def test_gaussian_curves_peak_at_requested_height():
    curves = gaussian_curves(
        np.array([0.3, 0.5]), np.array([0.05, 0.2]), 256, (0, 1), np.array([1.0, 0.12])
    )
    assert curves.shape == (2, 256)
    np.testing.assert_allclose(curves.max(axis=1), [1.0, 0.12])
    assert np.argmax(curves[0]) == round(0.3 * 255)


def test_every_normal_curve_peaks_at_exactly_normal_max(default_params):
    curves = generate_normal(500, default_params.generate, np.random.default_rng(1))
    assert curves.shape == (500, 256)
    np.testing.assert_allclose(
        curves.max(axis=1), default_params.generate.normal_max, rtol=0, atol=1e-12
    )
    assert (curves > 0).all()


def test_every_anomaly_exceeds_its_base_curve_by_a_bump_of_anomaly_max(default_params):
    params = default_params.generate
    base = generate_normal(300, params, np.random.default_rng(7))
    anomalies = generate_anomalous(300, params, np.random.default_rng(7))
    bump = anomalies - base
    assert (bump >= 0).all()  # far from a narrow bump the Gaussian underflows to exactly 0
    np.testing.assert_allclose(bump.max(axis=1), params.anomaly_max, atol=1e-12)
    assert (anomalies.max(axis=1) > params.normal_max - 1e-12).all()


def test_pool_and_validation_sizes_labels_and_dtype(default_params):
    pool, validation = generate_pool_and_validation(default_params.generate, seed=3)
    p = default_params.generate
    assert pool.x.shape == (p.pool_normal + p.pool_anomalous, p.sample_size)
    assert pool.x.dtype == np.float32
    assert (pool.y == NORMAL).sum() == p.pool_normal and (
        pool.y == ANOMALY
    ).sum() == p.pool_anomalous
    assert validation.x.shape == (p.validation_normal + p.validation_anomalous, p.sample_size)


def test_same_seed_same_data_other_seed_other_data(default_params):
    first, _ = generate_pool_and_validation(default_params.generate, seed=5)
    again, _ = generate_pool_and_validation(default_params.generate, seed=5)
    other, _ = generate_pool_and_validation(default_params.generate, seed=6)
    np.testing.assert_array_equal(first.x, again.x)
    assert not np.array_equal(first.x, other.x)


def test_validation_set_does_not_depend_on_pool_size(default_params):
    bigger = default_params.generate.model_copy(update={"pool_normal": 50, "pool_anomalous": 5})
    _, validation = generate_pool_and_validation(default_params.generate, seed=5)
    _, validation_small_pool = generate_pool_and_validation(bigger, seed=5)
    np.testing.assert_array_equal(validation.x, validation_small_pool.x)


def test_noise_is_added_only_when_asked(default_params):
    noisy_params = default_params.generate.model_copy(update={"noise_std": 0.05})
    clean, _ = generate_pool_and_validation(default_params.generate, seed=1)
    noisy, _ = generate_pool_and_validation(noisy_params, seed=1)
    residual = noisy.x - clean.x
    assert 0.04 < residual.std() < 0.06


def test_split_sizes_and_stratification(small_dataset, default_params):
    split = default_params.split.model_copy(update={"stratify": True, "test_size": 0.25})
    train, test = train_test_split_dataset(small_dataset, split, seed=0)
    assert len(train.y) == 75 and len(test.y) == 25
    assert test.y.mean() == pytest.approx(small_dataset.y.mean(), abs=0.02)


def test_dataset_rejects_inconsistent_shapes():
    with pytest.raises(ValueError, match="inconsistent"):
        Dataset(np.zeros((3, 4)), np.zeros(2))
