"""The plain autoencoder detector: flag a curve whose reconstruction error is too large."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

import numpy as np
from sklearn.utils.validation import check_is_fitted, validate_data

from ae_anomaly.core.params import AEThresholdParams
from ae_anomaly.core.storage import load_arrays, save_arrays
from ae_anomaly.core.types import Predictions
from ae_anomaly.detectors.residual import ResidualDetector
from ae_anomaly.features.residual_scale import PointwiseScale
from ae_anomaly.features.residuals import ErrorKind, ResidualRows, reconstruction_errors


@dataclass(frozen=True)
class PackedThreshold:
    """The fitted cut on one error per residual row (of the standardised residuals where the
    detector standardises)."""

    error: ErrorKind
    threshold: float
    scale: PointwiseScale | None = None

    def score(self, rows: ResidualRows) -> Predictions:
        errors = curve_errors(rows, self.error, self.scale)
        return Predictions(errors, (errors > self.threshold).astype(np.int64))


def curve_errors(rows: ResidualRows, error: ErrorKind, scale: PointwiseScale | None) -> np.ndarray:
    """One error per residual row, of the residuals in units of ``scale`` where there is one:
    what the fitted detector and the packed one both score."""
    if scale is None:
        return rows.errors(error)
    return reconstruction_errors(scale.standardize(rows.values), error)


class ReconstructionThresholdDetector(ResidualDetector):
    """Score = one error per residual row (``mse``, ``mae`` or ``max_abs``); the cut is the
    ``quantile`` of the errors of *normal* rows seen in ``fit`` times ``margin``: no anomaly
    label is used.

    With ``standardize``, each point's residual is first divided by the spread of the normal
    residuals at that point (:mod:`ae_anomaly.features.residual_scale`). That spread is
    learnt from every normal training curve's residuals (``reference`` in :meth:`fit`: the
    curves the network trained on and the held-out ones): the held-out curves alone are too
    few on a real pool. The cut still comes from the held-out curves, whose errors are not
    shrunk by training on them.
    """

    fits_on = "holdout"
    reference_on = "normal"

    def __init__(
        self,
        error: ErrorKind = "mse",
        quantile: float = 0.99,
        margin: float = 1.0,
        standardize: bool = False,
        prior_curves: float = 5.0,
    ):
        self.error = error
        self.quantile = quantile
        self.margin = margin
        self.standardize = standardize
        self.prior_curves = prior_curves

    @classmethod
    def from_params(cls, params: AEThresholdParams, seed: int) -> Self:
        return cls(
            error=params.error,
            quantile=params.quantile,
            margin=params.margin,
            standardize=params.standardize,
            prior_curves=params.prior_curves,
        )

    def fit(
        self, X: np.ndarray, y: np.ndarray | None = None, reference: np.ndarray | None = None
    ) -> Self:
        """``X``: the held-out normal residuals; ``reference``: every normal training curve's
        residuals (``X``'s rows among them), which the per-point spread is learnt from when
        standardising (from ``X`` when ``None``)."""
        X = validate_data(self, X)
        self.scale_: PointwiseScale | None = None
        if self.standardize:
            rows = X if reference is None else np.asarray(reference)
            self.scale_ = PointwiseScale.fit(rows, self.prior_curves)
        self.threshold_ = float(np.quantile(self._errors(X), self.quantile)) * self.margin
        return self

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        check_is_fitted(self)
        return self._errors(validate_data(self, X, reset=False))

    def _errors(self, X: np.ndarray) -> np.ndarray:
        return curve_errors(ResidualRows(X), self.error, self.scale_)

    def pack(self, folder: Path, name: str) -> dict[str, Any]:
        check_is_fitted(self)
        config: dict[str, Any] = {"error": self.error, "threshold": float(self.threshold_)}
        if self.scale_ is not None:
            save_arrays(folder / f"{name}.npz", self.scale_.to_arrays())
            config["standardize"] = True
        return config

    @classmethod
    def unpack(
        cls, config: dict[str, Any], folder: Path, name: str, threads: int = 1
    ) -> PackedThreshold:
        scale = None
        if config.get("standardize", False):
            scale = PointwiseScale.from_arrays(load_arrays(folder / f"{name}.npz"))
        return PackedThreshold(config["error"], float(config["threshold"]), scale)
