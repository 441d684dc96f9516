import numpy as np
import pytest

from ae_anomaly.core.storage import (
    DamagedFileError,
    MissingFileError,
    atomic_output,
    load_arrays,
    load_columns,
    load_dataset,
    load_json,
    load_predictions,
    save_arrays,
    save_columns,
    save_dataset,
    save_json,
    save_predictions,
)
from ae_anomaly.core.types import Dataset, NotFitted, Predictions


def test_saved_arrays_are_byte_identical_and_load_with_numpy(tmp_path):
    arrays = {"b": np.arange(5.0), "a": np.eye(3, dtype=np.float32)}
    save_arrays(tmp_path / "one.npz", arrays)
    save_arrays(tmp_path / "two.npz", dict(reversed(arrays.items())))
    assert (tmp_path / "one.npz").read_bytes() == (tmp_path / "two.npz").read_bytes()
    with np.load(tmp_path / "one.npz") as loaded:
        np.testing.assert_array_equal(loaded["a"], arrays["a"])
    assert load_arrays(tmp_path / "one.npz").keys() == {"a", "b"}


def test_dataset_and_predictions_round_trip(tmp_path):
    dataset = Dataset(np.ones((4, 3), dtype=np.float32), np.array([0, 0, 1, 1]))
    save_dataset(tmp_path / "d.npz", dataset)
    loaded = load_dataset(tmp_path / "d.npz")
    np.testing.assert_array_equal(loaded.x, dataset.x)
    predictions = {"m": Predictions(np.array([0.1, 0.9]), np.array([0, 1]))}
    save_predictions(tmp_path / "p.npz", predictions)
    back = load_predictions(tmp_path / "p.npz")
    np.testing.assert_array_equal(back["m"].score, [0.1, 0.9])
    np.testing.assert_array_equal(back["m"].label, [0, 1])


def test_a_model_that_was_not_fitted_round_trips_with_its_reason(tmp_path):
    outputs = {
        "fitted": Predictions(np.array([0.5]), np.array([1])),
        "random_forest": NotFitted("no anomalies in the training labels"),
    }
    save_predictions(tmp_path / "p.npz", outputs)
    back = load_predictions(tmp_path / "p.npz")
    assert back["random_forest"] == NotFitted("no anomalies in the training labels")
    assert isinstance(back["fitted"], Predictions)
    with np.load(tmp_path / "p.npz", allow_pickle=False) as archive:  # no pickle needed
        assert "random_forest.not_fitted" in archive.files


def test_columns_are_a_headed_csv_that_reads_back(tmp_path):
    save_columns(tmp_path / "c.csv", {"epoch": [1, 2], "loss": [0.5, 0.25]})
    assert (tmp_path / "c.csv").read_text() == "epoch,loss\n1,0.5\n2,0.25\n"
    back = load_columns(tmp_path / "c.csv")
    np.testing.assert_array_equal(back["loss"], [0.5, 0.25])


def test_a_truncated_npz_names_the_file_and_the_command_that_restores_it(tmp_path):
    path = tmp_path / "train.npz"
    save_dataset(path, Dataset(np.ones((4, 3)), np.zeros(4, dtype=int)))
    path.write_bytes(path.read_bytes()[:-40])
    with pytest.raises(DamagedFileError) as error:
        load_dataset(path)
    assert str(path) in str(error.value)
    assert "dvc checkout --force" in str(error.value) and "dvc repro" in str(error.value)


def test_a_missing_file_says_to_run_or_pull(tmp_path):
    with pytest.raises(MissingFileError, match=r"dvc repro.*dvc pull"):
        load_arrays(tmp_path / "absent.npz")
    with pytest.raises(MissingFileError):
        load_json(tmp_path / "absent.json")


def test_damaged_json_is_reported(tmp_path):
    path = tmp_path / "summary.json"
    path.write_text('{"epochs": 3')
    with pytest.raises(DamagedFileError, match=r"summary\.json is damaged"):
        load_json(path)


def test_an_interrupted_write_leaves_neither_a_partial_file_nor_a_changed_output(tmp_path):
    path = tmp_path / "out.json"
    save_json(path, {"kept": True})
    with pytest.raises(KeyboardInterrupt), atomic_output(path) as partial:
        partial.write_text('{"half')
        raise KeyboardInterrupt
    assert load_json(path) == {"kept": True}
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_a_full_disk_leaves_no_partial_file(tmp_path, monkeypatch):
    def no_space(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np.lib.format, "write_array", no_space)
    with pytest.raises(OSError, match="No space"):
        save_arrays(tmp_path / "x.npz", {"a": np.ones(3)})
    assert list(tmp_path.iterdir()) == []
