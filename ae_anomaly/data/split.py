"""The article's train/test split of the pool, and whether the split it makes can be used."""

from __future__ import annotations

import math

import numpy as np

from ae_anomaly.core.types import ANOMALY, NORMAL, Dataset, InputError

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


def check_pool_can_be_split(
    pool: Dataset, test_size: float, shuffle: bool, stratify: bool, seed: int, source: str
) -> None:
    """Raise :class:`InputError` when the split ``split`` will make of ``pool`` (it is
    deterministic: the same seed, size and stratification) cannot be used: it leaves the
    autoencoder fewer than two normal training curves, or, for a pool with anomalies, gives
    the forests a test split without one of the two classes. ``source`` names the pool's file
    for the message, which names the parameter to change."""
    count = len(pool.y)
    normal = int(np.count_nonzero(pool.y == NORMAL))
    anomalies = count - normal
    n_test = math.ceil(test_size * count)
    if not 0 < n_test < count:
        raise InputError(f"{source} has {count} curves: too few for split.test_size {test_size}")
    if stratify and 0 < anomalies < 2:
        raise InputError(
            f"{source} has {anomalies} anomalous curve(s): split.stratify needs at least 2 "
            "of each class. Add curves or set split.stratify: false."
        )
    try:
        train, test = train_test_split_dataset(pool, test_size, shuffle, stratify, seed)
    except ValueError as error:  # scikit-learn refusing a stratified split of these counts
        raise InputError(
            f"{source}: split.stratify cannot split {count} curves ({normal} normal) with "
            f"split.test_size {test_size}: {error}. Change split.test_size or set "
            "split.stratify: false."
        ) from None
    described = (
        f"{source} has {count} curves, {normal} of them normal; the split with "
        f"split.test_size {test_size}{', stratified' if stratify else ''} and base.seed {seed}"
    )
    normal_train = int(np.count_nonzero(train.y == NORMAL))
    if normal_train < MIN_NORMAL_TRAINING_CURVES:
        advice = (
            "lower split.test_size"
            if stratify
            else "set split.stratify: true or lower split.test_size"
        )
        raise InputError(
            f"{described} leaves {normal_train} normal curve(s) to train the autoencoder on, "
            f"fewer than {MIN_NORMAL_TRAINING_CURVES}: {advice}, or add normal curves."
        )
    if anomalies:
        missing = [
            name
            for name, label in (("normal", NORMAL), ("anomalous", ANOMALY))
            if not np.any(test.y == label)
        ]
        if missing:
            advice = "raise split.test_size" + ("" if stratify else " or set split.stratify: true")
            raise InputError(
                f"{described} puts no {' and no '.join(missing)} curve in the test split the "
                f"residual forests learn from: {advice}."
            )
