"""The detector as an MLflow ``pyfunc`` model, in MLflow's "models from code" form.

MLflow runs this file when it loads the model (``mlflow.pyfunc.load_model``,
``mlflow models serve``): it is the model's code, logged beside the detector folder by
:mod:`ae_anomaly.tracking.runs`, the only other module of the package that imports MLflow (and
the only one that imports this one, to log it). Being code, not a pickle, the logged model
holds no pickled object at all; it is still code that runs when loaded, so load models only
from your own tracking store (README, "Scoring new curves").

Input: a batch of curves, one per row (a 2-D array, a list of lists, or a DataFrame whose rows
are curves). Output: a DataFrame with each detector's ``<model>_score`` (higher = more
anomalous) and ``<model>_label`` (1 = anomaly), and where each curve's strongest anomaly lies
(``anomaly_start``, ``anomaly_end``, ``anomaly_peak``); with ``params={"anomaly_map": True}``
also ``anomaly_map``, one list of values per curve (one per point). Curves the detector cannot
score are refused with an ``INVALID_PARAMETER_VALUE`` error (HTTP 400 when served) that names
the problem and the curve length the detector expects."""

from typing import Any

import mlflow
import numpy as np
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE
from mlflow.pyfunc import PythonModel

from ae_anomaly.deploy.curves import CurveInputError
from ae_anomaly.deploy.detector import CurveDetector
from ae_anomaly.deploy.folder import DETECTOR_ARTIFACT


class DetectorModel(PythonModel):
    def load_context(self, context: Any) -> None:
        self.detector = CurveDetector.load(context.artifacts[DETECTOR_ARTIFACT])

    # ``np.ndarray`` is a hint MLflow reads no schema from: the logged signature describes
    # the input, and the detector checks it.
    def predict(
        self, context: Any, model_input: np.ndarray, params: dict[str, Any] | None = None
    ) -> pd.DataFrame:
        curves = model_input.to_numpy() if isinstance(model_input, pd.DataFrame) else model_input
        with_map = bool((params or {}).get("anomaly_map", False))
        try:
            columns = self.detector.score_table(curves, anomaly_map=with_map)
        except CurveInputError as error:
            raise MlflowException(str(error), error_code=INVALID_PARAMETER_VALUE) from None
        maps = columns.pop("anomaly_map", None)
        table = pd.DataFrame(columns)
        if maps is not None:
            table["anomaly_map"] = maps.tolist()
        return table


if __name__ != "ae_anomaly.deploy.pyfunc_model":  # run by MLflow as the model's code, not imported
    mlflow.models.set_model(DetectorModel())
