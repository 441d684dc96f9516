"""From ``params.yaml`` to objects, in one place: every generator, detector, network and
training configuration the stages use is built here from its params section.

The estimator modules are imported inside the functions that build them: DVC reruns a stage
when a module it depends on changes, and each stage should depend only on the estimators it
builds (``baselines`` never on the histogram code, ``generate`` never on a detector).
``tests/test_pipeline_definition.py`` follows these imports function by function.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ae_anomaly.core.params import (
    BaselinesParams,
    GenerateParams,
    Params,
    SyntheticParams,
    TrainAEParams,
)
from ae_anomaly.core.threads import resolve_n_jobs

if TYPE_CHECKING:
    import numpy as np
    import torch

    from ae_anomaly.core.types import Dataset
    from ae_anomaly.data.synthetic import BumpCurves
    from ae_anomaly.detectors.base import AnomalyDetector
    from ae_anomaly.detectors.location import AnomalyLocator
    from ae_anomaly.detectors.residual import ResidualDetector
    from ae_anomaly.networks.base import Network
    from ae_anomaly.networks.training import Trainer, TrainingConfig


def pool_and_validation(
    params: GenerateParams, seed: int, inputs: Path
) -> tuple[Dataset, Dataset, str]:
    """The pool and the validation set from the ``generate`` section's source, and the name
    of where the pool came from (for messages): the article's synthetic curves, or the
    user's files under ``inputs``."""
    if params.source == "synthetic":
        from ae_anomaly.data.synthetic import pool_and_validation as synthetic

        counts = params.synthetic
        pool, validation = synthetic(
            bump_curves(counts),
            pool_counts=(counts.pool_normal, counts.pool_anomalous),
            validation_counts=(counts.validation_normal, counts.validation_anomalous),
            seed=seed,
        )
        return pool, validation, "the synthetic pool (generate.synthetic)"

    from ae_anomaly.data.files import input_file, read_pool_and_validation

    files = params.files
    assert files.train is not None and files.validation is not None  # checked by the schema
    train = input_file(files.train, inputs, "generate.files.train")
    validation_file = input_file(files.validation, inputs, "generate.files.validation")
    pool, validation = read_pool_and_validation(
        train, validation_file, files.layout, files.label_column, files.normal_labels
    )
    return pool, validation, str(train)


def bump_curves(params: SyntheticParams) -> BumpCurves:
    """The article's synthetic curve family with the ``generate`` section's settings."""
    from ae_anomaly.data.synthetic import BumpCurves

    return BumpCurves(
        sample_size=params.sample_size,
        x_range=params.x_range,
        normal_mu=params.normal_mu,
        normal_sigma=params.normal_sigma,
        normal_max=params.normal_max,
        anomaly_mu=params.anomaly_mu,
        anomaly_sigma=params.anomaly_sigma,
        anomaly_max=params.anomaly_max,
        noise_std=params.noise_std,
    )


def baseline_detectors(params: BaselinesParams, seed: int) -> dict[str, AnomalyDetector]:
    """The article's three detectors on raw curves."""
    from ae_anomaly.detectors.forest import ForestDetector
    from ae_anomaly.detectors.isolation_forest import IsolationForestDetector
    from ae_anomaly.detectors.one_class_svm import OneClassSVMDetector

    svm, isolation, forest = params.one_class_svm, params.isolation_forest, params.random_forest
    return {
        "one_class_svm": OneClassSVMDetector(
            nu=svm.nu, kernel=svm.kernel, gamma=svm.gamma, cache_size=svm.cache_size_mb
        ),
        "isolation_forest": IsolationForestDetector(
            n_estimators=isolation.n_estimators,
            contamination=isolation.contamination,
            max_features=isolation.max_features,
            n_jobs=resolve_n_jobs(params.n_jobs),
            random_state=seed,
        ),
        "random_forest": ForestDetector(
            n_estimators=forest.n_estimators,
            max_features=forest.max_features,
            class_weight=forest.class_weight,
            decision_threshold=forest.decision_threshold,
            n_jobs=resolve_n_jobs(params.n_jobs),
            random_state=seed,
        ),
    }


def network(input_size: int, params: TrainAEParams) -> Network:
    """The untrained network of the kind ``train_ae.network`` names; its input width always
    comes from the data."""
    from ae_anomaly.networks.registry import build_network

    return build_network(params.network.kind, input_size, params.network.settings())


def training_config(params: TrainAEParams) -> TrainingConfig:
    from ae_anomaly.networks.training import TrainingConfig

    return TrainingConfig(
        epochs=params.epochs,
        batch_size=params.batch_size,
        lr=params.lr,
        weight_decay=params.weight_decay,
        lr_schedule=params.lr_schedule,
        early_stopping_patience=params.early_stopping_patience,
    )


@dataclass(frozen=True)
class AutoencoderFit:
    """One fit of the autoencoder as ``params.yaml`` describes it: the seeded, untrained
    network, the normalised curves it trains on, holds out and monitors, and how it trains.
    ``train_ae`` runs it, and ``make bench-speed`` times the very same fit."""

    model: Network
    fit_x: np.ndarray
    holdout_x: np.ndarray
    monitor_x: np.ndarray
    #: The held-out rows among the training split's normal curves.
    holdout_rows: np.ndarray
    config: TrainingConfig
    seed: int
    device: torch.device
    #: ``train_ae.trainer``: the kind's fast path where it has one, or autograd.
    trainer: Trainer

    def arguments(self) -> tuple[Any, ...]:
        """What ``train_network`` (or the reference loop) takes first, in its order."""
        return (
            self.model,
            self.fit_x,
            self.holdout_x,
            self.monitor_x,
            self.config,
            self.seed,
            self.device,
        )


def autoencoder_fit(params: Params, train: Dataset, test: Dataset, device: str) -> AutoencoderFit:
    """Hold out part of ``train``'s normal curves, seed torch, build the network, and
    normalise the curves as ``preprocess`` says; ``test`` is what gets monitored per epoch."""
    from ae_anomaly.features.preprocessing import normalize_curves
    from ae_anomaly.networks.base import select_device
    from ae_anomaly.networks.training import seed_everything, split_holdout

    config, seed, normalize = params.train_ae, params.base.seed, params.preprocess.normalize
    normal = train.normal
    fit_rows, holdout_rows = split_holdout(len(normal), config.holdout_fraction, seed)
    seed_everything(seed)
    selected = select_device(device)
    model = network(train.x.shape[1], config)
    normalized = normalize_curves(normal, normalize)
    return AutoencoderFit(
        model=model,
        fit_x=normalized[fit_rows],
        holdout_x=normalized[holdout_rows],
        monitor_x=normalize_curves(test.x, normalize),
        holdout_rows=holdout_rows,
        config=training_config(config),
        seed=seed,
        device=selected,
        trainer=config.trainer,
    )


def residual_detectors(params: Params) -> dict[str, ResidualDetector]:
    """Every residual detector of the model list, unfitted, each from the ``params.yaml``
    section of its name."""
    from ae_anomaly.detectors.registry import residual_detector_classes

    return {
        name: detector_class.from_params(getattr(params, name), params.base.seed)
        for name, detector_class in residual_detector_classes().items()
    }


def anomaly_locator(params: Params) -> AnomalyLocator:
    """The unfitted locator of ``params.yaml``'s ``localisation`` section."""
    from ae_anomaly.detectors.location import AnomalyLocator

    return AnomalyLocator(params.localisation.window_level)
