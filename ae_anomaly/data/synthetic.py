"""The article's synthetic curves: one Gaussian bump is normal, a second small bump an anomaly.

All generation is vectorised: parameters are drawn as arrays and every curve is evaluated in
one broadcast, which is both faster than the article's per-row loop and immune to the
indexing the printed article lost.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ae_anomaly.core.types import ANOMALY, NORMAL, Dataset


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


@dataclass(frozen=True)
class BumpCurves:
    """The article's curve family: a bump ~ U(mu), U(sigma) peaking at ``normal_max``; an
    anomaly adds a second, narrow bump of height ``anomaly_max`` (not renormalised)."""

    sample_size: int
    x_range: tuple[float, float]
    normal_mu: tuple[float, float]
    normal_sigma: tuple[float, float]
    normal_max: float
    anomaly_mu: tuple[float, float]
    anomaly_sigma: tuple[float, float]
    anomaly_max: float
    noise_std: float = 0.0

    def normal(self, count: int, rng: np.random.Generator) -> np.ndarray:
        """``count`` single-bump curves with mu, sigma drawn uniformly from their ranges."""
        mus = rng.uniform(*self.normal_mu, size=count)
        sigmas = rng.uniform(*self.normal_sigma, size=count)
        return gaussian_curves(mus, sigmas, self.sample_size, self.x_range, self.normal_max)

    def anomalous(
        self, count: int, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Normal curves plus a narrow second bump of height ``anomaly_max``; with each
        bump's centre and sigma in points along the curve (the truth to locate)."""
        base = self.normal(count, rng)
        mus = rng.uniform(*self.anomaly_mu, size=count)
        sigmas = rng.uniform(*self.anomaly_sigma, size=count)
        bump = gaussian_curves(mus, sigmas, self.sample_size, self.x_range, self.anomaly_max)
        points_per_unit = (self.sample_size - 1) / (self.x_range[1] - self.x_range[0])
        return base + bump, (mus - self.x_range[0]) * points_per_unit, sigmas * points_per_unit

    def dataset(self, n_normal: int, n_anomalous: int, rng: np.random.Generator) -> Dataset:
        """Normal curves first, then anomalies (as the article concatenates them), as float32,
        with where each anomaly's bump lies (NaN for normal curves)."""
        normal = self.normal(n_normal, rng)  # first: the random stream's order is the data's
        anomalous, centres, sigmas = self.anomalous(n_anomalous, rng)
        x = np.concatenate([normal, anomalous])
        if self.noise_std:
            x = x + rng.normal(0.0, self.noise_std, size=x.shape)
        y = np.concatenate([np.full(n_normal, NORMAL), np.full(n_anomalous, ANOMALY)])
        unknown = np.full(n_normal, np.nan)
        return Dataset(
            x.astype(np.float32),
            y.astype(np.int64),
            anomaly_centre=np.concatenate([unknown, centres]),
            anomaly_sigma=np.concatenate([unknown, sigmas]),
        )


def pool_and_validation(
    curves: BumpCurves,
    pool_counts: tuple[int, int],
    validation_counts: tuple[int, int],
    seed: int,
) -> tuple[Dataset, Dataset]:
    """The article's pool and its separately generated validation set, as (normal, anomalous)
    counts.

    Each gets its own child stream of one seed, so growing the pool never changes the
    validation curves (and vice versa).
    """
    pool_seed, validation_seed = np.random.SeedSequence(seed).spawn(2)
    pool = curves.dataset(*pool_counts, np.random.default_rng(pool_seed))
    validation = curves.dataset(*validation_counts, np.random.default_rng(validation_seed))
    return pool, validation
