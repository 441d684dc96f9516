from typing import Any, ClassVar, Self

import numpy as np

from ae_anomaly.detectors.reconstruction import ReconstructionThresholdDetector
from ae_anomaly.detectors.residual import FitsOn, fit_residual_detectors


class _Recording(ReconstructionThresholdDetector):
    """Remembers what ``fit`` was given."""

    reference_on: ClassVar[FitsOn | None] = None

    def fit(self, X: np.ndarray, y: Any = None, **fit_params: Any) -> Self:
        self.seen_ = (len(X), {name: len(value) for name, value in fit_params.items()})
        return super().fit(X, y, **fit_params)


def _sets() -> dict[FitsOn, tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(0)
    return {
        name: (rng.normal(size=(rows, 8)), np.zeros(rows, dtype=np.int64))
        for name, rows in (("holdout", 5), ("test", 7), ("normal", 30))
    }


def test_a_detector_naming_a_reference_set_gets_its_residuals_the_others_do_not():
    standardising = ReconstructionThresholdDetector(standardize=True)
    plain = _Recording()
    fitted = fit_residual_detectors({"a": standardising, "b": plain}, _sets())
    assert fitted["b"].seen_ == (5, {})
    np.testing.assert_allclose(fitted["a"].scale_.center, _sets()["normal"][0].mean(0))


def test_fitted_through_a_submit_function_gives_the_same_detector():
    def submit(label, function, *args):
        from concurrent.futures import Future

        future: Future = Future()
        future.set_result(function(*args))
        return future

    def detectors():
        return {name: ReconstructionThresholdDetector(standardize=True) for name in "xy"}

    here = fit_residual_detectors(detectors(), _sets())
    there = fit_residual_detectors(detectors(), _sets(), submit)
    for name in "xy":
        np.testing.assert_array_equal(here[name].scale_.scale, there[name].scale_.scale)
        assert here[name].threshold_ == there[name].threshold_
