"""The one schema for ``params.yaml``.

Every stage validates the *whole* file before doing any work, so a typo anywhere is caught
by whichever stage runs first, and nothing is written on bad input. Unknown keys are
rejected (``extra="forbid"``) because a misspelt key silently falling back to a default is
the most expensive kind of bug in an experiment pipeline.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal, Self

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from ae_anomaly.core.types import InputError

PositiveInt = Annotated[int, Field(gt=0)]
PositiveFloat = Annotated[float, Field(gt=0)]
NonNegativeFloat = Annotated[float, Field(ge=0)]
UnitFloat = Annotated[float, Field(ge=0, le=1)]
Device = Literal["auto", "cpu", "cuda"]


class ParamsError(InputError):
    """Raised when ``params.yaml`` does not satisfy the schema; the message names dotted keys."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _ordered_pair(value: tuple[float, float], name: str) -> tuple[float, float]:
    low, high = value
    if not low < high:
        raise ValueError(f"{name} must be [low, high] with low < high, got {list(value)}")
    return value


class BaseParams(_Section):
    seed: Annotated[int, Field(ge=0)]


class SyntheticParams(_Section):
    sample_size: Annotated[int, Field(ge=2)]
    x_range: tuple[float, float]
    pool_normal: PositiveInt
    pool_anomalous: PositiveInt
    validation_normal: PositiveInt
    validation_anomalous: PositiveInt
    normal_mu: tuple[float, float]
    normal_sigma: tuple[PositiveFloat, PositiveFloat]
    normal_max: PositiveFloat
    anomaly_mu: tuple[float, float]
    anomaly_sigma: tuple[PositiveFloat, PositiveFloat]
    anomaly_max: PositiveFloat
    noise_std: NonNegativeFloat

    @model_validator(mode="after")
    def _ranges_are_ordered(self) -> Self:
        for name in ("x_range", "normal_mu", "normal_sigma", "anomaly_mu", "anomaly_sigma"):
            _ordered_pair(getattr(self, name), name)
        return self


class FilesParams(_Section):
    train: str | None
    validation: str | None
    layout: Literal["ucr", "header", "unlabelled"]
    label_column: str | None
    normal_labels: Annotated[list[int | float | str], Field(min_length=1)]


class GenerateParams(_Section):
    source: Literal["synthetic", "files"]
    synthetic: SyntheticParams
    files: FilesParams

    @model_validator(mode="after")
    def _files_are_named(self) -> Self:
        if self.source == "files":
            missing = [name for name in ("train", "validation") if not getattr(self.files, name)]
            if missing:
                keys = " and ".join(f"generate.files.{name}" for name in missing)
                raise ValueError(f"source is files, so {keys} must name a file under inputs/")
            if self.files.layout == "header" and not self.files.label_column:
                raise ValueError("layout header needs generate.files.label_column")
        return self


class PreprocessParams(_Section):
    normalize: Literal["none", "zscore", "minmax"]


class SplitParams(_Section):
    test_size: Annotated[float, Field(gt=0, lt=1)]
    shuffle: bool
    stratify: bool

    @model_validator(mode="after")
    def _stratify_needs_shuffle(self) -> Self:
        if self.stratify and not self.shuffle:
            raise ValueError("stratify requires shuffle: true (scikit-learn refuses otherwise)")
        return self


class OneClassSVMParams(_Section):
    nu: Annotated[float, Field(gt=0, le=1)] | None
    kernel: Literal["rbf", "linear", "poly", "sigmoid"]
    gamma: Literal["scale", "auto"] | PositiveFloat
    cache_size_mb: PositiveFloat


class IsolationForestParams(_Section):
    n_estimators: PositiveInt
    contamination: Annotated[float, Field(gt=0, le=0.5)] | None
    max_features: PositiveInt | Annotated[float, Field(gt=0, le=1)]


class RandomForestParams(_Section):
    n_estimators: PositiveInt
    max_features: PositiveInt | Annotated[float, Field(gt=0, le=1)] | Literal["sqrt", "log2"]
    class_weight: Literal["balanced", "balanced_subsample"] | None
    decision_threshold: Annotated[float, Field(gt=0, lt=1)] | Literal["tuned"]


class BaselinesParams(_Section):
    one_class_svm: OneClassSVMParams
    isolation_forest: IsolationForestParams
    random_forest: RandomForestParams
    n_jobs: int


# Network kinds ------------------------------------------------------------------------------
# ``train_ae.network.kind`` names the kind that is built; ``train_ae.network.<kind>`` holds each
# kind's settings, the settings of one module of ``ae_anomaly/networks/`` (its registry maps
# the kind to the class). Every kind keeps its section, so switching is one override
# (``dvc exp run -S train_ae.network.kind=conv``) and a sweep over kinds is one grid. Adding a
# kind is that module, its settings class and field here, and its registry entry.

