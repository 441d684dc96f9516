import zipfile

import numpy as np
import pytest
import torch

from ae_anomaly.core.storage import DamagedFileError, MissingFileError
from ae_anomaly.core.types import InputError
from ae_anomaly.networks.base import reconstruct, select_device
from ae_anomaly.networks.checkpoint import CheckpointKindError, load_network, save_network
from ae_anomaly.networks.mlp import MLPAutoencoder, MLPConfig


def _config(width=64, hidden=(16, 8), latent=2, output_activation="same"):
    return MLPConfig(
        input_size=width,
        hidden_sizes=hidden,
        latent_dim=latent,
        activation="leaky_relu",
        negative_slope=0.2,
        output_activation=output_activation,
    )


def test_architecture_mirrors_and_takes_width_from_data():
    model = MLPAutoencoder(_config(width=256, hidden=(128, 64, 16), latent=4))
    widths = [layer.out_features for layer in model.modules() if isinstance(layer, torch.nn.Linear)]
    assert widths == [128, 64, 16, 4, 16, 64, 128, 256]
    assert isinstance(model.decoder[-1], torch.nn.LeakyReLU)  # the article's output activation
    other = MLPAutoencoder(_config(width=33))
    assert other(torch.zeros(2, 33)).shape == (2, 33)


def test_output_activation_can_be_replaced():
    model = MLPAutoencoder(_config(output_activation="identity"))
    assert isinstance(model.decoder[-1], torch.nn.Identity)


def test_checkpoint_rebuilds_the_model_from_its_config_without_pickles(tmp_path):
    model = MLPAutoencoder(_config())
    save_network(tmp_path / "ae.pt", model)
    checkpoint = torch.load(tmp_path / "ae.pt", weights_only=True)
    assert checkpoint["config"]["input_size"] == 64
    loaded = load_network(tmp_path / "ae.pt")
    x = torch.rand(5, 64)
    torch.testing.assert_close(loaded(x), model.eval()(x))


def test_a_checkpoint_depends_only_on_the_model_and_its_file_name(tmp_path):
    """torch.save names its zip records after the file; the write-then-rename that keeps a
    half-written checkpoint from ever carrying the final name must not change them, or every
    checkpoint's md5 in dvc.lock would change."""
    model = MLPAutoencoder(_config())
    for folder in ("a", "b"):
        save_network(tmp_path / folder / "autoencoder.pt", model)
    first, second = ((tmp_path / f / "autoencoder.pt").read_bytes() for f in ("a", "b"))
    assert first == second
    with zipfile.ZipFile(tmp_path / "a" / "autoencoder.pt") as archive:
        assert {name.split("/")[0] for name in archive.namelist()} == {"autoencoder"}
    assert sorted(path.name for path in (tmp_path / "a").iterdir()) == ["autoencoder.pt"]


def test_reconstruct_is_batched_and_shape_preserving(small_dataset):
    model = MLPAutoencoder(_config())
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
    save_network(path, MLPAutoencoder(_config()))
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(DamagedFileError, match=r"autoencoder\.pt is damaged.*dvc checkout"):
        load_network(path)


def test_a_missing_checkpoint_says_how_to_build_it(tmp_path):
    with pytest.raises(MissingFileError, match=r"does not exist\. Run `dvc repro`"):
        load_network(tmp_path / "absent.pt")


def test_saving_leaves_no_partial_file(tmp_path):
    save_network(tmp_path / "model.pt", MLPAutoencoder(_config()))
    assert [p.name for p in tmp_path.iterdir()] == ["model.pt"]


def test_a_checkpoint_stores_its_kind_and_rebuilds_by_it(tmp_path):
    model = MLPAutoencoder(_config())
    save_network(tmp_path / "net.pt", model)
    checkpoint = torch.load(tmp_path / "net.pt", weights_only=True)
    assert checkpoint["kind"] == "mlp" and checkpoint["config"]["hidden_sizes"] == [16, 8]
    assert isinstance(load_network(tmp_path / "net.pt"), MLPAutoencoder)


def test_a_checkpoint_from_before_network_kinds_loads_as_an_mlp(tmp_path):
    """Checkpoints written before kinds existed hold only ``config`` and ``state_dict``."""
    model = MLPAutoencoder(_config())
    state = {name: tensor.detach() for name, tensor in model.state_dict().items()}
    torch.save({"config": model.config.to_dict(), "state_dict": state}, tmp_path / "old.pt")
    loaded = load_network(tmp_path / "old.pt")
    assert loaded.kind == "mlp"
    for name, tensor in loaded.state_dict().items():
        assert torch.equal(tensor, state[name])


def test_a_checkpoint_of_an_unknown_kind_says_how_to_rebuild_it(tmp_path):
    torch.save({"kind": "transformer", "config": {}, "state_dict": {}}, tmp_path / "new.pt")
    with pytest.raises(CheckpointKindError, match=r"unknown network kind 'transformer'.*dvc repro"):
        load_network(tmp_path / "new.pt")
