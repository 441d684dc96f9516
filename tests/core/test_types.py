import numpy as np
import pytest

from ae_anomaly.core.types import ANOMALY, NORMAL, Dataset


def test_dataset_rejects_inconsistent_shapes():
    with pytest.raises(ValueError, match="inconsistent"):
        Dataset(np.zeros((3, 4)), np.zeros(2))
    with pytest.raises(ValueError, match="inconsistent"):
        Dataset(np.zeros(4), np.zeros(4))


def test_dataset_views_of_its_normal_curves_and_anomalies():
    dataset = Dataset(np.arange(8.0).reshape(4, 2), np.array([NORMAL, ANOMALY, NORMAL, NORMAL]))
    np.testing.assert_array_equal(dataset.normal, [[0, 1], [4, 5], [6, 7]])
    assert dataset.has_anomalies
    assert not Dataset(dataset.normal, np.zeros(3, dtype=int)).has_anomalies
