import numpy as np
import pytest


@pytest.fixture
def blobs():
    """Normal points near 0, anomalies far away: any sane detector must rank them higher."""
    rng = np.random.default_rng(0)
    normal = rng.normal(0, 1, size=(200, 8))
    anomalies = rng.normal(8, 1, size=(20, 8))
    x = np.vstack([normal, anomalies])
    y = np.r_[np.zeros(200, int), np.ones(20, int)]
    return x, y
