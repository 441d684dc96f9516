"""The house takes a new network kind and a new residual detector as one module each plus
its registration, and both then run through the real pipeline and every way of scoring.

In a sandbox copy of the project, the test adds exactly what the README says adding one
takes, and nothing else:

- a network kind: ``ae_anomaly/networks/tiny_conv.py``, its settings class in
  ``core/params.py`` (one field more in ``NetworkParams``), its entry in
  ``networks/registry.py`` and its section in ``params.yaml``;
- a residual detector: ``ae_anomaly/detectors/peak_count.py``, its entry in
  ``core/models.py`` and its params section (the schema, ``params.yaml``, and the
  ``detector`` and ``evaluate`` stages' params lists in ``dvc.yaml``).

Then ``dvc repro`` trains the convolutional network, fits and packs the new detector, and
``evaluate`` reports it; ``ae-anomaly score`` and the registered MLflow model both answer its
columns with the numbers ``evaluate`` reported.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import numpy as np
import pytest
import yaml

from tests.integration.conftest import make_repo
from tests.integration.scoring_helpers import assert_every_path_scores_as_evaluate_reported
from tooling.sandbox import dvc, run

pytestmark = pytest.mark.integration

TINY_CONV = '''
"""Network kind ``tiny_conv``: one 1-D convolution in, one out (a test's example kind)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn

from ae_anomaly.networks.base import Network


@dataclass(frozen=True)
class TinyConvConfig:
    input_size: int
    channels: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class TinyConv(Network):
    kind = "tiny_conv"

    def __init__(self, config: TinyConvConfig):
        super().__init__()
        self.config = config
        self.encoder = nn.Sequential(nn.Conv1d(1, config.channels, 5, padding=2), nn.Tanh())
        self.decoder = nn.Conv1d(config.channels, 1, 5, padding=2)

    @classmethod
    def from_config_dict(cls, config: dict[str, Any]) -> TinyConv:
        return cls(TinyConvConfig(**config))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x.unsqueeze(1))).squeeze(1)
'''

TINY_CONV_PARAMS = """

class TinyConvNetworkParams(_Section):
    channels: PositiveInt
"""

PEAK_COUNT = '''
"""Residual detector ``peak_count``: how many points of a curve stand out (a test's example)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

import numpy as np
from sklearn.utils.validation import check_is_fitted, validate_data

from ae_anomaly.core.types import Predictions
from ae_anomaly.detectors.residual import ResidualDetector
from ae_anomaly.features.residuals import ResidualRows


@dataclass(frozen=True)
class PackedPeakCount:
    level: float
    threshold: float

    def score(self, rows: ResidualRows) -> Predictions:
        counts = (rows.folded("absolute") > self.level).sum(axis=1).astype(np.float64)
        return Predictions(counts, (counts > self.threshold).astype(np.int64))


class PeakCountDetector(ResidualDetector):
    fits_on = "holdout"

    def __init__(self, quantile: float = 0.99):
        self.quantile = quantile

    @classmethod
    def from_params(cls, params: Any, seed: int) -> Self:
        return cls(quantile=params.quantile)

    def fit(self, X: np.ndarray, y: np.ndarray | None = None) -> Self:
        X = validate_data(self, X)
        self.level_ = float(np.quantile(np.abs(X), self.quantile))
        self.threshold_ = float(np.quantile(self.decision_function(X), self.quantile))
        return self

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        check_is_fitted(self, "level_")
        return (np.abs(X) > self.level_).sum(axis=1).astype(np.float64)

    def pack(self, folder: Path, name: str) -> dict[str, Any]:
        return {"level": self.level_, "threshold": self.threshold_}

    @classmethod
    def unpack(
        cls, config: dict[str, Any], folder: Path, name: str, threads: int = 1
    ) -> PackedPeakCount:
        return PackedPeakCount(config["level"], config["threshold"])
'''

PEAK_COUNT_PARAMS = """

class PeakCountParams(_Section):
    quantile: UnitFloat
