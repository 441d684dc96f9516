import numpy as np

from ae_anomaly.data import Dataset, Predictions
from ae_anomaly.io import (
    load_arrays,
    load_dataset,
    load_predictions,
    save_arrays,
    save_columns,
    save_dataset,
    save_predictions,
)


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


def test_save_columns_writes_a_headed_csv(tmp_path):
    save_columns(tmp_path / "c.csv", {"epoch": [1, 2], "loss": [0.5, 0.25]})
    assert (tmp_path / "c.csv").read_text() == "epoch,loss\n1,0.5\n2,0.25\n"
