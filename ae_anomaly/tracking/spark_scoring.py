"""Scoring curves on Apache Spark with the registered detector, through MLflow's own route,
``mlflow.pyfunc.spark_udf``: each Spark task loads the model once and scores Arrow batches of
rows, so memory per task is bounded by the batch size, not by the partition.

:func:`score_spark` is the helper a notebook calls on a DataFrame; :func:`score_parquet` is
``ae-anomaly score --spark MASTER``: Parquet in, Parquet out. Both ask the model for
``bad_rows="null"``: a curve of the wrong length, with NaN or null gets null scores and an
``error`` that names the problem, and the rest of the batch is scored.

Two things MLflow's struct conversion cannot do are handled here, so that a user of the helper
never meets them: a ``long`` field cannot hold a null (labels and locations of refused rows),
so they are fetched as ``double`` and cast back to ``long`` in Spark; and a missing ``error``
arrives as the string ``"None"``, which becomes null again.
"""

from __future__ import annotations

import glob
import logging
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ae_anomaly.core.types import InputError

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

logger = logging.getLogger(__name__)

#: The column a refused curve's problem is written to (null for a scored curve).
ERROR_COLUMN = "error"
_RESULT = "__ae_anomaly_result"
_NO_PYSPARK = "Spark scoring needs pyspark: pip install 'ae-anomaly[spark]' (and Java >= 17)"


class SparkUnavailableError(InputError):
    """pyspark (or the Java runtime Spark needs) is missing."""


def output_columns(model_uri: str) -> list[str]:
    """The columns every answer of the model holds, from its logged signature."""
    import mlflow

    signature = mlflow.models.get_model_info(model_uri).signature
    if signature is None or signature.outputs is None:
        raise InputError(f"{model_uri}: the model has no output signature to score with")
    return list(signature.outputs.input_names())


def spark_result_type(columns: Sequence[str], anomaly_map: bool = False) -> Any:
    """The struct ``spark_udf`` is asked for: every column as ``double`` (MLflow cannot put a
    null in a ``long`` field), ``error`` as a string and, on request, the anomaly map."""
    from pyspark.sql.types import ArrayType, DoubleType, StringType, StructField, StructType

    fields = [StructField(name, DoubleType()) for name in columns]
    fields.append(StructField(ERROR_COLUMN, StringType()))
    if anomaly_map:
        fields.append(StructField("anomaly_map", ArrayType(DoubleType())))
    return StructType(fields)


def curves_expression(
    df: DataFrame, curves_column: str | None = None, point_columns: Sequence[str] | None = None
) -> Any:
    """The curves of ``df`` as one ``array`` column expression: ``curves_column`` (an
    ``array<double>`` or ``array<float>``), or the ``point_columns`` in order (one numeric
    column per point), or the one array column ``df`` has."""
    from pyspark.sql import functions as sf
    from pyspark.sql.types import ArrayType, NumericType

    types = {field.name: field.dataType for field in df.schema.fields}
    if curves_column is not None and point_columns:
        raise InputError("give the curves as one array column or as point columns, not both")
    if point_columns:
        missing = [name for name in point_columns if name not in types]
        if missing:
            raise InputError(f"no column {missing[0]!r} among {', '.join(types)}")
        return sf.array(*[sf.col(name).cast("double") for name in point_columns])
    if curves_column is None:
        arrays = [name for name, kind in types.items() if isinstance(kind, ArrayType)]
        if len(arrays) != 1:
            raise InputError(
                f"say which column holds the curves (found {len(arrays)} array columns "
                f"among {', '.join(types)})"
            )
        curves_column = arrays[0]
    kind = types.get(curves_column)
    if kind is None:
        raise InputError(f"no column {curves_column!r} among {', '.join(types)}")
    if not (isinstance(kind, ArrayType) and isinstance(kind.elementType, NumericType)):
        raise InputError(
            f"column {curves_column!r} holds {kind.simpleString()}, not an array of numbers"
        )
    return sf.col(curves_column)


def score_spark(
    df: DataFrame,
    model_uri: str,
    curves_column: str | None = None,
    point_columns: Sequence[str] | None = None,
    anomaly_map: bool = False,
    env_manager: str = "local",
) -> DataFrame:
    """``df`` with the detector's columns appended: every ``<model>_score`` (double, higher =
    more anomalous) and ``<model>_label`` (long, 1 = anomaly), the location columns (long),
    ``error`` (null when the curve was scored) and, with ``anomaly_map``, the map.

    ``env_manager="local"`` runs the model in the executors' own Python, which must have this
    package installed; ``"virtualenv"`` or ``"uv"`` rebuild the model's pinned environment
    on each executor instead (README, "Scoring on Spark")."""
    import mlflow
    from pyspark.sql import functions as sf

    columns = output_columns(model_uri)
    params: dict[str, Any] = {"bad_rows": "null"}
    if anomaly_map:
        params["anomaly_map"] = True
    udf = mlflow.pyfunc.spark_udf(
        df.sparkSession,
        model_uri,
        result_type=spark_result_type(columns, anomaly_map),
        env_manager=env_manager,
        params=params,
    )
    scored = df.withColumn(_RESULT, udf(curves_expression(df, curves_column, point_columns)))
    results = [
        sf.col(f"{_RESULT}.{name}")
        .cast("double" if name.endswith("_score") else "long")
        .alias(name)
        for name in columns
    ]
    results.append(sf.nullif(sf.col(f"{_RESULT}.{ERROR_COLUMN}"), sf.lit("None")).alias("error"))
    if anomaly_map:
        results.append(sf.col(f"{_RESULT}.anomaly_map").alias("anomaly_map"))
    return scored.select(*[sf.col(f"`{name}`") for name in df.columns], *results)


