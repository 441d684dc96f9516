import subprocess
import sys

import numpy as np
import pytest
import torch

from ae_anomaly.networks import fast_mlp
from ae_anomaly.networks.base import reconstruct
from ae_anomaly.networks.fast_mlp import FastPathUnavailableError, FusedAdam, _FlatNetwork
from ae_anomaly.networks.mlp import MLPAutoencoder, MLPConfig
from ae_anomaly.networks.training import (
    TrainingConfig,
    float32_weighted_sum,
    learning_rates,
    make_stepper,
    seed_everything,
    split_holdout,
    train_network,
)
from tooling.reference_trainer import train_autoencoder_reference

NETWORK = MLPConfig(
    input_size=64,
    hidden_sizes=(16, 8),
    latent_dim=2,
    activation="leaky_relu",
    negative_slope=0.2,
    output_activation="same",
)


def _train(data, seed=0, trainer="auto", **overrides):
    config = TrainingConfig(**{"epochs": 3, "batch_size": 16, "lr": 3e-3, **overrides})
    seed_everything(seed)
    model = MLPAutoencoder(NETWORK)
    history = train_network(
        model, data.x[:60], data.x[60:70], data.x, config, seed, torch.device("cpu"), trainer
    )
    return model, history


TRAINERS = pytest.mark.parametrize("trainer", ["auto", "autograd"])


@TRAINERS
def test_training_records_histories_and_lowers_loss(small_dataset, trainer):
    _, history = _train(small_dataset, trainer=trainer, epochs=15, lr_schedule="cosine")
    assert history.epochs_run == 15
    assert len(history.holdout_loss) == 15
    assert history.monitor_errors_array().shape == (15, len(small_dataset.x))
    assert history.train_loss[-1] < history.train_loss[0]
    assert history.summary()["epochs_run"] == 15 and history.best_epoch == 15


