import numpy as np
import pytest
import torch

from ae_anomaly.autoencoder import Autoencoder, AutoencoderConfig, reconstruct
from ae_anomaly.training import (
    FlatAdam,
    TrainingConfig,
    seed_everything,
    split_holdout,
    train_autoencoder,
)
from tooling.reference_trainer import train_autoencoder_reference

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


def _state_bytes(model: Autoencoder) -> list[bytes]:
    return [tensor.contiguous().numpy().tobytes() for tensor in model.state_dict().values()]


@pytest.mark.parametrize(
    ("activation", "output_activation", "overrides"),
    [
        ("leaky_relu", "same", {"lr_schedule": "cosine"}),
        ("relu", "identity", {"weight_decay": 1e-3}),
        ("elu", "sigmoid", {}),
        ("tanh", "same", {"batch_size": 7}),
        ("gelu", "identity", {"early_stopping_patience": 1, "lr": 0.05}),
    ],
)
def test_fast_loop_trains_bit_for_bit_what_the_plain_pytorch_loop_trains(
    small_dataset, activation, output_activation, overrides
):
    network = AutoencoderConfig(64, (16, 8), 2, activation, 0.2, output_activation)
    config = TrainingConfig(**{"epochs": 6, "batch_size": 16, "lr": 3e-3, **overrides})
    results = []
    for train in (train_autoencoder, train_autoencoder_reference):
        seed_everything(3)
        model = Autoencoder(network)
        data = small_dataset.x
        history = train(model, data[:60], data[60:70], data, config, 3, torch.device("cpu"))
        results.append((model, history))
    (fast, fast_history), (plain, plain_history) = results
    assert _state_bytes(fast) == _state_bytes(plain)
    assert fast_history.train_loss == plain_history.train_loss
    assert fast_history.best_epoch == plain_history.best_epoch
    # The held-out and monitored curves go through the network in one pass rather than
    # two: a matrix product's rounding can depend on how many rows it multiplies at once, so
    # on this tiny network these agree to float precision (on the default one, exactly).
    np.testing.assert_allclose(fast_history.holdout_loss, plain_history.holdout_loss, rtol=1e-6)
    np.testing.assert_allclose(
        fast_history.monitor_errors_array(), plain_history.monitor_errors_array(), rtol=1e-5
    )


def test_trained_parameters_own_their_storage(small_dataset):
    """A checkpoint must hold each weight alone, not the flat training buffer."""
    model, _ = _train(small_dataset)
    storages = {parameter.untyped_storage().data_ptr() for parameter in model.parameters()}
    assert len(storages) == len(list(model.parameters()))
    assert all(parameter.grad is None for parameter in model.parameters())


def test_flat_adam_matches_torch_adam_step_by_step():
    torch.manual_seed(0)
    start = torch.randn(1000)
    ours, theirs = torch.nn.Parameter(start.clone()), torch.nn.Parameter(start.clone())
    mine = FlatAdam(ours, lr=1e-2, weight_decay=1e-4)
    reference = torch.optim.Adam([theirs], lr=1e-2, weight_decay=1e-4, foreach=False)
    schedules = [
        torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=20)
        for optimizer in (mine, reference)
    ]
    for _ in range(20):
        gradient = torch.randn(1000)
        ours.grad, theirs.grad = gradient.clone(), gradient.clone()
        mine.step()
        reference.step()
        for schedule in schedules:
            schedule.step()
        assert torch.equal(ours, theirs)
