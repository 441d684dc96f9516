"""A packed forest scores exactly like the scikit-learn forest it came from, after a round
trip through a pickle-free .npz file."""

import numpy as np
import pytest
from sklearn.ensemble import RandomForestClassifier

from ae_anomaly.detectors.packed_forest import BLOCK_ROWS, PackedForest, PackedForestError


@pytest.fixture(scope="module")
def forest_and_rows():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 12))
    y = (x[:, 0] + 0.5 * rng.normal(size=300) > 1).astype(int)
    forest = RandomForestClassifier(
        n_estimators=40, max_features="sqrt", class_weight="balanced", random_state=0
    ).fit(x, y)
    rows = rng.normal(size=(2 * BLOCK_ROWS + 17, 12))  # several blocks, one partial
    return forest, rows


def test_probabilities_equal_sklearns_bit_for_bit(tmp_path, forest_and_rows):
    forest, rows = forest_and_rows
    np.savez(tmp_path / "forest.npz", **PackedForest.from_sklearn(forest).to_arrays())
    with np.load(tmp_path / "forest.npz", allow_pickle=False) as archive:
        packed = PackedForest.from_arrays(dict(archive))
    assert packed.n_trees == 40 and packed.n_features == 12
    for threads in (1, 2):
        proba = packed.scorer(threads).predict_proba(rows)
        np.testing.assert_array_equal(proba, forest.predict_proba(rows))


def test_wrong_width_and_incomplete_arrays_are_refused(forest_and_rows):
    forest, rows = forest_and_rows
    scorer = PackedForest.from_sklearn(forest).scorer()
    with pytest.raises(ValueError, match="expects 12"):
        scorer.predict_proba(rows[:, :5])
    arrays = PackedForest.from_sklearn(forest).to_arrays()
    del arrays["nodes"]
    with pytest.raises(PackedForestError, match="missing arrays"):
        PackedForest.from_arrays(arrays)


def test_an_empty_batch_gives_no_rows(forest_and_rows):
    forest, rows = forest_and_rows
    assert PackedForest.from_sklearn(forest).scorer().predict_proba(rows[:0]).shape == (0, 2)