Activation = Literal["leaky_relu", "relu", "elu", "tanh", "gelu"]


class MLPNetworkParams(_Section):
    """The article's fully connected autoencoder (``ae_anomaly/networks/mlp.py``)."""

    hidden_sizes: list[PositiveInt]
    latent_dim: PositiveInt
    activation: Activation
    negative_slope: NonNegativeFloat
    output_activation: Literal["same", "identity", "sigmoid"]


class ConvNetworkParams(_Section):
    """A 1-D convolutional autoencoder (``ae_anomaly/networks/conv.py``)."""

    channels: Annotated[list[PositiveInt], Field(min_length=1)]
    kernel_size: PositiveInt
    latent_dim: PositiveInt
    activation: Activation
    negative_slope: NonNegativeFloat

    @field_validator("kernel_size")
    @classmethod
    def _odd(cls, value: int) -> int:
        if value % 2 == 0:
            raise ValueError(f"must be odd (the padding keeps curves centred), got {value}")
        return value


class VAENetworkParams(_Section):
    """A variational autoencoder (``ae_anomaly/networks/vae.py``)."""

    hidden_sizes: list[PositiveInt]
    latent_dim: PositiveInt
    activation: Activation
    negative_slope: NonNegativeFloat
    beta: NonNegativeFloat


class NetworkParams(_Section):
    kind: str
    mlp: MLPNetworkParams | None = None
    conv: ConvNetworkParams | None = None
    vae: VAENetworkParams | None = None

    @model_validator(mode="after")
    def _kind_has_settings(self) -> Self:
        kinds = [name for name in type(self).model_fields if name != "kind"]
        if self.kind not in kinds:
            raise ValueError(f"kind {self.kind!r} is not one of {', '.join(kinds)}")
        if getattr(self, self.kind) is None:
            raise ValueError(f"kind is {self.kind!r}, but the section {self.kind!r} is missing")
        return self

    def settings(self) -> dict[str, object]:
        """The chosen kind's settings, as the plain values its config is built from."""
        return getattr(self, self.kind).model_dump()


class TrainAEParams(_Section):
    network: NetworkParams
    #: ``auto``: the kind's fast path where it has one (``mlp``), the same weights bit for
    #: bit; ``autograd``: the general trainer for every kind.
    trainer: Literal["auto", "autograd"]
    epochs: PositiveInt
    batch_size: PositiveInt
    lr: PositiveFloat
    weight_decay: NonNegativeFloat
    lr_schedule: Literal["constant", "cosine"]
    holdout_fraction: Annotated[float, Field(gt=0, lt=1)]
    early_stopping_patience: PositiveInt | None
    boxplot_every_n_epochs: PositiveInt
    device: Device


class ResidualsParams(_Section):
    batch_size: PositiveInt
    device: Device


class AEThresholdParams(_Section):
    error: Literal["mse", "mae", "max_abs"]
    quantile: UnitFloat
    margin: PositiveFloat
    standardize: bool
    prior_curves: Annotated[float, Field(ge=0)]


class _ResidualForestParams(_Section):
    residual: Literal["signed", "absolute", "squared"]
    n_estimators: PositiveInt
    max_features: PositiveInt | Annotated[float, Field(gt=0, le=1)] | Literal["sqrt", "log2"]
    class_weight: Literal["balanced", "balanced_subsample"] | None
    decision_threshold: Annotated[float, Field(gt=0, lt=1)] | Literal["tuned"]
    n_jobs: int


class HistogramForestParams(_ResidualForestParams):
    bins: PositiveInt
    range: tuple[float, float] | None
    range_quantile: Annotated[float, Field(gt=0.5, le=1)]

    @model_validator(mode="after")
    def _range_is_ordered(self) -> Self:
        if self.range is not None:
            _ordered_pair(self.range, "range")
        return self


class DifferenceForestParams(_ResidualForestParams):
    pass


class LocalisationParams(_Section):
    #: The window of a curve's strongest anomaly ends where its anomaly map falls below this
    #: share of its peak (``ae_anomaly.detectors.location``).
    window_level: Annotated[float, Field(gt=0, lt=1)]


class EvaluateParams(_Section):
    example_curves: PositiveInt
    heatmap_rows: PositiveInt
    mlflow_experiment: Annotated[str, Field(min_length=1)]
    log_model: bool
    #: ``<model>.<metric>`` on validation that a registered version must beat to take the
    #: ``@champion`` alias (higher is better).
    champion_metric: str

    @field_validator("champion_metric")
    @classmethod
    def _model_and_metric(cls, value: str) -> str:
        model, _, metric = value.partition(".")
        if not model or not metric:
            raise ValueError(
                f"expected <model>.<metric>, e.g. histogram_forest.f1_anomaly, got {value!r}"
            )
        return value


