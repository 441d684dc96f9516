import numpy as np
import pytest
import torch

from ae_anomaly.autoencoder import (
    Autoencoder,
    AutoencoderConfig,
    load_autoencoder,
    reconstruct,
    save_autoencoder,
    seed_everything,
    select_device,
    split_holdout,
    train_autoencoder,
)


@pytest.fixture
def tiny_params(default_params):
    return default_params.train_ae.model_copy(
        update={"epochs": 3, "hidden_sizes": [16, 8], "latent_dim": 2}
    )


def _config(params, width=64):
    return AutoencoderConfig.from_params(width, params)


def test_architecture_mirrors_and_takes_width_from_data(default_params):
    article = default_params.train_ae.model_copy(
        update={"hidden_sizes": [128, 64, 16], "latent_dim": 4}
    )
    model = Autoencoder(_config(article, width=256))
    widths = [layer.out_features for layer in model.modules() if isinstance(layer, torch.nn.Linear)]
    assert widths == [128, 64, 16, 4, 16, 64, 128, 256]
    assert isinstance(model.decoder[-1], torch.nn.LeakyReLU)  # the article's output activation
    other = Autoencoder(_config(article, width=33))
    assert other(torch.zeros(2, 33)).shape == (2, 33)


def test_output_activation_can_be_replaced(default_params):
    params = default_params.train_ae.model_copy(update={"output_activation": "identity"})
    assert isinstance(Autoencoder(_config(params)).decoder[-1], torch.nn.Identity)


def test_checkpoint_rebuilds_the_model_from_its_config(tmp_path, tiny_params):
    model = Autoencoder(_config(tiny_params))
    save_autoencoder(tmp_path / "ae.pt", model)
    checkpoint = torch.load(tmp_path / "ae.pt", weights_only=True)
    assert checkpoint["config"]["input_size"] == 64
    loaded = load_autoencoder(tmp_path / "ae.pt")
    x = torch.rand(5, 64)
    torch.testing.assert_close(loaded(x), model.eval()(x))


def _train(params, data, seed=0):
    seed_everything(seed)
    model = Autoencoder(_config(params))
    history = train_autoencoder(
        model, data.x[:60], data.x[60:70], data.x, params, seed, torch.device("cpu")
    )
    return model, history


def test_training_records_histories_and_lowers_loss(small_dataset, tiny_params):
    params = tiny_params.model_copy(update={"epochs": 15})
    _, history = _train(params, small_dataset)
    assert history.epochs_run == 15
    assert len(history.holdout_loss) == 15
    assert history.monitor_errors_array().shape == (15, len(small_dataset.x))
    assert history.train_loss[-1] < history.train_loss[0]
    assert history.summary()["epochs_run"] == 15


def test_training_is_deterministic_for_a_seed(small_dataset, tiny_params):
    first, _ = _train(tiny_params, small_dataset, seed=4)
    second, _ = _train(tiny_params, small_dataset, seed=4)
    for a, b in zip(first.state_dict().values(), second.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_early_stopping_restores_best_epoch(small_dataset, tiny_params):
    params = tiny_params.model_copy(update={"epochs": 40, "early_stopping_patience": 2, "lr": 0.05})
    model, history = _train(params, small_dataset)
    best = min(history.holdout_loss)
    assert history.holdout_loss[history.best_epoch - 1] == best
    restored = float(
        (
            (
                reconstruct(model, small_dataset.x[60:70], torch.device("cpu"), 8)
                - small_dataset.x[60:70]
            )
            ** 2
        ).mean()
    )
    assert restored == pytest.approx(best, rel=1e-4)


def test_reconstruct_is_batched_and_shape_preserving(small_dataset, tiny_params):
    model = Autoencoder(_config(tiny_params))
    full = reconstruct(model, small_dataset.x, torch.device("cpu"), batch_size=1000)
    batched = reconstruct(model, small_dataset.x, torch.device("cpu"), batch_size=7)
    assert full.shape == small_dataset.x.shape and full.dtype == np.float32
    np.testing.assert_allclose(full, batched, atol=1e-6)


def test_device_selection():
    assert select_device("cpu").type == "cpu"
    assert select_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="no CUDA"):
            select_device("cuda")


def test_split_holdout_partitions_rows():
    fit_rows, holdout_rows = split_holdout(100, 0.1, seed=0)
    assert len(holdout_rows) == 10 and len(fit_rows) == 90
    assert set(fit_rows).isdisjoint(holdout_rows) and set(fit_rows) | set(holdout_rows) == set(
        range(100)
    )
    assert split_holdout(2, 0.01, seed=0)[1].size == 1