@TRAINERS
def test_training_is_deterministic_for_a_seed(small_dataset, trainer):
    first, _ = _train(small_dataset, seed=4, trainer=trainer)
    second, _ = _train(small_dataset, seed=4, trainer=trainer)
    for a, b in zip(first.state_dict().values(), second.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


@TRAINERS
def test_early_stopping_restores_best_epoch(small_dataset, trainer):
    model, history = _train(
        small_dataset, trainer=trainer, epochs=40, early_stopping_patience=2, lr=0.05
    )
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


def _state_bytes(model: MLPAutoencoder) -> list[bytes]:
    return [tensor.contiguous().numpy().tobytes() for tensor in model.state_dict().values()]


CASES = [
    ("leaky_relu", "same", {"lr_schedule": "cosine"}, (16, 8), 2),
    ("leaky_relu", "same", {"lr_schedule": "cosine"}, (48, 32, 16), 4),
    ("relu", "identity", {"weight_decay": 1e-3}, (16, 8), 2),
    ("elu", "sigmoid", {}, (16, 8), 3),
    ("tanh", "same", {"batch_size": 7}, (16, 8), 2),
    ("gelu", "identity", {"early_stopping_patience": 1, "lr": 0.05}, (16, 8), 2),
]


def _train_with(trainer, small_dataset, network, config, **options):
    seed_everything(3)
    model = MLPAutoencoder(network)
    data = small_dataset.x
    arguments = (model, data[:60], data[60:70], data, config, 3, torch.device("cpu"))
    if trainer == "plain":
        history = train_autoencoder_reference(*arguments, fused_adam=True)
    else:
        history = train_network(*arguments, trainer=trainer)
    return model, history


@pytest.mark.parametrize(
    ("activation", "output_activation", "overrides", "hidden", "latent"), CASES
)
def test_fast_path_trains_bit_for_bit_what_the_general_trainer_trains(
    small_dataset, activation, output_activation, overrides, hidden, latent
):
    """The fast step's gradients are autograd's, its optimiser is PyTorch's fused Adam
    kernel, and the loop around both is the same: weights, losses and errors are equal."""
    network = MLPConfig(64, hidden, latent, activation, 0.2, output_activation)
    config = TrainingConfig(**{"epochs": 6, "batch_size": 16, "lr": 3e-3, **overrides})
    fast, fast_history = _train_with("auto", small_dataset, network, config)
    general, general_history = _train_with("autograd", small_dataset, network, config)
    assert _state_bytes(fast) == _state_bytes(general)
    assert fast_history.train_loss == general_history.train_loss
    assert fast_history.holdout_loss == general_history.holdout_loss
    assert fast_history.best_epoch == general_history.best_epoch
    np.testing.assert_array_equal(
        fast_history.monitor_errors_array(), general_history.monitor_errors_array()
    )


@pytest.mark.parametrize(
    ("activation", "output_activation", "overrides", "hidden", "latent"), CASES[::2]
)
def test_the_trainer_trains_what_a_plain_pytorch_loop_trains(
    small_dataset, activation, output_activation, overrides, hidden, latent
):
    """Its batches are a shuffling ``DataLoader``'s and its learning rates a cosine
    scheduler's: the plain loop with ``torch.optim.Adam(fused=True)`` gives the same weights."""
    network = MLPConfig(64, hidden, latent, activation, 0.2, output_activation)
    config = TrainingConfig(**{"epochs": 6, "batch_size": 16, "lr": 3e-3, **overrides})
    ours, our_history = _train_with("autograd", small_dataset, network, config)
    plain, plain_history = _train_with("plain", small_dataset, network, config)
    assert _state_bytes(ours) == _state_bytes(plain)
    assert our_history.train_loss == plain_history.train_loss
    assert our_history.best_epoch == plain_history.best_epoch
    # The held-out and monitored curves go through the network in one pass rather than
    # two: a matrix product's rounding can depend on how many rows it multiplies at once, so
    # on this tiny network these agree to float precision (on the default one, exactly).
    np.testing.assert_allclose(our_history.holdout_loss, plain_history.holdout_loss, rtol=1e-6)
    np.testing.assert_allclose(
        our_history.monitor_errors_array(), plain_history.monitor_errors_array(), rtol=1e-5
    )


def test_the_fast_path_is_for_the_mlp_kind_only_and_optional():
    model = MLPAutoencoder(NETWORK)
    config = TrainingConfig(epochs=1, batch_size=4, lr=1e-3)
    assert type(make_stepper(model, config, "auto")).__name__ == "FlatMLPStepper"
    assert type(make_stepper(model, config, "autograd")).__name__ == "AutogradStepper"


def test_every_private_api_of_the_fast_path_exists_in_this_torch():
    """The pinned torch has every kernel the fast path calls; a torch upgrade that renames
    one makes this (and importing the module) fail, never a silent fallback."""
    fast_mlp.check_private_apis()
    assert "torch._fused_adam_" in fast_mlp.PRIVATE_APIS


def test_a_torch_without_a_private_kernel_fails_loudly(monkeypatch):
    monkeypatch.delattr(torch, "_fused_adam_")
    with pytest.raises(FastPathUnavailableError, match=r"torch\._fused_adam_.*trainer: autograd"):
        fast_mlp.check_private_apis()


def test_the_plain_loop_with_unfused_adam_trains_an_equally_good_model(small_dataset):
    """The bench's yardstick (``torch.optim.Adam`` without ``fused``) differs from the
    trainer only in Adam's rounding: the two reach the same loss."""
    config = TrainingConfig(epochs=30, batch_size=16, lr=3e-3, lr_schedule="cosine")
    losses = []
    for train in (train_network, train_autoencoder_reference):
        seed_everything(3)
        data = small_dataset.x
        history = train(
            MLPAutoencoder(NETWORK), data[:60], data[60:70], data, config, 3, torch.device("cpu")
        )
        losses.append(history.holdout_loss[-1])
    assert losses[0] == pytest.approx(losses[1], rel=0.05)


@TRAINERS
def test_trained_parameters_own_their_storage(small_dataset, trainer):
    """A checkpoint must hold each weight alone, not the flat training buffer."""
    model, _ = _train(small_dataset, trainer=trainer)
    storages = {parameter.untyped_storage().data_ptr() for parameter in model.parameters()}
    assert len(storages) == len(list(model.parameters()))
    assert all(parameter.grad is None for parameter in model.parameters())


def test_fused_adam_over_runs_of_the_flat_buffer_matches_torch_adam_per_tensor():
    """Runs that end after a tensor whose size is not a multiple of the vector width keep
    every element on the kernel's same (vector or scalar) code path: bit for bit equal."""
    torch.manual_seed(0)
    network = MLPAutoencoder(MLPConfig(64, (48, 32, 16), 3, "leaky_relu", 0.2, "same"))
    reference_network = MLPAutoencoder(network.config)
    reference_network.load_state_dict(network.state_dict())
    flat = _FlatNetwork(network)
    runs = flat.optimizer_tensors()
    assert 1 < len(runs) < len(list(network.parameters()))
    ours = FusedAdam(runs, lr=1e-2, weight_decay=1e-4)
    theirs = torch.optim.Adam(
        reference_network.parameters(), lr=1e-2, weight_decay=1e-4, fused=True
    )
    rates = learning_rates(TrainingConfig(epochs=20, batch_size=1, lr=1e-2, lr_schedule="cosine"))
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(theirs, T_max=20)
    for step in range(20):
        ours.lr = rates[step]
        for parameter, mine in zip(
            reference_network.parameters(), network.parameters(), strict=True
        ):
            gradient = torch.randn_like(parameter)
            parameter.grad = gradient.clone()
            mine.grad.copy_(gradient)
        ours.update()
        theirs.step()
        schedule.step()
        for parameter, mine in zip(
            reference_network.parameters(), network.parameters(), strict=True
        ):
            assert torch.equal(parameter.detach(), mine.detach())


def test_fused_adam_needs_gradients():
    with pytest.raises(ValueError, match="grad"):
        FusedAdam([torch.zeros(3)], lr=0.1)


@pytest.mark.parametrize(("epochs", "lr"), [(7, 0.3), (500, 0.003), (1, 0.1)])
def test_learning_rates_are_the_schedulers(epochs, lr):
    config = TrainingConfig(epochs=epochs, batch_size=1, lr=lr, lr_schedule="cosine")
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)
    expected = []
    for _ in range(epochs):
        expected.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        schedule.step()
    assert learning_rates(config) == expected  # exactly: the same floats
    constant = TrainingConfig(epochs=3, batch_size=1, lr=0.3)
    assert learning_rates(constant) == [0.3, 0.3, 0.3]


