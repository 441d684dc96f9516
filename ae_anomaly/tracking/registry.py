"""The deployable detector in MLflow: logged as a ``pyfunc`` model (models from code), registered
as a version of :data:`REGISTERED_MODEL`, and fetched back as its plain files."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping, Sequence
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


#: Every new version is the challenger; the one that beat the rest is the champion.
CHALLENGER, CHAMPION = "challenger", "champion"
DEFAULT_CHAMPION_METRIC = "histogram_forest.f1_anomaly"

#: The metrics a registered version carries as tags, so versions compare at a glance.
KEY_METRICS = ("f1_anomaly", "roc_auc")


def params_digest(params: dict[str, Any]) -> str:
    """sha256 of the validated, flattened params: identical params, identical digest."""
    return hashlib.sha256(json.dumps(params, sort_keys=True, default=str).encode()).hexdigest()


def _detector_signature(columns: Sequence[str], locates: bool) -> Any:
    """No input schema: the detector checks its input itself and names the problem and the
    expected curve length, curve by curve with ``bad_rows="null"``. Any schema MLflow offers
    would refuse something a user hands it before the model could say what it expects: a
    float tensor spec refuses float32 arrays, and even an ``object`` tensor spec makes
    ``mlflow.pyfunc.spark_udf`` fail on an ``array<double>`` column (MLflow reshapes the
    column to the spec's shape). Output: the columns every answer holds, so that
    ``spark_udf`` infers a struct from them; the optional ones (``anomaly_map``, and
    ``error`` with ``bad_rows="null"``) are asked for by the params."""
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, ParamSchema, ParamSpec, Schema

    from ae_anomaly.detectors.location import LOCATION_COLUMNS

    outputs = [ColSpec("long" if name.endswith("_label") else "double", name) for name in columns]
    params = [ParamSpec("bad_rows", "string", "refuse")]
    if locates:
        outputs += [ColSpec("long", name) for name in LOCATION_COLUMNS]
        params.insert(0, ParamSpec("anomaly_map", "boolean", False))
    return ModelSignature(outputs=Schema(outputs), params=ParamSchema(params))


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
        signature=_detector_signature(columns, locates="locator" in config),
        input_example=np.asarray(record.input_example, dtype=np.float64),
        pip_requirements=_requirements(),
        metadata={"curve_length": config["curve_length"], "normalize": config["normalize"]},
        tags={"detector_sha256": digest},
    )
    validation = next((d.digest for d in record.datasets if d.name == "validation"), "")
    champion_metric = str(record.params.get("evaluate.champion_metric", DEFAULT_CHAMPION_METRIC))
    version_tags = {
        "detector_sha256": digest,
        "validation_md5": validation,
        "champion_metric": champion_metric,
        "champion_metric_value": str(_metric(record, champion_metric)),
        "params_sha256": params_digest(record.params),
        "run_id": run_id,
        **{
            f"{model}.{metric}": str(record.metrics[model][metric])
            for model in fitted
            for metric in KEY_METRICS
            if metric in record.metrics.get(model, {})
        },
        **{
            f"localisation.{metric}": str(value)
            for metric, value in record.metrics.get("localisation", {}).items()
            if metric in ("hit_rate", "mean_iou", "median_centre_error")
        },
    }
    version = mlflow.register_model(info.model_uri, REGISTERED_MODEL, tags=version_tags)
    client.update_model_version(
        REGISTERED_MODEL, version.version, description=version_description(record, run_id)
    )
    _describe_registered_model(client)
    client.set_tag(run_id, "detector.registered_version", str(version.version))
    promote(client, version.version, version_tags)
    logger.info("detector registered as %s version %s", REGISTERED_MODEL, version.version)


MODEL_DESCRIPTION = (
    "The deployable anomaly detector for 1-D curves of the ae-anomaly pipeline: an autoencoder "
    "and the detectors fitted on its residuals, packed in one folder. Each version is the "
    "detector of one pipeline run (its description names the run, the data, the params digest "
    "and the validation figures). Scores: higher = more anomalous; label 1 = anomaly. "
    "Load it with `mlflow.pyfunc.load_model('models:/ae-anomaly-detector@champion')` or "
    "`ae-anomaly score CURVES --detector models:/ae-anomaly-detector@champion -o scores.csv`. "
    "Every new version is `@challenger`; `@champion` is the best so far on each version's "
    "`champion_metric`."
)


def _metric(record: PipelineRecord, dotted: str) -> float | None:
    model, _, metric = dotted.partition(".")
    value = record.metrics.get(model, {}).get(metric)
    return float(value) if isinstance(value, int | float) else None


def _value(tags: Mapping[str, str]) -> float | None:
    try:
        return float(tags.get("champion_metric_value", "None"))
    except ValueError:
        return None


def promote(client: Any, version: str, tags: Mapping[str, str]) -> str:
    """Give ``version`` (registered with ``tags``) the alias ``@challenger``, and
    ``@champion`` when it beats the current champion (the rule in ``docs/mlflow.md``).
    Returns the champion's version afterwards.

    The new version takes ``@champion`` when there is none yet, or when it was measured on
    the same validation data (same md5) and the same ``evaluate.champion_metric`` and scores
    strictly higher. Figures on other data, or on another metric, do not compare: the
    champion stays, and the log says how to move the alias by hand.
    """
    from mlflow.exceptions import MlflowException

    client.set_registered_model_alias(REGISTERED_MODEL, CHALLENGER, version)
    try:
        champion = client.get_model_version_by_alias(REGISTERED_MODEL, CHAMPION)
    except MlflowException:
        champion = None
    ours, metric = _value(tags), tags.get("champion_metric")
    if ours is None:
        logger.warning(
            "evaluate.champion_metric %s names no figure this run measured (a typo, or a model "
            "not fitted): version %s cannot take @%s",
            metric, version, CHAMPION,
        )  # fmt: skip
    if champion is None:
        take = ours is not None
    elif (
        champion.tags.get("validation_md5") != tags.get("validation_md5")
        or champion.tags.get("champion_metric") != metric
    ):
        logger.info(
            "version %s is not comparable with @%s (version %s): other validation data or "
            "another metric; to promote it anyway: MlflowClient().set_registered_model_alias"
            "(%r, %r, %s)",
            version, CHAMPION, champion.version, REGISTERED_MODEL, CHAMPION, version,
        )  # fmt: skip
        take = False
    else:
        theirs = _value(champion.tags)
        take = ours is not None and (theirs is None or ours > theirs)
    if take:
        client.set_registered_model_alias(REGISTERED_MODEL, CHAMPION, version)
        logger.info("version %s is now @%s (%s %s)", version, CHAMPION, metric, ours)
        return version
    return str(champion.version) if champion is not None else ""


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
            *_localisation_lines(record.metrics.get("localisation", {})),
        ]
    )


def _localisation_lines(localisation: Mapping[str, Any]) -> list[str]:
    """Where the windows met the synthetic truth; nothing on data without truth."""
    if "hit_rate" not in localisation:
        return []
    return [
        "",
        f"**Where on the curve**: the window holds the true centre for "
        f"{float(localisation['hit_rate']):.1%} of the validation anomalies (mean IoU "
        f"{float(localisation['mean_iou']):.3f}, median centre error "
        f"{float(localisation['median_centre_error']):.2f} points)",
    ]


def _requirements() -> list[str]:
    """What serving the model needs; explicit, because MLflow's inference of them imports
    the model in a subprocess (seconds)."""
    from importlib.metadata import version

    return [
        f"{name}=={version(name).split('+')[0]}"  # torch's "+cpu" is a local build label
        for name in ("torch", "scikit-learn", "numpy", "pandas", "ae-anomaly")
    ]


def download_detector(model_uri: str, destination: Path | None = None) -> Path:
    """The detector folder inside an MLflow model (``models:/ae-anomaly-detector@champion``,
    ``models:/ae-anomaly-detector/3``, ``runs:/<id>/detector``, ...), downloaded from the
    tracking store: the plain files only, so using it runs no code from the store. An alias
    is resolved to its version first: MLflow roots a sub-path of an alias URI elsewhere."""
    import mlflow
    from mlflow.exceptions import MlflowException

    from ae_anomaly.deploy.folder import DETECTOR_ARTIFACT

    uri = tracking_uri(repository_root())
    check_reachable(uri)
    mlflow.set_tracking_uri(uri)
    try:
        if model_uri.startswith("models:/") and "@" in model_uri:
            name, _, alias = model_uri.removeprefix("models:/").rstrip("/").partition("@")
            version = mlflow.MlflowClient().get_model_version_by_alias(name, alias).version
            model_uri = f"models:/{name}/{version}"
        folder = mlflow.artifacts.download_artifacts(
            artifact_uri=f"{model_uri.rstrip('/')}/artifacts/{DETECTOR_ARTIFACT}",
            dst_path=None if destination is None else str(destination),
        )
    except MlflowException as error:
        raise TrackingUnavailableError(f"cannot fetch {model_uri} from {uri}: {error}") from None
    return Path(folder)
