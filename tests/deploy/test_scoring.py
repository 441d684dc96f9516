"""Scoring files with the deployable detector: every input format, both output formats,
the same numbers as the detector in memory, and nothing half-written on failure."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import pytest

from ae_anomaly.core.types import InputError
from ae_anomaly.data.curve_batches import CurveFileError
from ae_anomaly.deploy.detector import CurveDetector
from ae_anomaly.deploy.scoring import score_file


@pytest.fixture(scope="module")
def detector(detector_folder):
    return CurveDetector.load(detector_folder)


@pytest.fixture(scope="module")
def curves(fitted):
    return fitted[-1]


def _read(path):
    return pq.read_table(path) if path.suffix == ".parquet" else pa_csv.read_csv(path)


@pytest.mark.parametrize("output", ["scores.csv", "scores.parquet"])
@pytest.mark.parametrize("source", ["curves.npy", "curves.tsv", "curves.parquet", "curves.npz"])
def test_every_format_scores_like_the_detector_in_memory(
    tmp_path, detector, curves, source, output
):
    path = tmp_path / source
    if source.endswith(".npy"):
        np.save(path, curves)
    elif source.endswith(".tsv"):
        np.savetxt(path, curves, delimiter="\t", fmt="%.9g")
    elif source.endswith(".npz"):
        np.savez(path, x=curves)
    else:
        pq.write_table(pa.table({f"t{i}": curves[:, i] for i in range(curves.shape[1])}), path)
    summary = score_file(detector, path, tmp_path / output, batch_rows=16)
    table = _read(tmp_path / output)
    assert summary.rows == len(curves) == table.num_rows
    assert table.column("row").to_pylist() == list(range(1, len(curves) + 1))
    expected = detector.score_table(curves)
    for name, values in expected.items():
        np.testing.assert_allclose(table.column(name).to_numpy(), values, rtol=1e-6)


def test_labels_in_the_file_are_kept_beside_the_scores(tmp_path, detector, curves):
    path = tmp_path / "labelled.tsv"
    rows = [["ok" if i % 2 else "bad", *curve] for i, curve in enumerate(curves.tolist())]
    path.write_text("\n".join("\t".join(map(str, row)) for row in rows) + "\n")
    score_file(detector, path, tmp_path / "s.csv", layout="ucr")
    assert _read(tmp_path / "s.csv").column("label").to_pylist()[:2] == ["bad", "ok"]


def test_a_bad_row_halfway_fails_and_leaves_no_output(tmp_path, detector, curves):
    bad = curves.copy()
    bad[30, 3] = np.nan
    np.save(tmp_path / "bad.npy", bad)
    with pytest.raises(CurveFileError, match="row 31, column 4: a missing value"):
        score_file(detector, tmp_path / "bad.npy", tmp_path / "s.csv", batch_rows=8)
    assert list(tmp_path.iterdir()) == [tmp_path / "bad.npy"]


def test_wrong_length_and_output_format_are_refused(tmp_path, detector, curves):
    np.save(tmp_path / "short.npy", curves[:, :10])
    with pytest.raises(InputError, match="expected a batch of curves of 48 points"):
        score_file(detector, tmp_path / "short.npy", tmp_path / "s.csv")
    np.save(tmp_path / "ok.npy", curves)
    with pytest.raises(InputError, match=r"\.csv or \.parquet"):
        score_file(detector, tmp_path / "ok.npy", tmp_path / "s.xlsx")
