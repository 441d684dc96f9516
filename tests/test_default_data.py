"""The article's synthetic data under the default ``params.yaml`` is byte-identical to what
the pipeline has always produced (the curves and labels; the generator's files now also hold
where each anomaly lies), and to what the committed ``dvc.lock`` records.

Every figure of the project (bench/results/quality.md, the README) is measured on these
curves: changing them is a breaking change, not a refactor. The later stages' outputs are
checked the same way by the integration suite on tiny params (two clean runs, byte for byte).
"""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
import yaml

from stages import generate, split
from tests.conftest import REPO_ROOT
from tooling.pipeline import stage_paths

#: md5 of the default outputs, unchanged since the pipeline was first built.
PINNED = {
    "data/split/train.npz": "8c10778ff5cafa45fa0235803ccfffdf",
    "data/split/test.npz": "e5c44ea9e2ac5246a9ab3c2ec1e66e81",
}
#: md5 of the generator's curves and labels, unchanged since the pipeline was first built.
PINNED_ARRAYS = {
    "data/raw/pool.npz": {
        "x": "717a4e5b4086bd71c6512124de50b639",
        "y": "2d54a93ec039d0e01d04fb0e71fa2214",
    },
    "data/raw/validation.npz": {
        "x": "1066b601e89e27879deb79dbdfcaccdf",
        "y": "4914f7c36a5bc07012d1a91ffc5467bd",
    },
}


def _md5(path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def produced(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Run the two stages' ``main`` on the default params into a temporary folder."""
    out = tmp_path_factory.mktemp("default-data")
    generated, divided = stage_paths("generate"), stage_paths("split")
    raw = {name: out / generated[name].relative_to(REPO_ROOT) for name in ("pool", "validation")}
    parts = {name: out / divided[name].relative_to(REPO_ROOT) for name in ("train", "test")}
    params = ["--params", str(REPO_ROOT / "params.yaml")]
    generate.main(
        [*params, "--inputs", str(REPO_ROOT / "inputs"), "--pool", str(raw["pool"]),
         "--validation", str(raw["validation"])]
    )  # fmt: skip
    split.main(
        [*params, "--pool", str(raw["pool"]), "--train", str(parts["train"]),
         "--test", str(parts["test"])]
    )  # fmt: skip
    return {
        path.relative_to(out).as_posix(): _md5(path) for path in [*raw.values(), *parts.values()]
    } | {
        f"{path.relative_to(out).as_posix()}:{name}": hashlib.md5(array.tobytes()).hexdigest()
        for path in raw.values()
        for name, array in np.load(path).items()
        if name in ("x", "y")
    }


def test_default_data_is_byte_identical_to_the_pinned_md5s(produced):
    assert {path: produced[path] for path in PINNED} == PINNED
    for path, arrays in PINNED_ARRAYS.items():
        assert {name: produced[f"{path}:{name}"] for name in arrays} == arrays


def test_default_data_is_what_the_committed_lock_records(produced):
    lock = yaml.safe_load((REPO_ROOT / "dvc.lock").read_text())["stages"]
    recorded = {
        out["path"]: out["md5"] for stage in ("generate", "split") for out in lock[stage]["outs"]
    }
    assert {path: produced[path] for path in recorded} == recorded
