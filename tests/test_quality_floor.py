"""A floor under detection quality: the default method on a small problem, in seconds.

If a change to training, the residual features or the forests breaks detection, this fails in
CI long before anyone runs ``make bench-quality``.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ae_anomaly.data.split import train_test_split_dataset
from ae_anomaly.data.synthetic import pool_and_validation
from ae_anomaly.detectors.base import fit_and_predict
from ae_anomaly.features.residuals import residuals
from ae_anomaly.networks.base import reconstruct
from ae_anomaly.networks.training import seed_everything, split_holdout, train_network
from ae_anomaly.pipeline.wiring import (
    bump_curves,
    network,
    residual_detectors,
    training_config,
)
from ae_anomaly.report.evaluation import evaluate_detector

SEED = 7


@pytest.fixture(scope="module")
def small_run(default_params):
    """Default settings on half the normal pool, 60 epochs, a validation set of 60 + 60.

    Measured when written (seed 7): histogram forest ROC-AUC 0.986 / F1 0.94, ae_threshold
    ROC-AUC 0.93, difference forest ROC-AUC 0.87; the floors leave room for platform noise.
    """
    training = default_params.train_ae.model_copy(update={"epochs": 60})
    pool, validation = pool_and_validation(
        bump_curves(default_params.generate.synthetic), (1000, 100), (60, 60), SEED
    )
    split = default_params.split
    train, test = train_test_split_dataset(
        pool, split.test_size, split.shuffle, split.stratify, SEED
    )
    normal = train.normal
    fit_rows, holdout_rows = split_holdout(len(normal), training.holdout_fraction, SEED)
    seed_everything(SEED)
    model = network(train.x.shape[1], training)
    cpu = torch.device("cpu")
    train_network(
        model,
        normal[fit_rows],
        normal[holdout_rows],
        test.x[:4],
        training_config(training),
        SEED,
        cpu,
    )

    def residuals_of(x: np.ndarray) -> np.ndarray:
        return residuals(x, reconstruct(model, x, cpu, batch_size=512))

    detectors = residual_detectors(
        default_params.model_copy(
            update={"base": default_params.base.model_copy(update={"seed": SEED})}
        )
    )
    detector = detectors.pop("ae_threshold").fit(residuals_of(normal[holdout_rows]))
    validation_residuals = residuals_of(validation.x)
    results = {
        "ae_threshold": evaluate_detector(
            validation.y,
            detector.decision_function(validation_residuals),
            detector.predict(validation_residuals),
        ).metrics
    }
    for name, prediction in fit_and_predict(
        detectors, residuals_of(test.x), test.y, validation_residuals
    ).items():
        results[name] = evaluate_detector(validation.y, prediction.score, prediction.label).metrics
    return results


@pytest.mark.parametrize(
    ("model", "metric", "floor"),
    [
        ("histogram_forest", "roc_auc", 0.96),
        ("histogram_forest", "f1_anomaly", 0.85),
        ("ae_threshold", "roc_auc", 0.88),
        ("difference_forest", "roc_auc", 0.8),
    ],
)
def test_default_method_stays_above_its_floor(small_run, model, metric, floor):
    assert small_run[model][metric] >= floor, small_run[model]
