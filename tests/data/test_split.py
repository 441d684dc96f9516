import subprocess
import sys

import numpy as np
import pytest

from ae_anomaly.core.types import Dataset
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


@pytest.mark.parametrize("shuffle", [True, False])
@pytest.mark.parametrize(
    ("count", "test_size", "seed"), [(2200, 0.2, 42), (150, 0.3, 1), (7, 0.5, 9)]
)
def test_unstratified_split_is_scikit_learns_row_for_row(count, test_size, seed, shuffle):
    from sklearn.model_selection import train_test_split

    rng = np.random.default_rng(seed)
    dataset = Dataset(rng.normal(size=(count, 5)), rng.integers(0, 2, size=count))
    train, test = train_test_split_dataset(dataset, test_size, shuffle, False, seed)
    expected = train_test_split(
        dataset.x, dataset.y, test_size=test_size, shuffle=shuffle, random_state=seed
    )
    for got, want in zip((train.x, test.x, train.y, test.y), expected, strict=True):
        np.testing.assert_array_equal(got, want)


def test_default_split_does_not_import_scikit_learn():
    """The default split is the ``split`` stage's only work; importing scikit-learn for it
    would triple the stage's time."""
    code = (
        "import sys, numpy as np, stages.split\n"
        "from ae_anomaly.data.split import train_test_split_dataset\n"
        "from ae_anomaly.core.types import Dataset\n"
        "train_test_split_dataset(Dataset(np.ones((10, 3)), np.zeros(10)), 0.2, True, False, 0)\n"
        "assert 'sklearn' not in sys.modules, 'scikit-learn was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
