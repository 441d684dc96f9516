"""The detector as an MLflow ``pyfunc`` model, in MLflow's "models from code" form.

MLflow runs this file when it loads the model (``mlflow.pyfunc.load_model``,
``mlflow models serve``, ``mlflow.pyfunc.spark_udf``): it is the model's code, logged beside
the detector folder by :mod:`ae_anomaly.tracking.registry`, the only module that imports this
one. Being code, not a pickle, the logged model holds no pickled object at all; it is still
code that runs when loaded, so load models only from your own tracking store (README,
"Scoring new curves").

Input: a batch of curves, one per row (a 2-D array, a list of lists, a DataFrame whose rows
are curves, or a DataFrame of one column of arrays, which is what ``spark_udf`` hands over
for an ``array<double>`` column). The logged signature describes no input, so that all of
these reach the model, which checks them itself. Output: a DataFrame with each detector's
``<model>_score`` (higher = more anomalous) and ``<model>_label`` (1 = anomaly), and where
each curve's strongest anomaly lies (``anomaly_start``, ``anomaly_end``, ``anomaly_peak``);
with ``params={"anomaly_map": True}`` also ``anomaly_map``, one list of values per curve.

Bad curves: by default (``bad_rows="refuse"``) the batch is refused with an
``INVALID_PARAMETER_VALUE`` error (HTTP 400 when served) that names the problem and the curve
length the detector expects. With ``params={"bad_rows": "null"}`` (what Spark scoring asks
for) each bad curve gets null scores, labels and locations and an ``error`` naming its
problem, and the rest of the batch is scored."""

from typing import Any

import mlflow
import numpy as np
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE
from mlflow.pyfunc import PythonModel

from ae_anomaly.deploy.curves import CurveInputError, check_rows
from ae_anomaly.deploy.detector import CurveDetector
from ae_anomaly.deploy.folder import DETECTOR_ARTIFACT

#: What ``params={"bad_rows": ...}`` may say: refuse the whole batch (the default, as the
#: command line does), or give refused curves null scores and say why in ``error`` (Spark).
BAD_ROWS = ("refuse", "null")


class DetectorModel(PythonModel):
    def load_context(self, context: Any) -> None:
        self.detector = CurveDetector.load(context.artifacts[DETECTOR_ARTIFACT])

    # ``np.ndarray`` is a hint MLflow reads no schema from: the logged signature describes
    # the output and the params, and the detector checks the input itself.
    def predict(
        self, context: Any, model_input: np.ndarray, params: dict[str, Any] | None = None
    ) -> pd.DataFrame:
        params = params or {}
        with_map = bool(params.get("anomaly_map", False))
        bad_rows = str(params.get("bad_rows", "refuse"))
        if bad_rows not in BAD_ROWS:
            raise MlflowException(
                f"bad_rows must be one of {', '.join(BAD_ROWS)}, not {bad_rows!r}",
                error_code=INVALID_PARAMETER_VALUE,
            )
        curves = _curves(model_input)
        if bad_rows == "null":
            return self._score_row_by_row(curves, with_map)
        try:
            columns = self.detector.score_table(curves, anomaly_map=with_map)
        except CurveInputError as error:
            raise MlflowException(str(error), error_code=INVALID_PARAMETER_VALUE) from None
        return _table(columns)

    def _score_row_by_row(self, curves: object, with_map: bool) -> pd.DataFrame:
        """Every curve that can be scored is; the others get nulls and an ``error``."""
        checked = check_rows(curves, self.detector.curve_length)
        rows = len(checked.errors)
        columns: dict[str, Any] = {}
        if len(checked.curves):
            scored = self.detector.score_table(checked.curves, anomaly_map=with_map)
        else:  # nothing to score: the columns still exist, all null
            probe = np.zeros((1, self.detector.curve_length), np.float32)
            scored = {name: values[:0] for name, values in self.detector.score_table(probe).items()}
            if with_map:
                scored["anomaly_map"] = np.zeros((0, self.detector.curve_length))
        for name, values in scored.items():
            if name == "anomaly_map":
                maps: list[Any] = [None] * rows
                for index, row in zip(np.flatnonzero(checked.scored), values, strict=True):
                    maps[index] = row.tolist()
                columns[name] = maps
            elif values.dtype.kind == "f":
                full = np.full(rows, np.nan)
                full[checked.scored] = values
                columns[name] = full
            else:  # labels and locations: integers where scored, null (pd.NA) where refused
                integers = pd.array(np.zeros(rows, np.int64), dtype="Int64")
                integers[checked.scored] = values
                integers[~checked.scored] = pd.NA
                columns[name] = integers
        columns["error"] = pd.Series(checked.errors, dtype=object)
        return pd.DataFrame(columns)


def _curves(model_input: object) -> object:
    """The batch as rows of curves: a DataFrame is either one column of arrays (what
    ``mlflow.pyfunc.spark_udf`` hands over for an ``array<double>`` column) or one column
    per point."""
    if not isinstance(model_input, pd.DataFrame):
        return model_input
    if len(model_input.columns) == 1 and model_input.dtypes.iloc[0].kind == "O":
        return model_input.iloc[:, 0].tolist()
    return model_input.to_numpy()


def _table(columns: dict[str, np.ndarray]) -> pd.DataFrame:
    maps = columns.pop("anomaly_map", None)
    table = pd.DataFrame(columns)
    if maps is not None:
        table["anomaly_map"] = maps.tolist()
    return table


if __name__ != "ae_anomaly.deploy.pyfunc_model":  # run by MLflow as the model's code, not imported
    mlflow.models.set_model(DetectorModel())
