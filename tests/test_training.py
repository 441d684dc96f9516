import pytest
import torch

from ae_anomaly.autoencoder import Autoencoder, AutoencoderConfig, reconstruct
from ae_anomaly.training import (
    TrainingConfig,
    seed_everything,
    split_holdout,
    train_autoencoder,
)

NETWORK = AutoencoderConfig(
    input_size=64,
    hidden_sizes=(16, 8),
    latent_dim=2,
    activation="leaky_relu",
    negative_slope=0.2,
    output_activation="same",
)


def _train(data, seed=0, **overrides):
    config = TrainingConfig(**{"epochs": 3, "batch_size": 16, "lr": 3e-3, **overrides})
    seed_everything(seed)
    model = Autoencoder(NETWORK)
    history = train_autoencoder(
        model, data.x[:60], data.x[60:70], data.x, config, seed, torch.device("cpu")
    )
    return model, history


def test_training_records_histories_and_lowers_loss(small_dataset):
    _, history = _train(small_dataset, epochs=15, lr_schedule="cosine")
    assert history.epochs_run == 15
    assert len(history.holdout_loss) == 15
    assert history.monitor_errors_array().shape == (15, len(small_dataset.x))
    assert history.train_loss[-1] < history.train_loss[0]
    assert history.summary()["epochs_run"] == 15 and history.best_epoch == 15


def test_training_is_deterministic_for_a_seed(small_dataset):
    first, _ = _train(small_dataset, seed=4)
    second, _ = _train(small_dataset, seed=4)
    for a, b in zip(first.state_dict().values(), second.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_early_stopping_restores_best_epoch(small_dataset):
    model, history = _train(small_dataset, epochs=40, early_stopping_patience=2, lr=0.05)
    best = min(history.holdout_loss)
    assert history.holdout_loss[history.best_epoch - 1] == best
    holdout = small_dataset.x[60:70]
    restored = float(((reconstruct(model, holdout, torch.device("cpu"), 8) - holdout) ** 2).mean())
    assert restored == pytest.approx(best, rel=1e-4)


def test_split_holdout_partitions_rows():
    fit_rows, holdout_rows = split_holdout(100, 0.1, seed=0)
    assert len(holdout_rows) == 10 and len(fit_rows) == 90
    assert set(fit_rows).isdisjoint(holdout_rows)
    assert set(fit_rows) | set(holdout_rows) == set(range(100))
    assert split_holdout(2, 0.01, seed=0)[1].size == 1
    with pytest.raises(ValueError, match="at least 2"):
        split_holdout(1, 0.1, seed=0)
