"""Shared fixtures: validated default params and small synthetic datasets."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ae_anomaly.params import Params, load_params
from ae_anomaly.types import Dataset
from ae_anomaly.wiring import bump_curves

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def default_params() -> Params:
    return load_params(REPO_ROOT / "params.yaml")


@pytest.fixture
def small_dataset(default_params: Params) -> Dataset:
    """80 normal + 20 anomalous curves of 64 points."""
    generate = default_params.generate.synthetic.model_copy(update={"sample_size": 64})
    return bump_curves(generate).dataset(80, 20, np.random.default_rng(0))
