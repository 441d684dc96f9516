"""The residual detectors of the model list, imported by name.

:data:`ae_anomaly.core.models.MODELS` names each residual detector's class as
``"module:Class"``, so the list itself imports no estimator; the stages that fit or score
the detectors resolve the names here (and ``tooling/imports.py`` counts every named module
as used wherever this module is).
"""

from __future__ import annotations

import importlib

from ae_anomaly.core.models import MODELS, Model
from ae_anomaly.detectors.residual import ResidualDetector


def residual_detector_class(entry: Model) -> type[ResidualDetector]:
    if entry.residual_detector is None:
        raise ValueError(f"{entry.name} is not a detector on residuals")
    module_name, _, class_name = entry.residual_detector.partition(":")
    detector_class = getattr(importlib.import_module(module_name), class_name)
    if not (isinstance(detector_class, type) and issubclass(detector_class, ResidualDetector)):
        raise TypeError(f"{entry.residual_detector} is not a ResidualDetector")
    return detector_class


def residual_detector_classes() -> dict[str, type[ResidualDetector]]:
    """Every residual detector of the model list, by model name, in the list's order."""
    return {entry.name: residual_detector_class(entry) for entry in MODELS if entry.on_residuals}
