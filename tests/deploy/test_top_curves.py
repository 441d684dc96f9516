"""The most anomalous curves of a file, kept batch by batch."""

from __future__ import annotations

import numpy as np
import pytest

from ae_anomaly.core.types import InputError
from ae_anomaly.deploy.top_curves import TopCurves


def _columns(score: np.ndarray) -> dict[str, np.ndarray]:
    rows = np.arange(len(score))
    return {
        "ae_threshold_score": score,
        "anomaly_start": rows,
        "anomaly_end": rows + 2,
        "anomaly_peak": rows + 1,
    }


def test_batches_keep_the_same_curves_as_one_pass_ties_by_row():
    rng = np.random.default_rng(0)
    curves = rng.normal(size=(100, 8))
    score = np.round(rng.uniform(size=100), 1)  # ties
    top = TopCurves(5)
    for start in range(0, 100, 16):
        part = slice(start, start + 16)
        top.add(start + 1, curves[part], curves[part] * 0.1, _columns(score[part]))
    expected = np.lexsort((np.arange(100), -score))[:5]
    np.testing.assert_array_equal(top.rows, expected + 1)  # rows are numbered from 1
    np.testing.assert_array_equal(top.curves, curves[expected])
    np.testing.assert_allclose(top.reconstructions, curves[expected] * 0.9)
    np.testing.assert_array_equal(top.locations["anomaly_start"], expected % 16)


def test_an_unknown_detector_is_refused_naming_the_fitted_ones():
    top = TopCurves(3, rank_by="histogram_forest")
    with pytest.raises(InputError, match="it has ae_threshold"):
        top.add(1, np.zeros((2, 4)), np.zeros((2, 4)), _columns(np.zeros(2)))
    with pytest.raises(InputError, match="at least 1"):
        TopCurves(0)
