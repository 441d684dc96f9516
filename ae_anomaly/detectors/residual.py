"""What a detector on the autoencoder's residuals provides, so that the ``detector`` stage,
the deployable detector and MLflow handle every one of them alike.

Beyond :class:`~ae_anomaly.detectors.base.AnomalyDetector` (``fit``, ``decision_function``,
``threshold_``, ``predict`` on residual rows), a residual detector says which residuals it
fits on (:attr:`ResidualDetector.fits_on`), builds itself from its ``params.yaml`` section
(:meth:`~ResidualDetector.from_params`), and packs itself into plain files of the detector
folder (:meth:`~ResidualDetector.pack`), from which :meth:`~ResidualDetector.unpack` makes
the object that scores deployed curves (:class:`PackedResidualDetector`): no pickle, and no
scikit-learn estimator, on the scoring path.
"""

from __future__ import annotations

import functools
from abc import abstractmethod
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from pathlib import Path
from typing import Any, ClassVar, Literal, Protocol, Self

import numpy as np

from ae_anomaly.core.types import NotFitted, Predictions
from ae_anomaly.detectors.base import AnomalyDetector, fit_if_possible
from ae_anomaly.features.residuals import ResidualRows

#: ``holdout``: the held-out *normal* curves' residuals (no anomaly label is used);
#: ``test``: the labelled test split's residuals (the autoencoder never trained on them);
#: ``normal``: every normal curve of the train split (those the network trained on, whose
#: residuals training has shrunk, and the held-out ones).
FitsOn = Literal["holdout", "test", "normal"]


class PackedResidualDetector(Protocol):
    """A fitted residual detector as the deployable detector holds it."""

    def score(self, rows: ResidualRows) -> Predictions:
        """Anomaly scores (higher = more anomalous) and 0/1 labels of residual rows."""
        ...


class ResidualDetector(AnomalyDetector):
    """Base class of the detectors on residuals (see the module docstring)."""

    fits_on: ClassVar[FitsOn]
    #: A second set whose residuals ``fit`` gets as ``reference=`` (``None``: none).
    reference_on: ClassVar[FitsOn | None] = None

    @classmethod
    @abstractmethod
    def from_params(cls, params: Any, seed: int) -> Self:
        """The unfitted detector as its ``params.yaml`` section (named like the model)
        describes it; ``seed`` is ``base.seed``."""

    @abstractmethod
    def pack(self, folder: Path, name: str) -> dict[str, Any]:
        """Write what scoring needs beyond JSON into ``folder`` (files named ``name.*``) and
        return the JSON-able rest; the detector folder stores it under ``name``."""

    @classmethod
    @abstractmethod
    def unpack(
        cls, config: dict[str, Any], folder: Path, name: str, threads: int = 1
    ) -> PackedResidualDetector:
        """The scorer of a detector :meth:`pack` wrote (``threads``: the detector's share)."""


def fit_residual_detectors(
    detectors: Mapping[str, ResidualDetector],
    sets: Mapping[FitsOn, tuple[np.ndarray, np.ndarray]],
    submit: Callable[..., Future[Any]] | None = None,
) -> dict[str, ResidualDetector | NotFitted]:
    """Fit each detector on the residuals and labels of the set it fits on (and the residuals
    of its reference set, if it names one); one these labels cannot fit is
    :class:`~ae_anomaly.core.types.NotFitted` (with one log line).

    With ``submit`` (``submit(label, function, *args)``, e.g. a stage's background process),
    every detector but the last is fitted through it while the last is fitted here: they are
    independent, and each gives the same result wherever it is fitted.
    """
    names = list(detectors)
    pending: dict[str, Future[Any]] = {}
    fitted: dict[str, ResidualDetector | NotFitted] = {}
    for index, name in enumerate(names):
        detector = detectors[name]
        fit: Callable[..., Any] = fit_if_possible
        if detector.reference_on is not None:
            fit = functools.partial(fit_if_possible, reference=sets[detector.reference_on][0])
        arguments = (name, detector, *sets[detector.fits_on])
        if submit is not None and index < len(names) - 1:
            pending[name] = submit(name, fit, *arguments)
        else:
            fitted[name] = fit(*arguments)
    fitted |= {name: future.result() for name, future in pending.items()}
    return {name: fitted[name] for name in names}
