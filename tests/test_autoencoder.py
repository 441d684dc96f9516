import numpy as np
import pytest
import torch

from ae_anomaly.autoencoder import (
    Autoencoder,
    AutoencoderConfig,
    load_autoencoder,
    reconstruct,
    save_autoencoder,
    select_device,
)


def _config(width=64, hidden=(16, 8), latent=2, output_activation="same"):
    return AutoencoderConfig(
        input_size=width,
        hidden_sizes=hidden,
        latent_dim=latent,
        activation="leaky_relu",
        negative_slope=0.2,
        output_activation=output_activation,
    )


def test_architecture_mirrors_and_takes_width_from_data():
    model = Autoencoder(_config(width=256, hidden=(128, 64, 16), latent=4))
    widths = [layer.out_features for layer in model.modules() if isinstance(layer, torch.nn.Linear)]
    assert widths == [128, 64, 16, 4, 16, 64, 128, 256]
    assert isinstance(model.decoder[-1], torch.nn.LeakyReLU)  # the article's output activation
    other = Autoencoder(_config(width=33))
    assert other(torch.zeros(2, 33)).shape == (2, 33)


def test_output_activation_can_be_replaced():
    model = Autoencoder(_config(output_activation="identity"))
    assert isinstance(model.decoder[-1], torch.nn.Identity)


def test_checkpoint_rebuilds_the_model_from_its_config_without_pickles(tmp_path):
    model = Autoencoder(_config())
    save_autoencoder(tmp_path / "ae.pt", model)
    checkpoint = torch.load(tmp_path / "ae.pt", weights_only=True)
    assert checkpoint["config"]["input_size"] == 64
    loaded = load_autoencoder(tmp_path / "ae.pt")
    x = torch.rand(5, 64)
    torch.testing.assert_close(loaded(x), model.eval()(x))


def test_reconstruct_is_batched_and_shape_preserving(small_dataset):
    model = Autoencoder(_config())
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
