import subprocess
import sys

import numpy as np
import pytest

from ae_anomaly.core.types import Dataset, InputError
from ae_anomaly.data.split import check_pool_can_be_split, train_test_split_dataset


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


def _pool(normal: int, anomalous: int) -> Dataset:
    y = np.r_[np.zeros(normal, int), np.ones(anomalous, int)]
    return Dataset(np.zeros((len(y), 3), np.float32), y)


def _check(pool: Dataset, test_size: float, stratify: bool, seed: int = 42) -> None:
    check_pool_can_be_split(pool, test_size, True, stratify, seed, "inputs/a.tsv")


def test_the_check_looks_at_the_split_that_will_be_made():
    """One class of six normal, as in one-vs-rest on a multi-class archive: the worst case
    (every test curve normal) would refuse it, the real stratified split leaves 20 normal
    curves for training."""
    pool = _pool(34, 166)
    _check(pool, 0.4, stratify=True)
    train, _ = train_test_split_dataset(pool, 0.4, True, True, 42)
    assert np.count_nonzero(train.y == 0) == 20
    _check(_pool(34, 166), 0.4, stratify=False)  # unstratified, this seed leaves enough too
    _check(_pool(12, 0), 0.5, stratify=False)  # unlabelled: all normal, forests not fitted


def test_a_split_leaving_fewer_than_two_normal_training_curves_is_refused():
    with pytest.raises(
        InputError,
        match=r"inputs/a\.tsv has 6 curves, 2 of them normal; the split with split\.test_size "
        r"0\.5, stratified and base\.seed 42 leaves 1 normal curve\(s\).*lower split\.test_size",
    ):
        _check(_pool(2, 4), 0.5, stratify=True)


def test_a_test_split_without_anomalies_is_refused_for_the_forests():
    pool = _pool(40, 10)
    seed = next(
        seed
        for seed in range(100)
        if not train_test_split_dataset(pool, 0.1, True, False, seed)[1].y.any()
    )
    with pytest.raises(InputError, match=r"no anomalous curve in the test split.*stratify: true"):
        _check(pool, 0.1, stratify=False, seed=seed)
    _check(pool, 0.1, stratify=True, seed=seed)  # stratified, the test split gets one


def test_impossible_stratified_splits_name_the_parameter():
    with pytest.raises(InputError, match=r"split\.stratify needs at least 2 of each class"):
        _check(_pool(10, 1), 0.2, stratify=True)
    with pytest.raises(InputError, match=r"too few for split\.test_size"):
        _check(_pool(1, 0), 0.5, stratify=False)
