"""Synthetic curves of the article: one Gaussian bump is normal, a second small bump is an anomaly.

All generation is vectorised: parameters are drawn as arrays and every curve is evaluated in
one broadcast, which is both faster than the article's per-row loop and immune to the
indexing the printed article lost.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ae_anomaly.params import GenerateParams, SplitParams

NORMAL, ANOMALY = 0, 1


@dataclass(frozen=True)
class Dataset:
    """Curves ``x`` (n_samples, sample_size) with labels ``y`` (0 = normal, 1 = anomaly)."""

    x: np.ndarray
    y: np.ndarray

    def __post_init__(self) -> None:
        if self.x.ndim != 2 or self.y.ndim != 1 or len(self.x) != len(self.y):
            raise ValueError(f"inconsistent shapes: x {self.x.shape}, y {self.y.shape}")


@dataclass(frozen=True)
class Predictions:
    """A detector's output on one set: continuous anomaly scores and 0/1 labels."""

    score: np.ndarray
    label: np.ndarray


def gaussian_curves(
    mus: np.ndarray,
    sigmas: np.ndarray,
    sample_size: int,
    x_range: tuple[float, float],
    max_values: float | np.ndarray,
) -> np.ndarray:
    """One Gaussian per row, evaluated on ``linspace(*x_range, sample_size)``, peak = max_value.

    The article's ``gen_normal_distribution`` rescales the *sampled* maximum to ``max_val``
    (not the analytic one), so a bump centred between grid points still peaks at exactly
    ``max_val``; this keeps that convention.
    """
    grid = np.linspace(*x_range, sample_size)
    mus = np.asarray(mus, dtype=np.float64)[:, None]
    sigmas = np.asarray(sigmas, dtype=np.float64)[:, None]
    curves = np.exp(-((grid[None, :] - mus) ** 2) / (2 * sigmas**2))
    scale = np.asarray(max_values, dtype=np.float64).reshape(-1, 1) / curves.max(
        axis=1, keepdims=True
    )
    return curves * scale


def generate_normal(count: int, params: GenerateParams, rng: np.random.Generator) -> np.ndarray:
    """``count`` single-bump curves with mu, sigma drawn uniformly from the params' ranges."""
    mus = rng.uniform(*params.normal_mu, size=count)
    sigmas = rng.uniform(*params.normal_sigma, size=count)
    return gaussian_curves(mus, sigmas, params.sample_size, params.x_range, params.normal_max)


def generate_anomalous(count: int, params: GenerateParams, rng: np.random.Generator) -> np.ndarray:
    """Normal curves plus a narrow second bump of height ``anomaly_max`` (not renormalised)."""
    base = generate_normal(count, params, rng)
    mus = rng.uniform(*params.anomaly_mu, size=count)
    sigmas = rng.uniform(*params.anomaly_sigma, size=count)
    bump = gaussian_curves(mus, sigmas, params.sample_size, params.x_range, params.anomaly_max)
    return base + bump


def _add_noise(x: np.ndarray, noise_std: float, rng: np.random.Generator) -> np.ndarray:
    if noise_std == 0:
        return x
    return x + rng.normal(0.0, noise_std, size=x.shape)


def generate_dataset(
    n_normal: int, n_anomalous: int, params: GenerateParams, rng: np.random.Generator
) -> Dataset:
    """Normal curves first, then anomalies (as the article concatenates them), as float32."""
    x = np.concatenate(
        [generate_normal(n_normal, params, rng), generate_anomalous(n_anomalous, params, rng)]
    )
    x = _add_noise(x, params.noise_std, rng)
    y = np.concatenate([np.full(n_normal, NORMAL), np.full(n_anomalous, ANOMALY)]).astype(np.int64)
    return Dataset(x.astype(np.float32), y)


def generate_pool_and_validation(params: GenerateParams, seed: int) -> tuple[Dataset, Dataset]:
    """The article's pool and its separately generated validation set.

    Each gets its own child stream of one seed, so growing the pool never changes the
    validation curves (and vice versa).
    """
    pool_seed, validation_seed = np.random.SeedSequence(seed).spawn(2)
    pool = generate_dataset(
        params.pool_normal, params.pool_anomalous, params, np.random.default_rng(pool_seed)
    )
    validation = generate_dataset(
        params.validation_normal,
        params.validation_anomalous,
        params,
        np.random.default_rng(validation_seed),
    )
    return pool, validation


def train_test_split_dataset(
    dataset: Dataset, params: SplitParams, seed: int
) -> tuple[Dataset, Dataset]:
    """scikit-learn's ``train_test_split`` with the split section's settings and the base seed."""
    # Imported here: scikit-learn takes a second to import, and ``generate`` never splits.
    from sklearn.model_selection import train_test_split

    x_train, x_test, y_train, y_test = train_test_split(
        dataset.x,
        dataset.y,
        test_size=params.test_size,
        shuffle=params.shuffle,
        stratify=dataset.y if params.stratify else None,
        random_state=seed,
    )
    return Dataset(x_train, y_train), Dataset(x_test, y_test)