class Params(_Section):
    base: BaseParams
    generate: GenerateParams
    split: SplitParams
    preprocess: PreprocessParams
    baselines: BaselinesParams
    train_ae: TrainAEParams
    residuals: ResidualsParams
    ae_threshold: AEThresholdParams
    histogram_forest: HistogramForestParams
    difference_forest: DifferenceForestParams
    localisation: LocalisationParams
    evaluate: EvaluateParams


def _format_errors(error: ValidationError, source: str) -> str:
    lines = [f"{source}: {error.error_count()} invalid parameter(s):"]
    for item in error.errors():
        dotted = ".".join(str(part) for part in item["loc"]) or "<root>"
        if item["type"] == "extra_forbidden":
            message = "unknown key (typo?); allowed keys are listed in ae_anomaly/core/params.py"
        else:
            message = item["msg"]
        lines.append(f"  {dotted}: {message} (got {item.get('input')!r})")
    return "\n".join(lines)


def parse_params(raw: object, source: str = "params.yaml") -> Params:
    """Validate an already-loaded mapping; raise :class:`ParamsError` naming every bad key."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ParamsError(
            f"{source}: expected a mapping at the top level, got {type(raw).__name__}"
        )
    try:
        return Params.model_validate(raw)
    except ValidationError as error:
        raise ParamsError(_format_errors(error, source)) from None


def read_yaml(path: str | Path) -> object:
    """``yaml.safe_load`` of a file, with the file named in any error."""
    path = Path(path)
    try:
        return yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ParamsError(f"{path}: file not found") from None
    except yaml.YAMLError as error:
        raise ParamsError(f"{path}: not valid YAML: {error}") from None


def load_params(path: str | Path = "params.yaml") -> Params:
    """Read and validate ``params.yaml``."""
    return parse_params(read_yaml(path), str(path))


def flatten(params: BaseModel, prefix: str = "") -> dict[str, object]:
    """``{"train_ae.epochs": 100, ...}``: the dotted form MLflow and ``dvc exp`` use."""
    flat: dict[str, object] = {}
    for name in type(params).model_fields:
        value = getattr(params, name)
        key = f"{prefix}{name}"
        if isinstance(value, BaseModel):
            flat.update(flatten(value, f"{key}."))
        else:
            flat[key] = list(value) if isinstance(value, tuple) else value
    return flat


# Presets -----------------------------------------------------------------------------------
# A preset (``presets/*.yaml``) holds only the values that differ from ``params.yaml``: the
# same shape, any subset of keys. It is applied as ``dvc exp run -S key=value`` per key, so the
# user's ``params.yaml`` stays untouched and ``dvc exp show`` lists exactly what changed.


def _flatten_mapping(mapping: dict, prefix: str = "") -> dict[str, object]:
    flat: dict[str, object] = {}
    for key, value in mapping.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten_mapping(value, f"{dotted}."))
        else:
            flat[dotted] = value
    return flat


def _merge(base: dict, changes: dict) -> dict:
    merged = dict(base)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            merged[key] = _merge(base[key], value)
        else:
            merged[key] = value
    return merged


def load_preset(
    preset: str | Path, params_file: str | Path = "params.yaml"
) -> tuple[dict[str, object], Params]:
    """A preset's dotted overrides and the params they give on top of ``params_file``.

    The result is validated by the one schema, so a preset with a typo or a bad value is
    rejected with the same dotted-key message as ``params.yaml`` itself.
    """
    delta = read_yaml(preset) or {}
    if not isinstance(delta, dict):
        raise ParamsError(f"{preset}: expected a mapping at the top level")
    base = read_yaml(params_file) or {}
    if not isinstance(base, dict):
        raise ParamsError(f"{params_file}: expected a mapping at the top level")
    params = parse_params(_merge(base, delta), f"{preset} on top of {params_file}")
    return _flatten_mapping(delta), params


def redundant_preset_keys(preset: str | Path, params_file: str | Path = "params.yaml") -> list[str]:
    """Dotted keys a preset sets to the value ``params_file`` already has (they belong out).

    Values are compared after validation, so ``1e-3`` and ``0.001`` count as the same.
    """
    overrides, params = load_preset(preset, params_file)
    current, applied = flatten(load_params(params_file)), flatten(params)
    return [key for key in overrides if key in current and current[key] == applied[key]]