"""

PEAK_COUNT_ENTRY = """    Model(
        "peak_count",
        "count of residual points above the normal level",
        None,
        False,
        "ae_anomaly.detectors.peak_count:PeakCountDetector",
    ),
)"""


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert text.count(old) == 1, f"{path}: {old!r} is not where the docs say"
    path.write_text(text.replace(old, new))


def _add_network_kind(repo: Path) -> None:
    package = repo / "ae_anomaly"
    (package / "networks/tiny_conv.py").write_text(textwrap.dedent(TINY_CONV).lstrip())
    params = package / "core/params.py"
    _edit(params, "\n\nclass NetworkParams(", TINY_CONV_PARAMS + "\n\nclass NetworkParams(")
    _edit(
        params,
        "    vae: VAENetworkParams | None = None\n",
        "    vae: VAENetworkParams | None = None\n"
        "    tiny_conv: TinyConvNetworkParams | None = None\n",
    )
    registry = package / "networks/registry.py"
    _edit(
        registry,
        "from ae_anomaly.networks.mlp import MLPAutoencoder\n",
        "from ae_anomaly.networks.mlp import MLPAutoencoder\n"
        "from ae_anomaly.networks.tiny_conv import TinyConv\n",
    )
    _edit(
        registry,
        "    MLPAutoencoder.kind: MLPAutoencoder,\n",
        "    MLPAutoencoder.kind: MLPAutoencoder,\n    TinyConv.kind: TinyConv,\n",
    )


def _add_residual_detector(repo: Path) -> None:
    package = repo / "ae_anomaly"
    (package / "detectors/peak_count.py").write_text(textwrap.dedent(PEAK_COUNT).lstrip())
    models = package / "core/models.py"
    text = models.read_text()
    end = text.index("\n)\n\nMODEL_NAMES")
    models.write_text(text[:end] + "\n" + PEAK_COUNT_ENTRY + text[end + 2 :])
    params = package / "core/params.py"
    _edit(params, "\n\nclass EvaluateParams(", PEAK_COUNT_PARAMS + "\n\nclass EvaluateParams(")
    _edit(
        params,
        "    difference_forest: DifferenceForestParams\n",
        "    difference_forest: DifferenceForestParams\n    peak_count: PeakCountParams\n",
    )
    pipeline = repo / "dvc.yaml"
    stages = yaml.safe_load(pipeline.read_text())["stages"]
    assert "difference_forest" in stages["detector"]["params"]
    _edit(
        pipeline,
        "      - difference_forest\n      - localisation\n    outs:\n      - models/detector",
        "      - difference_forest\n      - peak_count\n      - localisation\n    outs:\n"
        "      - models/detector",
    )
    _edit(
        pipeline,
        "      - difference_forest\n      - localisation\n      - evaluate\n",
        "      - difference_forest\n      - peak_count\n      - localisation\n      - evaluate\n",
    )


def test_a_new_network_kind_and_residual_detector_run_through_the_pipeline(tmp_path: Path):
    repo = make_repo(tmp_path / "repo")
    _add_network_kind(repo)
    _add_residual_detector(repo)
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["train_ae"]["network"] |= {"kind": "tiny_conv", "tiny_conv": {"channels": 4}}
    params["peak_count"] = {"quantile": 0.99}
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    run(repo, "git", "add", "-A")
    run(repo, "git", "commit", "-q", "-m", "a network kind and a residual detector")

    dvc(repo, "repro")

    checkpoint = run(
        repo,
        "python",
        "-c",
        "import torch, json; c = torch.load('models/autoencoder.pt', weights_only=True);"
        "print(json.dumps([c['kind'], c['config']]))",
    )
    assert json.loads(checkpoint.stdout) == ["tiny_conv", {"input_size": 64, "channels": 4}]
    metrics = json.loads((repo / "metrics/validation.json").read_text())
    assert {"peak_count", "histogram_forest", "ae_threshold"} <= set(metrics)
    assert 0.0 <= metrics["peak_count"]["roc_auc"] <= 1.0
    reported = np.genfromtxt(repo / "reports/validation_scores.csv", delimiter=",", names=True)
    assert "peak_count_score" in reported.dtype.names

    assert_every_path_scores_as_evaluate_reported(repo, ["peak_count", "histogram_forest"])
