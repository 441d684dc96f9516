"""The installed console command: ``results`` and ``preset``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
from PIL import Image

from ae_anomaly.cli import main, preset_arguments
from ae_anomaly.core.models import MODEL_NAMES
from ae_anomaly.deploy.detector import CurveDetector
from tests.conftest import REPO_ROOT

METRICS = {
    name: {
        "f1_anomaly": 0.5, "f1_macro": 0.6, "precision": 0.7,
        "recall": 0.4, "roc_auc": 0.8, "average_precision": 0.9,
    }
    for name in MODEL_NAMES
}  # fmt: skip


def test_results_prints_the_table_and_writes_a_summary(tmp_path: Path, capsys):
    (tmp_path / "validation.json").write_text(json.dumps(METRICS))
    (tmp_path / "figures/train_ae").mkdir(parents=True)  # each stage draws in its own folder
    (tmp_path / "figures/train_ae/ae_loss.png").write_bytes(b"png")
    status = main([
        "results", str(tmp_path / "validation.json"), "--markdown", str(tmp_path / "out/s.md"),
        "--figures", str(tmp_path / "figures"),
    ])  # fmt: skip
    assert status == 0
    assert "| ae_threshold | 0.500 | - |" in capsys.readouterr().out
    assert "Autoencoder loss per epoch" in (tmp_path / "out/s.md").read_text()


def test_results_reports_a_missing_run(tmp_path: Path, capsys):
    assert main(["results", str(tmp_path / "nothing.json")]) == 1
    assert "does not exist. Run `dvc repro`" in capsys.readouterr().err


def test_preset_prints_one_override_per_key_of_the_preset(capsys):
    arguments = preset_arguments(REPO_ROOT / "presets/article.yaml", REPO_ROOT / "params.yaml")
    pairs = dict(value.split("=", 1) for value in arguments[1::2])
    assert set(arguments[::2]) == {"-S"}
    assert pairs["train_ae.network.mlp.hidden_sizes"] == "[128,64,16]"
    assert pairs["histogram_forest.range"] == "[-0.3,0.3]"
    assert pairs["histogram_forest.class_weight"] == "null"
    assert pairs["train_ae.lr_schedule"] == '"constant"'
    assert "generate.pool_normal" not in pairs  # only what differs


def test_preset_with_a_bad_value_exits_2_naming_the_key(tmp_path: Path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("histogram_forest:\n  bins: 0\n")
    params = str(REPO_ROOT / "params.yaml")
    assert main(["preset", str(bad), "--params", params]) == 2
    assert "histogram_forest.bins" in capsys.readouterr().err


def test_score_writes_one_row_per_curve_and_reports_the_rate(
    tmp_path: Path, capsys, detector_folder, fitted
):
    curves = fitted[-1]
    np.save(tmp_path / "new.npy", curves)
    status = main(
        ["score", str(tmp_path / "new.npy"), "--detector", str(detector_folder),
         "-o", str(tmp_path / "scores.csv"), "--threads", "2"]
    )  # fmt: skip
    assert status == 0
    assert f"scored {len(curves)} curves" in capsys.readouterr().err
    table = pa_csv.read_csv(tmp_path / "scores.csv")
    expected = CurveDetector.load(detector_folder).score_table(curves)
    np.testing.assert_allclose(
        table.column("histogram_forest_score").to_numpy(), expected["histogram_forest_score"]
    )


def test_score_locates_each_anomaly_writes_maps_and_draws_the_top_curves(
    tmp_path: Path, capsys, detector_folder, fitted
):
    curves = fitted[-1]
    np.save(tmp_path / "new.npy", curves)
    status = main(
        ["score", str(tmp_path / "new.npy"), "--detector", str(detector_folder),
         "-o", str(tmp_path / "scores.parquet"), "--anomaly-maps", str(tmp_path / "maps.csv"),
         "--figures", str(tmp_path / "figures"), "--top", "4", "--batch-size", "16"]
    )  # fmt: skip
    assert status == 0
    assert "the 4 most anomalous curves -> " in capsys.readouterr().err
    expected = CurveDetector.load(detector_folder).score_table(curves, anomaly_map=True)
    table = pq.read_table(tmp_path / "scores.parquet")
    for column in ("anomaly_start", "anomaly_end", "anomaly_peak"):
        np.testing.assert_array_equal(table.column(column).to_numpy(), expected[column])
    maps = pa_csv.read_csv(tmp_path / "maps.csv")
    assert maps.column_names == ["row", *(f"point_{i}" for i in range(curves.shape[1]))]
    np.testing.assert_allclose(
        np.stack([maps.column(f"point_{i}").to_numpy() for i in range(curves.shape[1])], 1),
        expected["anomaly_map"],
        rtol=1e-5,  # batches of 16 curves through the network: float32 rounding differs
    )
    figure = tmp_path / "figures/top_anomalies.png"
    assert figure.stat().st_size > 10_000
    with Image.open(figure) as image:
        assert image.size[0] > 1000  # a 4-panel row


def test_score_refuses_an_unknown_rank_by_naming_the_fitted_ones(
    tmp_path: Path, capsys, detector_folder, fitted
):
    np.save(tmp_path / "new.npy", fitted[-1])
    status = main(
        ["score", str(tmp_path / "new.npy"), "--detector", str(detector_folder),
         "-o", str(tmp_path / "s.csv"), "--figures", str(tmp_path), "--rank-by", "forest"]
    )  # fmt: skip
    assert status == 2
    assert "--rank-by forest: not a fitted detector" in capsys.readouterr().err
    assert not (tmp_path / "s.csv").exists()


def test_score_explains_a_wrong_detector_or_file_and_exits_2(
    tmp_path: Path, capsys, detector_folder
):
    np.save(tmp_path / "short.npy", np.zeros((3, 5)))
    args = ["score", str(tmp_path / "short.npy"), "-o", str(tmp_path / "s.csv")]
    assert main([*args, "--detector", str(tmp_path)]) == 2
    assert "not a detector folder" in capsys.readouterr().err
    assert main([*args, "--detector", str(detector_folder)]) == 2
    assert "expected a batch of curves of 48 points" in capsys.readouterr().err
    assert not (tmp_path / "s.csv").exists()
