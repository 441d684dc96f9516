"""The values every layer passes around: labelled curves and a detector's output.

This module imports nothing else of the package, so every other module can use it without
pulling in (or, for DVC, depending on) any algorithm.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np

#: Label values, everywhere: a prediction of ``ANOMALY`` flags a curve.
NORMAL: Final = 0
ANOMALY: Final = 1


class ReportedError(Exception):
    """A failure whose message says what happened, where, and what to do about it: stages and
    the command line report it in one line, without a traceback, and exit with
    ``exit_code``."""

    exit_code = 1


class InputError(ReportedError, ValueError):
    """Bad input from the user (a parameter, a data file): the message says what and where,
    and a stage reports it in one line and exits before writing anything."""

    exit_code = 2


@dataclass(frozen=True)
class Dataset:
    """Curves ``x`` (n_curves, curve_length) with labels ``y`` (``NORMAL`` or ``ANOMALY``),
    and, where it is known (the synthetic curves), where each anomaly lies: its centre and
    width (the second bump's mu and sigma) in points along the curve, NaN for normal curves."""

    x: np.ndarray
    y: np.ndarray
    anomaly_centre: np.ndarray | None = None
    anomaly_sigma: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.x.ndim != 2 or self.y.ndim != 1 or len(self.x) != len(self.y):
            raise ValueError(f"inconsistent shapes: x {self.x.shape}, y {self.y.shape}")
        for where in (self.anomaly_centre, self.anomaly_sigma):
            if where is not None and where.shape != self.y.shape:
                raise ValueError(f"inconsistent shapes: y {self.y.shape}, truth {where.shape}")

    @property
    def has_truth(self) -> bool:
        """Whether the anomalies' true locations are known."""
        return self.anomaly_centre is not None and self.anomaly_sigma is not None

    @property
    def normal(self) -> np.ndarray:
        """The normal curves only: what an autoencoder trains on."""
        return self.x[self.y == NORMAL]

    @property
    def has_anomalies(self) -> bool:
        """Whether a supervised detector could learn from these labels."""
        return bool(np.any(self.y == ANOMALY))


@dataclass(frozen=True)
class Predictions:
    """A detector's output on one set: anomaly scores (higher = more anomalous) and 0/1 labels."""

    score: np.ndarray
    label: np.ndarray


@dataclass(frozen=True)
class NotFitted:
    """A model that could not be fitted on this data, and why (reported, never invented)."""

    reason: str


#: What a stage records for one model on one set.
ModelOutput = Predictions | NotFitted


@dataclass(frozen=True)
class Evaluation:
    """Everything we report for one model on one labelled set (computed by
    :func:`ae_anomaly.report.evaluation.evaluate_detector`; defined here, with the other values that
    cross process boundaries, so that holding one imports no metrics library)."""

    metrics: dict[str, float]
    report: str
    confusion: np.ndarray
