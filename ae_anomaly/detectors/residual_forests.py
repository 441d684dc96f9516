"""The article's second stage: Random Forests trained on the autoencoder's residuals.

- :class:`DifferenceForest` sees the raw residual vector (one feature per point);
- :class:`HistogramForest` sees a histogram of each residual row, which no longer cares
  *where* along the curve a bump sits.

Both are trained on the *test* split's residuals (the autoencoder has fitted the train split,
so its residuals there are unrepresentatively small) and work on residuals of any curves.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

import numpy as np
from sklearn.utils.validation import check_is_fitted, validate_data

from ae_anomaly.core.params import DifferenceForestParams, HistogramForestParams
from ae_anomaly.core.storage import load_arrays, save_arrays
from ae_anomaly.core.threads import resolve_n_jobs
from ae_anomaly.core.types import Predictions
from ae_anomaly.detectors.forest import ForestDetector, anomaly_score, forest_labels
from ae_anomaly.detectors.packed_forest import ForestScorer, PackedForest
from ae_anomaly.detectors.residual import ResidualDetector
from ae_anomaly.features.residuals import (
    ResidualKind,
    ResidualRows,
    learned_histogram_range,
    row_histograms,
    transform_residuals,
)


@dataclass(frozen=True)
class PackedResidualForest:
    """A fitted residual forest as the deployable detector holds it: how its features are
    made, its trees as node tables (``<name>.npz``), its cut."""

    residual: ResidualKind
    forest: PackedForest
    threshold: float
    votes_decide: bool
    #: The histogram forest's bins and range; ``None`` for the difference forest.
    bins: int | None = None
    value_range: tuple[float, float] | None = None
    _scorer: ForestScorer = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:  # the trees are rebuilt once, when unpacked
        object.__setattr__(self, "_scorer", self.forest.scorer())

    def features(self, values: np.ndarray) -> np.ndarray:
        """What the forest sees of residual rows: a histogram per row, or the folded rows."""
        return self._features_of_folded(transform_residuals(values, self.residual))

    def _features_of_folded(self, folded: np.ndarray) -> np.ndarray:
        if self.bins is None:
            return folded
        assert self.value_range is not None
        return row_histograms(folded, self.bins, self.value_range)

    def score(self, rows: ResidualRows) -> Predictions:
        features = self._features_of_folded(rows.folded(self.residual))
        proba = self._scorer.predict_proba(features)
        classes = self.forest.classes
        return Predictions(
            anomaly_score(proba, classes),
            forest_labels(proba, classes, self.votes_decide, self.threshold),
        )

    def config(self) -> dict[str, Any]:
        return {
            "residual": self.residual,
            "threshold": self.threshold,
            "votes_decide": self.votes_decide,
            "bins": self.bins,
            "value_range": None if self.value_range is None else list(self.value_range),
        }

    @classmethod
    def from_config(
        cls, config: Mapping[str, Any], arrays: Mapping[str, np.ndarray]
    ) -> PackedResidualForest:
        value_range = config.get("value_range")
        return cls(
            residual=config["residual"],
            forest=PackedForest.from_arrays(arrays),
            threshold=float(config["threshold"]),
            votes_decide=bool(config["votes_decide"]),
            bins=config.get("bins"),
            value_range=None if value_range is None else (value_range[0], value_range[1]),
        )


class _ResidualForest(ResidualDetector):
    """A :class:`ForestDetector` on features of residual rows; subclasses define the features."""

    _needs_labels = True
    fits_on = "test"

    def __init__(
        self,
        residual: ResidualKind = "signed",
        n_estimators: int = 100,
        max_features: int | float | str = "sqrt",
        class_weight: str | None = None,
        decision_threshold: float | str = 0.5,
        n_jobs: int | None = None,
        random_state: int | None = None,
    ):
        self.residual = residual
        self.n_estimators = n_estimators
        self.max_features = max_features
        self.class_weight = class_weight
        self.decision_threshold = decision_threshold
        self.n_jobs = n_jobs
        self.random_state = random_state

    def _features(self, residuals: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _fit_forest(self, residuals: np.ndarray, y: np.ndarray) -> None:
        self.forest_ = ForestDetector(
            n_estimators=self.n_estimators,
            max_features=self.max_features,
            class_weight=self.class_weight,
            decision_threshold=self.decision_threshold,
            n_jobs=self.n_jobs,
            random_state=self.random_state,
        ).fit(self._features(residuals), y)
        self.threshold_ = self.forest_.threshold_

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        check_is_fitted(self)
        return self.forest_.decision_function(self._features(validate_data(self, X, reset=False)))

    def predict(self, X: np.ndarray) -> np.ndarray:
        check_is_fitted(self)
        return self.forest_.predict(self._features(validate_data(self, X, reset=False)))

    def _packed(self) -> PackedResidualForest:
        check_is_fitted(self)
        return PackedResidualForest(
            residual=self.residual,
            forest=PackedForest.from_sklearn(self.forest_.model_),
            threshold=float(self.forest_.threshold_),
            votes_decide=bool(self.forest_.votes_decide_),
            bins=getattr(self, "bins", None),
            value_range=getattr(self, "value_range_", None),
        )

    def pack(self, folder: Path, name: str) -> dict[str, Any]:
        packed = self._packed()
        save_arrays(folder / f"{name}.npz", packed.forest.to_arrays())
        return packed.config()

    @classmethod
    def unpack(
        cls, config: dict[str, Any], folder: Path, name: str, threads: int = 1
    ) -> PackedResidualForest:
        return PackedResidualForest.from_config(config, load_arrays(folder / f"{name}.npz"))


def _forest_settings(
    params: DifferenceForestParams | HistogramForestParams, seed: int
) -> dict[str, Any]:
    """The settings both residual forests take from their params section."""
    return {
        "residual": params.residual,
        "n_estimators": params.n_estimators,
        "max_features": params.max_features,
        "class_weight": params.class_weight,
        "decision_threshold": params.decision_threshold,
        "n_jobs": resolve_n_jobs(params.n_jobs),
        "random_state": seed,
    }


class DifferenceForest(_ResidualForest):
    """Random Forest on the (folded) residual vector: one feature per point of the curve."""

    @classmethod
    def from_params(cls, params: DifferenceForestParams, seed: int) -> Self:
        return cls(**_forest_settings(params, seed))

    def fit(self, X: np.ndarray, y: np.ndarray) -> Self:
        X, y = validate_data(self, X, y)
        self._fit_forest(X, y)
        return self

    def _features(self, residuals: np.ndarray) -> np.ndarray:
        return transform_residuals(residuals, self.residual)


class HistogramForest(_ResidualForest):
    """Random Forest on each residual row's histogram (``bins`` counts over ``value_range``).

    With ``value_range=None`` the range is learned in ``fit``: the ``range_quantile`` of the
    training residuals' magnitude (a well-trained autoencoder's residuals span ~0.1, so the
    article's fixed (-0.3, 0.3) put almost every point into 2 of 10 bins).
    """

    def __init__(
        self,
        bins: int = 10,
        value_range: tuple[float, float] | None = (-0.3, 0.3),
        range_quantile: float = 1.0,
        residual: ResidualKind = "signed",
        n_estimators: int = 100,
        max_features: int | float | str = "sqrt",
        class_weight: str | None = None,
        decision_threshold: float | str = 0.5,
        n_jobs: int | None = None,
        random_state: int | None = None,
    ):
        super().__init__(
            residual=residual,
            n_estimators=n_estimators,
            max_features=max_features,
            class_weight=class_weight,
            decision_threshold=decision_threshold,
            n_jobs=n_jobs,
            random_state=random_state,
        )
        self.bins = bins
        self.value_range = value_range
        self.range_quantile = range_quantile

    @classmethod
    def from_params(cls, params: HistogramForestParams, seed: int) -> Self:
        return cls(
            bins=params.bins,
            value_range=params.range,
            range_quantile=params.range_quantile,
            **_forest_settings(params, seed),
        )

    def fit(self, X: np.ndarray, y: np.ndarray) -> Self:
        X, y = validate_data(self, X, y)
        if self.value_range is not None:
            self.value_range_ = (float(self.value_range[0]), float(self.value_range[1]))
        else:
            self.value_range_ = learned_histogram_range(X, self.residual, self.range_quantile)
        self._fit_forest(X, y)
        return self

    def histograms(self, X: np.ndarray) -> np.ndarray:
        """The features the forest sees: one row of ``bins`` counts per residual row."""
        check_is_fitted(self, "value_range_")
        return self._features(validate_data(self, X, reset=False))

    def _features(self, residuals: np.ndarray) -> np.ndarray:
        return row_histograms(
            transform_residuals(residuals, self.residual), self.bins, self.value_range_
        )
