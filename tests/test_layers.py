"""The package's layers, and the direction imports may take between them.

A module may import only modules of the layers *above* it in :data:`LAYERS` (``types`` first,
the console command last); stage scripts import only the package, never each other; and only
``tracking`` talks to MLflow. The README's tree shows the same layers.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT
from tooling.imports import all_imports

LAYERS: list[tuple[str, ...]] = [
    ("ae_anomaly.types", "ae_anomaly.progress"),
    ("ae_anomaly.params", "ae_anomaly.models", "ae_anomaly.threads"),
    ("ae_anomaly.storage",),
    ("ae_anomaly.data.synthetic", "ae_anomaly.data.split", "ae_anomaly.data.files"),
    ("ae_anomaly.preprocessing", "ae_anomaly.features"),
    ("ae_anomaly.detectors.base",),
    (
        "ae_anomaly.detectors.one_class_svm",
        "ae_anomaly.detectors.isolation_forest",
        "ae_anomaly.detectors.forest",
        "ae_anomaly.detectors.reconstruction",
    ),
    ("ae_anomaly.detectors.residual_forests",),
    ("ae_anomaly.autoencoder",),
    ("ae_anomaly.training",),
    ("ae_anomaly.packed_forest",),
    ("ae_anomaly.detector",),
    ("ae_anomaly.pyfunc_model",),
    ("ae_anomaly.evaluation",),
    ("ae_anomaly.report.tables", "ae_anomaly.report.figures"),
    ("ae_anomaly.report.outputs", "ae_anomaly.report.summary", "ae_anomaly.scoring"),
    ("ae_anomaly.wiring", "ae_anomaly.report.validation"),
    ("ae_anomaly.runtime",),
    ("ae_anomaly.tracking", "ae_anomaly.team"),
    ("ae_anomaly.cli",),
]
RANK = {module: rank for rank, layer in enumerate(LAYERS) for module in layer}


def _package_modules() -> dict[str, Path]:
    modules = {}
    for path in sorted((REPO_ROOT / "ae_anomaly").rglob("*.py")):
        name = ".".join(path.relative_to(REPO_ROOT).with_suffix("").parts)
        if path.name != "__init__.py":
            modules[name] = path
    return modules


MODULES = _package_modules()


def test_every_module_has_a_layer():
    assert sorted(MODULES) == sorted(RANK), "place new modules in LAYERS (and the README tree)"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_only_from_layers_above(module: str):
    imported = {name for name in all_imports(MODULES[module], module) if name in RANK}
    upward = sorted(name for name in imported if RANK[name] >= RANK[module])
    assert not upward, f"{module} imports {upward} from its own layer or below"


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
    assert importing == ["ae_anomaly.pyfunc_model", "ae_anomaly.tracking"]


def test_the_package_never_imports_test_or_bench_tooling():
    for name, path in MODULES.items():
        assert not _top_level_imports(path) & {"stages", "tooling", "tests", "bench"}, name