def test_the_fast_path_imports_no_compiler():
    """Neither ``torch._dynamo`` nor ``torch._inductor``: ``train_ae`` on the mlp kind never
    compiles, and torch's optimisers and deterministic switch import them."""
    code = (
        "import sys, numpy as np, torch\n"
        "from ae_anomaly.networks.mlp import MLPAutoencoder, MLPConfig\n"
        "from ae_anomaly.networks.training import TrainingConfig, seed_everything, train_network\n"
        "seed_everything(0)\n"
        "model = MLPAutoencoder(MLPConfig(16, (8,), 2, 'leaky_relu', 0.2, 'same'))\n"
        "x = np.random.default_rng(0).random((40, 16)).astype(np.float32)\n"
        "config = TrainingConfig(epochs=2, batch_size=8, lr=1e-3, lr_schedule='cosine')\n"
        "train_network(model, x[:30], x[30:35], x[35:], config, 0, torch.device('cpu'))\n"
        "loaded = [m for m in ('torch._dynamo', 'torch._inductor') if m in sys.modules]\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_epoch_loss_is_the_running_float32_sum():
    losses = np.random.default_rng(0).random(9).astype(np.float32)
    running = torch.zeros(())
    for index, loss in enumerate(losses):
        running += torch.tensor(loss) * min(4, 35 - index * 4)
    assert float32_weighted_sum(losses, 35, 4) == float(running)


def test_the_fast_path_asks_for_deterministic_kernels_without_importing_the_compiler():
    """``torch._inductor`` is what ``torch.use_deterministic_algorithms`` imports for
    ``torch.compile``; the fast path sets the same flag for eager kernels alone."""
    code = (
        "import sys, torch\n"
        "from ae_anomaly.networks.fast_mlp import deterministic_kernels\n"
        "deterministic_kernels()\n"
        "assert torch.are_deterministic_algorithms_enabled()\n"
        "assert torch.is_deterministic_algorithms_warn_only_enabled()\n"
        "assert 'torch._inductor' not in sys.modules, 'the compiler was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_every_parameter_and_gradient_starts_on_a_64_byte_boundary():
    """As a tensor of its own would: MKL chooses its kernel by the output's alignment, and on
    an AMD EPYC a weight gradient written 4 or 8 bytes off rounded differently (the bit-for-bit
    test above failed there for layers with 2 or 3 biases)."""
    model = MLPAutoencoder(MLPConfig(64, (16, 8), 3, "leaky_relu", 0.2, "same"))
    flat = _FlatNetwork(model)
    for parameter in model.parameters():
        assert parameter.data_ptr() % 64 == 0
        assert parameter.grad is not None and parameter.grad.data_ptr() % 64 == 0
    runs = flat.optimizer_tensors()
    assert sum(run.numel() for run in runs) == sum(p.numel() for p in model.parameters())


def test_training_says_how_many_curves_it_trains_on_and_warns_on_tiny_pools(small_dataset, caplog):
    with caplog.at_level("INFO", logger="ae_anomaly.networks.training"):
        _train(small_dataset, epochs=1)
    assert "mlp network: 60 normal curves to train on, 10 held out" in caplog.text
    assert "fewer than one batch" not in caplog.text
    caplog.clear()
    with caplog.at_level("INFO", logger="ae_anomaly.networks.training"):
        _train(small_dataset, epochs=1, batch_size=64)
    assert "only 60 training curves, fewer than one batch of 64" in caplog.text
