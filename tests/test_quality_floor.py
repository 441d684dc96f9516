"""A floor under detection quality: the default method on a small problem, in seconds.

If a change to training, the residual features or the forests breaks detection, this fails in
CI long before anyone runs ``make bench-quality``.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ae_anomaly.autoencoder import (
    Autoencoder,
    AutoencoderConfig,
    reconstruct,
    seed_everything,
    split_holdout,
    train_autoencoder,
)
from ae_anomaly.data import NORMAL, generate_pool_and_validation, train_test_split_dataset
from ae_anomaly.detectors import (
    ReconstructionThresholdDetector,
    fit_and_predict,
    residual_detectors,
)
from ae_anomaly.evaluation import evaluate_detector
from ae_anomaly.features import difference_scores

SEED = 7


@pytest.fixture(scope="module")
def small_run(default_params):
    """Default settings on half the normal pool, 60 epochs, a validation set of 60 + 60.

    Measured when written (seed 7): histogram forest ROC-AUC 0.986 / F1 0.94, ae_threshold
    ROC-AUC 0.93, difference forest ROC-AUC 0.87; the floors leave room for platform noise.
    """
    generate = default_params.generate.model_copy(
        update={
            "pool_normal": 1000,
            "pool_anomalous": 100,
            "validation_normal": 60,
            "validation_anomalous": 60,
        }
    )
    training = default_params.train_ae.model_copy(update={"epochs": 60})
    pool, validation = generate_pool_and_validation(generate, SEED)
    train, test = train_test_split_dataset(pool, default_params.split, SEED)
    normal = train.x[train.y == NORMAL]
    fit_rows, holdout_rows = split_holdout(len(normal), training.holdout_fraction, SEED)
    seed_everything(SEED)
    model = Autoencoder(AutoencoderConfig.from_params(train.x.shape[1], training))
    cpu = torch.device("cpu")
    train_autoencoder(
        model, normal[fit_rows], normal[holdout_rows], test.x[:4], training, SEED, cpu
    )

    def residuals(x: np.ndarray) -> np.ndarray:
        return difference_scores(x, reconstruct(model, x, cpu, batch_size=512))

    threshold = default_params.difference_scores.threshold
    detector = ReconstructionThresholdDetector(
        threshold.error, threshold.quantile, threshold.margin
    )
    detector.fit(residuals(normal[holdout_rows]))
    validation_residuals = residuals(validation.x)
    results = {
        "ae_threshold": evaluate_detector(
            validation.y,
            detector.score_samples(validation_residuals),
            detector.predict(validation_residuals),
        ).metrics
    }
    forests = residual_detectors(default_params.histogram_forest, SEED)
    for name, prediction in fit_and_predict(
        forests, residuals(test.x), test.y, validation_residuals
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
