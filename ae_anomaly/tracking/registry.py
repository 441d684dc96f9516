"""The deployable detector in MLflow: logged as a ``pyfunc`` model (models from code), registered
as a version of :data:`REGISTERED_MODEL`, and fetched back as its plain files."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ae_anomaly.tracking.store import (
    TrackingUnavailableError,
    check_reachable,
    repository_root,
    tracking_uri,
)

if TYPE_CHECKING:
    from ae_anomaly.tracking.runs import PipelineRecord

logger = logging.getLogger(__name__)

#: The Model Registry name every pipeline execution's detector is a version of.
REGISTERED_MODEL = "ae-anomaly-detector"


#: The metrics a registered version carries as tags, so versions compare at a glance.
KEY_METRICS = ("f1_anomaly", "roc_auc")


def params_digest(params: dict[str, Any]) -> str:
    """sha256 of the validated, flattened params: identical params, identical digest."""
    return hashlib.sha256(json.dumps(params, sort_keys=True, default=str).encode()).hexdigest()


def _detector_signature(columns: Sequence[str]) -> Any:
    """Input: a batch of curves, any numeric dtype, checked by the detector itself, which
    names the problem and the expected curve length in its errors. (A float tensor spec would
    make MLflow refuse float32 arrays, and answer a non-numeric value in a request with its own
    parsing error, before the model could say what it expects.) Output: the score columns."""
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema, TensorSpec

    return ModelSignature(
        inputs=Schema([TensorSpec(np.dtype(object), (-1,))]),
        outputs=Schema(
            [ColSpec("long" if name.endswith("_label") else "double", name) for name in columns]
        ),
    )


def log_detector(record: PipelineRecord, experiment_id: str, run_id: str) -> None:
    """Log the detector folder as an MLflow ``pyfunc`` model and register it as a new
    version of :data:`REGISTERED_MODEL`, unless a detector with the same bytes was already
    logged: then the run links that model (as a run output) and no duplicate version appears.
    """
    import mlflow
    from mlflow.entities import LoggedModelOutput

    from ae_anomaly.deploy import pyfunc_model
    from ae_anomaly.deploy.folder import (
        CONFIG_FILE,
        DETECTOR_ARTIFACT,
        fitted_detector_names,
        folder_digest,
    )

    assert record.detector_path is not None and record.input_example is not None
    digest = folder_digest(record.detector_path)
    existing = mlflow.search_logged_models(
        experiment_ids=[experiment_id],
        filter_string=f"tags.detector_sha256 = '{digest}'",
        max_results=1,
        output_format="list",
    )
    client = mlflow.MlflowClient()
    if existing:
        client.log_outputs(run_id, [LoggedModelOutput(existing[0].model_id, step=0)])
        _describe_registered_model(client)
        return
    config = json.loads((record.detector_path / CONFIG_FILE).read_text())
    fitted = fitted_detector_names(record.detector_path)
    columns = [f"{name}_{part}" for name in fitted for part in ("score", "label")]
    info = mlflow.pyfunc.log_model(
        name="detector",
        python_model=pyfunc_model.__file__,  # models from code: no pickle in the model
        artifacts={DETECTOR_ARTIFACT: str(record.detector_path)},
        signature=_detector_signature(columns),
        input_example=np.asarray(record.input_example, dtype=np.float64),
        pip_requirements=_requirements(),
        metadata={"curve_length": config["curve_length"], "normalize": config["normalize"]},
        tags={"detector_sha256": digest},
    )
    version_tags = {
        "detector_sha256": digest,
        "params_sha256": params_digest(record.params),
        "run_id": run_id,
        **{
            f"{model}.{metric}": str(record.metrics[model][metric])
            for model in fitted
            for metric in KEY_METRICS
            if metric in record.metrics.get(model, {})
        },
    }
    version = mlflow.register_model(info.model_uri, REGISTERED_MODEL, tags=version_tags)
    client.update_model_version(
        REGISTERED_MODEL, version.version, description=version_description(record, run_id)
    )
    _describe_registered_model(client)
    client.set_tag(run_id, "detector.registered_version", str(version.version))
    logger.info("detector registered as %s version %s", REGISTERED_MODEL, version.version)


MODEL_DESCRIPTION = (
    "The deployable anomaly detector for 1-D curves of the ae-anomaly pipeline: an autoencoder "
    "and the detectors fitted on its residuals, packed in one folder. Each version is the "
    "detector of one pipeline run (its description names the run, the data, the params digest "
    "and the validation figures). Scores: higher = more anomalous; label 1 = anomaly. "
    "Load it with `mlflow.pyfunc.load_model('models:/ae-anomaly-detector/<version>')` or "
    "`ae-anomaly score CURVES --detector models:/ae-anomaly-detector/<version> -o scores.csv`."
)


def _describe_registered_model(client: Any) -> None:
    """Give the registered model its description where it has none (stores from before)."""
    from mlflow.exceptions import MlflowException

    try:
        described = client.get_registered_model(REGISTERED_MODEL).description
    except MlflowException:  # linked a logged model that was never registered
        return
    if not described:
        client.update_registered_model(REGISTERED_MODEL, description=MODEL_DESCRIPTION)


def version_description(record: PipelineRecord, run_id: str) -> str:
    """A registered version's Markdown description: its run, data, params and figures."""
    from ae_anomaly.report.tables import markdown_table
    from ae_anomaly.tracking.describe import data_source

    rows = [
        [model, *(f"{float(values[m]):.3f}" for m in KEY_METRICS)]
        for model, values in record.metrics.items()
        if all(m in values for m in KEY_METRICS)
    ]
    return "\n".join(
        [
            f"**Run**: {record.run_name or run_id} (`{run_id}`)",
            "",
            f"**Data**: {data_source(record.params)}",
            "",
            f"**Params sha256**: `{params_digest(record.params)[:12]}`",
            "",
            "**Validation**",
            "",
            markdown_table(("model", *KEY_METRICS), rows),
        ]
    )


def _requirements() -> list[str]:
    """What serving the model needs; explicit, because MLflow's inference of them imports
    the model in a subprocess (seconds)."""
    from importlib.metadata import version

    return [
        f"{name}=={version(name).split('+')[0]}"  # torch's "+cpu" is a local build label
        for name in ("torch", "scikit-learn", "numpy", "pandas", "ae-anomaly")
    ]


def download_detector(model_uri: str, destination: Path | None = None) -> Path:
    """The detector folder inside an MLflow model (``models:/ae-anomaly-detector/3``,
    ``runs:/<id>/detector``, ...), downloaded from the tracking store: the plain files only,
    so using it runs no code from the store."""
    import mlflow
    from mlflow.exceptions import MlflowException

    from ae_anomaly.deploy.folder import DETECTOR_ARTIFACT

    uri = tracking_uri(repository_root())
    check_reachable(uri)
    mlflow.set_tracking_uri(uri)
    try:
        folder = mlflow.artifacts.download_artifacts(
            artifact_uri=f"{model_uri.rstrip('/')}/artifacts/{DETECTOR_ARTIFACT}",
            dst_path=None if destination is None else str(destination),
        )
    except MlflowException as error:
        raise TrackingUnavailableError(f"cannot fetch {model_uri} from {uri}: {error}") from None
    return Path(folder)
