"""The deployable detector scores exactly as the fitted pipeline detectors do, loads from plain
files without unpickling anything, and refuses curves it cannot score with a clear message."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest
import torch

from ae_anomaly.core.types import NotFitted, Predictions
from ae_anomaly.deploy.curves import CurveInputError
from ae_anomaly.deploy.detector import CurveDetector, table_columns
from ae_anomaly.deploy.folder import CONFIG_FILE, DetectorFileError, folder_digest, pack_detector
from ae_anomaly.features.preprocessing import normalize_curves
from ae_anomaly.features.residuals import residuals
from ae_anomaly.networks.base import reconstruct
from tests.conftest import DETECTOR_CURVE_LENGTH as LENGTH


def _pack(folder, fitted, histogram=None, difference=None):
    """Pack ``fitted`` (see ``tests/conftest.py``), optionally with forests replaced."""
    _, _, threshold, fitted_histogram, fitted_difference, locator, _ = fitted
    return pack_detector(
        folder,
        fitted[0] / "ae.pt",
        LENGTH,
        "zscore",
        {
            "ae_threshold": threshold,
            "difference_forest": fitted_difference if difference is None else difference,
            "histogram_forest": fitted_histogram if histogram is None else histogram,
        },
        batch_size=64,
        locator=locator,
    )


def test_scores_and_labels_equal_the_fitted_detectors_exactly(tmp_path, fitted):
    _, network, threshold, histogram, difference, locator, new = fitted
    detector = CurveDetector.load(_pack(tmp_path / "d", fitted), threads=2)
    curves = normalize_curves(new, "zscore")
    expected = residuals(curves, reconstruct(network, curves, torch.device("cpu"), 64))
    outputs = detector.score(new)
    assert list(outputs) == ["ae_threshold", "difference_forest", "histogram_forest"]
    for name, fitted_detector in (
        ("ae_threshold", threshold),
        ("histogram_forest", histogram),
        ("difference_forest", difference),
    ):
        np.testing.assert_array_equal(
            outputs[name].score, fitted_detector.decision_function(expected)
        )
        np.testing.assert_array_equal(outputs[name].label, fitted_detector.predict(expected))
    assert outputs["histogram_forest"].label[:10].mean() > 0.5  # it does find the bumps
    table = detector.score_table(new, anomaly_map=True)
    located = locator.locate(expected)
    np.testing.assert_array_equal(table["anomaly_start"], located.start)
    np.testing.assert_array_equal(table["anomaly_peak"], located.peak)
    np.testing.assert_array_equal(table["anomaly_map"], locator.anomaly_map(expected))
    assert set(table["anomaly_peak"][:10]) <= {5, 6, 7, 8}  # the bumps sit at points 5..8
    assert "anomaly_map" not in detector.score_table(new)


def test_a_folder_without_a_locator_scores_without_locations(tmp_path, fitted):
    _, _, threshold, histogram, difference, _, new = fitted
    detectors = {
        "ae_threshold": threshold, "difference_forest": difference, "histogram_forest": histogram,
    }  # fmt: skip
    folder = pack_detector(tmp_path / "d", fitted[0] / "ae.pt", LENGTH, "zscore", detectors, 64)
    detector = CurveDetector.load(folder)
    assert "anomaly_start" not in detector.score_table(new)
    with pytest.raises(DetectorFileError, match="no anomaly locator"):
        detector.score_table(new, anomaly_map=True)


def test_the_folder_is_plain_files_and_loads_without_unpickling(tmp_path, fitted, monkeypatch):
    folder = _pack(tmp_path / "d", fitted)
    assert sorted(p.name for p in folder.iterdir()) == [
        "autoencoder.pt", "detector.json", "difference_forest.npz", "histogram_forest.npz",
    ]  # fmt: skip
    config = json.loads((folder / CONFIG_FILE).read_text())
    assert config["curve_length"] == LENGTH and config["normalize"] == "zscore"

    def refuse(*args, **kwargs):
        raise AssertionError("a pickle was read")

    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(pickle, "Unpickler", refuse)
    assert CurveDetector.load(folder).curve_length == LENGTH


def test_forests_that_could_not_be_fitted_travel_as_such(tmp_path, fitted):
    reason = "needs anomalous training curves to learn from; the training labels have none"
    folder = _pack(tmp_path / "d", fitted, NotFitted(reason), NotFitted(reason))
    detector = CurveDetector.load(folder)
    outputs = detector.score(fitted[-1])
    assert outputs["histogram_forest"] == NotFitted(reason)
    assert isinstance(outputs["ae_threshold"], Predictions)
    assert list(detector.score_table(fitted[-1])) == [
        "ae_threshold_score", "ae_threshold_label", "anomaly_start", "anomaly_end", "anomaly_peak",
    ]  # fmt: skip


def test_score_table_columns(fitted, tmp_path):
    detector = CurveDetector.load(_pack(tmp_path / "d", fitted))
    table = detector.score_table(fitted[-1])
    assert list(table) == [
        "ae_threshold_score", "ae_threshold_label", "difference_forest_score",
        "difference_forest_label", "histogram_forest_score", "histogram_forest_label",
        "anomaly_start", "anomaly_end", "anomaly_peak",
    ]  # fmt: skip
    assert table["histogram_forest_label"].dtype == np.int64
    assert table["anomaly_peak"].dtype == np.int64
    assert table_columns({"m": NotFitted("x")}) == {}


@pytest.mark.parametrize(
    ("curves", "message"),
    [
        (
            np.zeros((2, LENGTH - 1)),
            f"got curves of {LENGTH - 1} points; expected a batch of curves of {LENGTH}",
        ),
        (np.zeros((0, LENGTH)), "shape (0, 48)"),
        ([[1.0] * LENGTH, [1.0] * 3], "different lengths (3 to 48 points)"),
        ([["a"] * LENGTH], "curves must be numbers"),
        (np.full((1, LENGTH), np.nan), "curve 1, point 1 is nan"),
        (np.full((1, LENGTH), np.inf), "is inf: curves must be finite numbers"),
    ],
)
def test_curves_it_cannot_score_are_refused_naming_the_length(tmp_path, fitted, curves, message):
    detector = CurveDetector.load(_pack(tmp_path / "d", fitted))
    with pytest.raises(CurveInputError) as error:
        detector.score(curves)
    assert message in str(error.value)
    assert f"{LENGTH} points" in str(error.value) or "48" in str(error.value)


def test_one_curve_alone_is_a_batch_of_one(tmp_path, fitted):
    detector = CurveDetector.load(_pack(tmp_path / "d", fitted))
    single = detector.score(fitted[-1][0])
    batch = detector.score(fitted[-1][:1])
    np.testing.assert_allclose(single["ae_threshold"].score, batch["ae_threshold"].score)


def test_digest_follows_the_bytes(tmp_path, fitted):
    first, second = _pack(tmp_path / "a", fitted), _pack(tmp_path / "b", fitted)
    assert folder_digest(first) == folder_digest(second)
    config = json.loads((second / CONFIG_FILE).read_text())
    config["detectors"]["ae_threshold"]["threshold"] *= 2
    (second / CONFIG_FILE).write_text(json.dumps(config))
    assert folder_digest(first) != folder_digest(second)


def test_a_folder_that_is_not_a_detector(tmp_path):
    with pytest.raises(DetectorFileError, match="not a detector folder"):
        CurveDetector.load(tmp_path)
    (tmp_path / CONFIG_FILE).write_text('{"format": 99}')
    with pytest.raises(DetectorFileError, match="format 99"):
        CurveDetector.load(tmp_path)


def test_a_folder_written_before_detectors_packed_themselves_still_loads(tmp_path, fitted):
    """Format 1: one top-level key per residual detector, and a checkpoint without a kind."""
    folder = _pack(tmp_path / "d", fitted)
    new = fitted[-1]
    expected = CurveDetector.load(folder).score_table(new)
    config = json.loads((folder / CONFIG_FILE).read_text())
    old = {key: value for key, value in config.items() if key != "detectors"}
    old |= {"format": 1, **config.pop("detectors")}
    (folder / CONFIG_FILE).write_text(json.dumps(old))
    checkpoint = torch.load(folder / "autoencoder.pt", weights_only=True)
    del checkpoint["kind"]
    torch.save(checkpoint, folder / "autoencoder.pt")
    scores = CurveDetector.load(folder).score_table(new)
    assert list(scores) == list(expected)
    for column, values in expected.items():
        np.testing.assert_array_equal(scores[column], values)


def test_a_folder_of_an_unknown_format_or_detector_says_so(tmp_path, fitted):
    folder = _pack(tmp_path / "d", fitted)
    config = json.loads((folder / CONFIG_FILE).read_text())
    config["detectors"]["shapelet_forest"] = config["detectors"]["ae_threshold"]
    (folder / CONFIG_FILE).write_text(json.dumps(config))
    with pytest.raises(DetectorFileError, match="'shapelet_forest' this version does not know"):
        CurveDetector.load(folder)
    config["format"] = 3
    (folder / CONFIG_FILE).write_text(json.dumps(config))
    with pytest.raises(DetectorFileError, match="detector format 3"):
        CurveDetector.load(folder)