@dataclass(frozen=True)
class SparkScoringSummary:
    rows: int
    refused: int
    startup_seconds: float
    seconds: float
    output: str

    @property
    def curves_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else float("inf")


def start_spark(master: str, batch_rows: int, app_name: str = "ae-anomaly score") -> SparkSession:
    """A Spark session on ``master`` (``local[2]``, ``spark://host:7077``, ``yarn``, ...)
    handing the model Arrow batches of ``batch_rows`` curves. On a local master the Python
    workers are this Python, so they see this package."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise SparkUnavailableError(_NO_PYSPARK) from None
    builder = (
        SparkSession.builder.master(master)
        .appName(app_name)
        .config("spark.sql.execution.arrow.maxRecordsPerBatch", str(batch_rows))
        .config("spark.ui.showConsoleProgress", str(sys.stderr.isatty()).lower())
    )
    if master.startswith("local") and "PYSPARK_PYTHON" not in os.environ:
        builder = builder.config("spark.pyspark.python", sys.executable)
    try:
        spark = builder.getOrCreate()
    except Exception as error:  # Spark reports a missing Java as a bare RuntimeError
        if "JAVA" in str(error).upper():
            raise SparkUnavailableError(
                f"Spark could not start ({error}): install a Java runtime >= 17 "
                "(Debian: apt-get install default-jre-headless)"
            ) from None
        raise
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def parquet_sources(source: str) -> list[str]:
    """A Parquet file, a folder of them (Spark's own output included) or a glob; a URI
    (``s3a://``, ``hdfs://``, ...) goes to Spark as it is, globs included."""
    if "://" in source:
        return [source]
    path = Path(source)
    if path.is_dir() or path.is_file():
        return [str(path)]
    matches = sorted(glob.glob(source))
    if not matches:
        raise InputError(f"{source}: no such file, folder or glob of Parquet files")
    return matches


def score_parquet(
    source: str,
    output: str | Path,
    model_uri: str,
    master: str,
    curves_column: str | None = None,
    label_column: str | None = None,
    batch_rows: int = 8_192,
    anomaly_map: bool = False,
) -> SparkScoringSummary:
    """Score Parquet ``source`` into the Parquet folder ``output`` on Spark: the input's other
    columns (ids, labels) and the detector's columns; the curves themselves are not copied.
    With no ``curves_column``, the one array column holds the curves, or else every numeric
    column but ``label_column`` is a point."""
    import mlflow

    from ae_anomaly.tracking.store import check_reachable, repository_root, tracking_uri

    try:
        from pyspark.sql import SparkSession
        from pyspark.sql import functions as sf
        from pyspark.sql.types import ArrayType, NumericType
    except ImportError:
        raise SparkUnavailableError(_NO_PYSPARK) from None

    if "://" not in str(output) and not str(output).endswith(".parquet") and Path(output).suffix:
        raise InputError(f"{output}: --spark writes a Parquet folder (name it *.parquet)")
    uri = tracking_uri(repository_root())
    check_reachable(uri)
    mlflow.set_tracking_uri(uri)
    already_running = SparkSession.getActiveSession() is not None
    started = time.perf_counter()
    spark = start_spark(master, batch_rows)
    startup = time.perf_counter() - started
    started = time.perf_counter()
    df = spark.read.parquet(*parquet_sources(source))
    point_columns: list[str] | None = None
    if curves_column is None and not any(
        isinstance(field.dataType, ArrayType) for field in df.schema.fields
    ):
        point_columns = [
            field.name
            for field in df.schema.fields
            if isinstance(field.dataType, NumericType) and field.name != label_column
        ]
    scored = score_spark(df, model_uri, curves_column, point_columns, anomaly_map)
    curve_columns = set(point_columns or [])
    if point_columns is None:
        curve_columns.add(
            curves_column
            or next(f.name for f in df.schema.fields if isinstance(f.dataType, ArrayType))
        )
    scored.drop(*curve_columns).write.mode("overwrite").parquet(str(output))
    written = spark.read.parquet(str(output))
    counts = written.agg(
        sf.count(sf.lit(1)).alias("rows"), sf.count(sf.col(ERROR_COLUMN)).alias("refused")
    ).first()
    seconds = time.perf_counter() - started
    rows, refused = int(counts["rows"]), int(counts["refused"])
    if not already_running:  # a notebook's own session is left as it was
        spark.stop()
    if refused:
        logger.warning(
            "%d of %d curves refused (null scores; the %r column says why)",
            refused,
            rows,
            ERROR_COLUMN,
        )
    return SparkScoringSummary(rows, refused, startup, seconds, str(output))
