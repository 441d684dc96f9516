"""The registered detector on Apache Spark (local mode): through ``mlflow.pyfunc.spark_udf``
as MLflow documents it, through ``score_spark`` and through ``ae-anomaly score --spark``, it
gives the numbers ``ae-anomaly score`` gives for the same curves; bad curves get null scores
and an ``error``, and the rest of the batch is scored."""

from __future__ import annotations

import math
import sys
from collections.abc import Iterator
from pathlib import Path

import mlflow
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ae_anomaly.cli import main
from ae_anomaly.core.storage import load_dataset
from ae_anomaly.tracking.spark_scoring import score_spark, start_spark
from tests.integration.conftest import run

pytestmark = pytest.mark.integration

MODEL = "models:/ae-anomaly-detector@champion"
DETECTORS = ("ae_threshold", "difference_forest", "histogram_forest")
LOCATIONS = ("anomaly_start", "anomaly_end", "anomaly_peak")


@pytest.fixture(scope="module")
def spark(reproduced_repo: Path) -> Iterator[object]:
    mlflow.set_tracking_uri(f"sqlite:///{reproduced_repo}/mlflow.db")
    session = start_spark("local[1]", batch_rows=16)
    yield session
    session.stop()


def _cli_scores(repo: Path, curves: np.ndarray, folder: Path) -> pa.Table:
    """``ae-anomaly score`` (no Spark) on the same curves, one numeric column per point."""
    points = pa.table({f"p{i}": curves[:, i] for i in range(curves.shape[1])})
    pq.write_table(points, folder / "points.parquet")
    run(
        repo, sys.executable, "-m", "ae_anomaly.cli", "score", str(folder / "points.parquet"),
        "--detector", MODEL, "-o", str(folder / "cli.parquet"),
    )  # fmt: skip
    return pq.read_table(folder / "cli.parquet")


def _assert_same(rows: list[dict], cli: pa.Table, positions: list[int]) -> None:
    expected = cli.to_pydict()
    for name in DETECTORS:
        np.testing.assert_allclose(
            [row[f"{name}_score"] for row in rows],
            np.asarray(expected[f"{name}_score"])[positions],
            atol=1e-6,
        )
        assert [row[f"{name}_label"] for row in rows] == [
            expected[f"{name}_label"][p] for p in positions
        ]
    for name in LOCATIONS:
        assert [row[name] for row in rows] == [expected[name][p] for p in positions]


def test_spark_scores_as_the_command_line_and_survives_bad_rows(
    reproduced_repo: Path, spark, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    curves = load_dataset(reproduced_repo / "data/raw/validation.npz").x.astype(np.float64)
    length = curves.shape[1]
    cli = _cli_scores(reproduced_repo, curves, tmp_path)
    good = [{"id": i, "curve": curves[i].tolist()} for i in range(len(curves))]
    bad = [
        {"id": 1000, "curve": curves[0, :-3].tolist()},
        {"id": 1001, "curve": [math.nan, *curves[1, 1:].tolist()]},
        {"id": 1002, "curve": None},
    ]
    rows = good[:7] + bad + good[7:]  # the bad rows share an Arrow batch with good ones

    # MLflow's documented route, the result type inferred from the model's signature.
    df = spark.createDataFrame(good, "id long, curve array<double>")
    udf = mlflow.pyfunc.spark_udf(spark, MODEL, env_manager="local")
    raw = [row.asDict() for row in df.select("id", udf("curve").alias("s")).collect()]
    _assert_same([row["s"].asDict() for row in raw], cli, [row["id"] for row in raw])

    # The helper, on array<float> curves with bad rows among them.
    df = spark.createDataFrame(rows, "id long, curve array<float>")
    scored = [row.asDict() for row in score_spark(df, MODEL, "curve").collect()]
    by_id = {row["id"]: row for row in scored}
    assert len(scored) == len(rows)
    assert f"curve of {length - 3} points; expected {length} points" in by_id[1000]["error"]
    assert "point 1 is nan" in by_id[1001]["error"]
    assert by_id[1002]["error"] == "the curve is null"
    for refused in (1000, 1001, 1002):
        assert all(by_id[refused][f"{name}_score"] is None for name in DETECTORS)
        assert all(by_id[refused][f"{name}_label"] is None for name in DETECTORS)
    kept = [row for row in scored if row["id"] < 1000]
    assert all(row["error"] is None for row in kept)
    float32 = _cli_scores(reproduced_repo, curves.astype(np.float32), tmp_path)
    _assert_same(kept, float32, [row["id"] for row in kept])

    # The command line on a folder of Parquet files, one numeric column per point.
    folder = tmp_path / "lake"
    folder.mkdir()
    for part, rows_of_part in enumerate((good[:15], good[15:])):
        table = pa.table(
            {
                "id": [row["id"] for row in rows_of_part],
                **{f"p{i}": [row["curve"][i] for row in rows_of_part] for i in range(length)},
            }
        )
        pq.write_table(table, folder / f"part-{part}.parquet")
    monkeypatch.chdir(reproduced_repo)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{reproduced_repo}/mlflow.db")
    output = tmp_path / "scores.parquet"
    code = main(
        ["score", str(folder), "--detector", MODEL, "--spark", "local[1]", "--label-column", "id",
         "-o", str(output)]
    )  # fmt: skip
    assert code == 0
    written = sorted(pq.read_table(output).to_pylist(), key=lambda row: row["id"])
    assert "p0" not in written[0]  # the curves are not copied to the scores
    _assert_same(written, cli, [row["id"] for row in written])
