import numpy as np

from ae_anomaly.storage import (
    load_arrays,
    load_columns,
    load_dataset,
    load_predictions,
    save_arrays,
    save_columns,
    save_dataset,
    save_predictions,
)
from ae_anomaly.types import Dataset, NotFitted, Predictions


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
