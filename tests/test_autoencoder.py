import zipfile

import numpy as np
import pytest
import torch

from ae_anomaly.core.storage import DamagedFileError, MissingFileError
from ae_anomaly.core.types import InputError
from ae_anomaly.networks.autoencoder import (
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


def test_a_checkpoint_depends_only_on_the_model_and_its_file_name(tmp_path):
    """torch.save names its zip records after the file; the write-then-rename that keeps a
    half-written checkpoint from ever carrying the final name must not change them, or every
    checkpoint's md5 in dvc.lock would change."""
    model = Autoencoder(_config())
    for folder in ("a", "b"):
        save_autoencoder(tmp_path / folder / "autoencoder.pt", model)
    first, second = ((tmp_path / f / "autoencoder.pt").read_bytes() for f in ("a", "b"))
    assert first == second
    with zipfile.ZipFile(tmp_path / "a" / "autoencoder.pt") as archive:
        assert {name.split("/")[0] for name in archive.namelist()} == {"autoencoder"}
    assert sorted(path.name for path in (tmp_path / "a").iterdir()) == ["autoencoder.pt"]


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
        with pytest.raises(InputError, match="no CUDA"):
            select_device("cuda")


def test_a_truncated_checkpoint_is_reported_with_the_file_and_the_fix(tmp_path):
    path = tmp_path / "autoencoder.pt"
    save_autoencoder(path, Autoencoder(_config()))
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(DamagedFileError, match=r"autoencoder\.pt is damaged.*dvc checkout"):
        load_autoencoder(path)


def test_a_missing_checkpoint_says_how_to_build_it(tmp_path):
    with pytest.raises(MissingFileError, match=r"does not exist\. Run `dvc repro`"):
        load_autoencoder(tmp_path / "absent.pt")


def test_saving_leaves_no_partial_file(tmp_path):
    save_autoencoder(tmp_path / "model.pt", Autoencoder(_config()))
    assert [p.name for p in tmp_path.iterdir()] == ["model.pt"]
