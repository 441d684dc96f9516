"""The article's train/test split of the pool, and whether a pool is large enough for it."""

from __future__ import annotations

import math

import numpy as np

from ae_anomaly.core.types import NORMAL, Dataset, InputError

#: Normal training curves the autoencoder needs at least: one to fit, one to hold out.
MIN_NORMAL_TRAINING_CURVES = 2


def train_test_split_dataset(
    dataset: Dataset, test_size: float, shuffle: bool, stratify: bool, seed: int
) -> tuple[Dataset, Dataset]:
    """scikit-learn's ``train_test_split`` of curves and labels together.

    The unstratified split (the article's and the default) is drawn here exactly as
    scikit-learn draws it, row for row (``tests/data/test_split.py`` compares both): importing
    scikit-learn would be most of this stage's time. A stratified split is
    scikit-learn's own.
    """
    if stratify:
        from sklearn.model_selection import train_test_split

        x_train, x_test, y_train, y_test = train_test_split(
            dataset.x,
            dataset.y,
            test_size=test_size,
            shuffle=shuffle,
            stratify=dataset.y,
            random_state=seed,
        )
        return Dataset(x_train, y_train), Dataset(x_test, y_test)
    train, test = shuffled_split_indices(len(dataset.y), test_size, shuffle, seed)
    return (
        Dataset(dataset.x[train], dataset.y[train]),
        Dataset(dataset.x[test], dataset.y[test]),
    )


def shuffled_split_indices(
    count: int, test_size: float, shuffle: bool, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Row indices of the training and test parts, as scikit-learn's ``ShuffleSplit`` (or, with
    ``shuffle`` off, its leading/trailing rows) picks them: ``ceil(test_size * count)`` test
    rows, the first ones of a ``RandomState(seed)`` permutation."""
    n_test = math.ceil(test_size * count)
    if not 0 < n_test < count:
        raise ValueError(f"split.test_size {test_size} leaves an empty part of {count} rows")
    if not shuffle:
        return np.arange(count - n_test), np.arange(count - n_test, count)
    permutation = np.random.RandomState(seed).permutation(count)
    return permutation[n_test:], permutation[:n_test]


def check_pool_can_be_split(pool: Dataset, test_size: float, stratify: bool, source: str) -> None:
    """Raise :class:`InputError` when any split of ``pool`` could leave the autoencoder fewer
    than two normal training curves, or when stratifying is impossible; ``source`` names the
    pool's file for the message."""
    count = len(pool.y)
    n_test = math.ceil(test_size * count)
    normal = int(np.count_nonzero(pool.y == NORMAL))
    if normal - n_test < MIN_NORMAL_TRAINING_CURVES:
        raise InputError(
            f"{source} has {count} curves, {normal} of them normal: with split.test_size "
            f"{test_size} up to {n_test} go to the test split, which can leave fewer than "
            f"{MIN_NORMAL_TRAINING_CURVES} normal curves to train the autoencoder on. "
            "Add curves or lower split.test_size."
        )
    if stratify:
        anomalies = count - normal
        if 0 < anomalies < 2:
            raise InputError(
                f"{source} has {anomalies} anomalous curve(s): split.stratify needs at least 2 "
                "of each class. Add curves or set split.stratify: false."
            )
    if count - n_test < 1 or n_test < 1:
        raise InputError(f"{source} has {count} curves: too few for split.test_size {test_size}")
