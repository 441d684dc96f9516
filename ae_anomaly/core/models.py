"""The one list of models the pipeline compares.

Evaluation, the results table, MLflow's metric names (``<model>.<metric>``) and the plot
definitions in ``dvc.yaml`` (``python -m tooling.dvc_plots``; a test keeps them in sync) are
all driven by :data:`MODELS`, in this order.

A model on the autoencoder's residuals names its class (``"module:Class"``, imported only
where it is fitted or scored): the ``detector`` stage fits it from the ``params.yaml``
section of its name and packs it, the deployable detector unpacks and scores it, and MLflow
logs it, all by looping over this list. Adding one is its module, its entry here and its
params section.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Model:
    """One compared model and what the article published for it."""

    name: str
    description: str
    #: The article's single-run anomaly F1 on its validation set; ``None``: not in the article.
    article_f1: float | None
    #: Whether fitting needs anomalous examples (supervised); on data without anomaly labels
    #: such a model is reported "not fitted".
    needs_anomalies: bool
    #: ``"module:Class"`` of a detector on the autoencoder's residuals (part of the deployable
    #: detector); ``None`` for a model on raw curves.
    residual_detector: str | None = None

    @property
    def on_residuals(self) -> bool:
        """Whether the model works on the autoencoder's residuals (the deployable detector)."""
        return self.residual_detector is not None


MODELS: tuple[Model, ...] = (
    Model("one_class_svm", "One-Class SVM on raw curves", 0.43, False),
    Model("isolation_forest", "Isolation Forest on raw curves", 0.17, False),
    Model("random_forest", "supervised Random Forest on raw curves", 0.40, True),
    Model(
        "ae_threshold",
        "threshold on the autoencoder's reconstruction error",
        None,
        False,
        "ae_anomaly.detectors.reconstruction:ReconstructionThresholdDetector",
    ),
    Model(
        "difference_forest",
        "Random Forest on the raw residual vector",
        0.82,
        True,
        "ae_anomaly.detectors.residual_forests:DifferenceForest",
    ),
    Model(
        "histogram_forest",
        "Random Forest on a histogram of the residuals",
        0.88,
        True,
        "ae_anomaly.detectors.residual_forests:HistogramForest",
    ),
)

MODEL_NAMES: tuple[str, ...] = tuple(model.name for model in MODELS)

#: The detectors that work on the autoencoder's residuals, in the order the detector reports them.
RESIDUAL_MODEL_NAMES: tuple[str, ...] = tuple(model.name for model in MODELS if model.on_residuals)


def model(name: str) -> Model:
    """The entry named ``name``; a typo is a ``KeyError`` naming the known models."""
    for entry in MODELS:
        if entry.name == name:
            return entry
    raise KeyError(f"unknown model {name!r}; known: {', '.join(MODEL_NAMES)}")
