import numpy as np
import pytest

from ae_anomaly.data.split import train_test_split_dataset


def test_split_sizes_and_stratification(small_dataset):
    train, test = train_test_split_dataset(
        small_dataset, test_size=0.25, shuffle=True, stratify=True, seed=0
    )
    assert len(train.y) == 75 and len(test.y) == 25
    assert test.y.mean() == pytest.approx(small_dataset.y.mean(), abs=0.02)


def test_split_keeps_curves_with_their_labels_and_follows_the_seed(small_dataset):
    train, test = train_test_split_dataset(small_dataset, 0.2, True, False, seed=1)
    again, _ = train_test_split_dataset(small_dataset, 0.2, True, False, seed=1)
    np.testing.assert_array_equal(train.x, again.x)
    rows = {tuple(row): label for row, label in zip(small_dataset.x, small_dataset.y, strict=True)}
    for part in (train, test):
        assert all(rows[tuple(row)] == label for row, label in zip(part.x, part.y, strict=True))
