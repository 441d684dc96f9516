"""The package's layers are its folders, and imports go one way between them.

A module may import from its own folder and from the folders *above* it in :data:`LAYERS`
(``core`` first, the console command last); stage scripts import only the package, never
each other; and only ``tracking`` (plus the model code MLflow runs) talks to MLflow. The
tree in ``docs/development.md`` shows the same layers.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT
from tooling.imports import all_imports

#: Top = imports nothing of ours. ``cli`` is the module ``ae_anomaly/cli.py``.
LAYERS: list[str] = [
    "core",
    "data",
    "features",
    "networks",
    "detectors",
    "deploy",
    "report",
    "pipeline",
    "tracking",
    "cli",
]
RANK = {folder: rank for rank, folder in enumerate(LAYERS)}


def layer_of(module: str) -> str:
    """``ae_anomaly.networks.mlp`` -> ``networks``; ``ae_anomaly.cli`` -> ``cli``."""
    return module.split(".")[1]


def _package_modules() -> dict[str, Path]:
    modules = {}
    for path in sorted((REPO_ROOT / "ae_anomaly").rglob("*.py")):
        name = ".".join(path.relative_to(REPO_ROOT).with_suffix("").parts)
        if path.name != "__init__.py":
            modules[name] = path
    return modules


MODULES = _package_modules()


def test_every_module_is_in_a_layer_folder():
    unplaced = sorted(name for name in MODULES if layer_of(name) not in RANK)
    assert not unplaced, f"put these in one of the folders {LAYERS}: {unplaced}"


def test_folders_hold_modules_not_further_folders():
    """One level of folders: the folder says the layer, the module its one job."""
    nested = sorted(name for name in MODULES if name.count(".") > 2)
    assert not nested, nested


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_only_from_its_folder_and_the_folders_above(module: str):
    imported = {name for name in all_imports(MODULES[module], module) if name in MODULES}
    upward = sorted(name for name in imported if RANK[layer_of(name)] > RANK[layer_of(module)])
    assert not upward, f"{module} imports {upward} from a layer below its own"


def test_package_init_files_hold_no_code():
    """DVC deps list modules, not packages: an ``__init__`` with code would be untracked."""
    for init in (REPO_ROOT / "ae_anomaly").rglob("__init__.py"):
        body = ast.parse(init.read_text()).body
        assert all(
            isinstance(node, ast.Expr | ast.Assign) and not isinstance(node, ast.Import)
            for node in body
        ), init


def _top_level_imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
        elif isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
    return names


@pytest.mark.parametrize("stage", sorted((REPO_ROOT / "stages").glob("[!_]*.py")), ids=str)
def test_stages_import_the_package_and_never_each_other(stage: Path):
    imported = _top_level_imports(stage)
    assert "ae_anomaly" in imported
    assert not imported & {"stages", "tooling", "tests", "bench", "mlflow"}


def test_only_tracking_and_the_models_code_import_mlflow():
    """``pyfunc_model`` is the code MLflow itself runs to load the served model."""
    importing = [name for name, path in MODULES.items() if "mlflow" in _top_level_imports(path)]
    outside = [
        name
        for name in importing
        if layer_of(name) != "tracking" and name != "ae_anomaly.deploy.pyfunc_model"
    ]
    assert importing and not outside, outside


def test_the_package_never_imports_test_or_bench_tooling():
    for name, path in MODULES.items():
        assert not _top_level_imports(path) & {"stages", "tooling", "tests", "bench"}, name
