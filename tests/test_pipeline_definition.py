"""``dvc.yaml`` must list, for every stage, exactly the package modules its script imports.

A missing module means editing it would not rerun the stage (stale results); an extra one
means needless reruns. Imports are followed transitively, including function-local ones.
"""

import ast
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO_ROOT

STAGES = yaml.safe_load((REPO_ROOT / "dvc.yaml").read_text())["stages"]


def _package_modules(path: Path, seen: set[str]) -> set[str]:
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        for name in names:
            module = Path(*name.split(".")).with_suffix(".py")
            known = module.as_posix() in seen
            if name.startswith("ae_anomaly") and (REPO_ROOT / module).is_file() and not known:
                seen.add(module.as_posix())
                _package_modules(REPO_ROOT / module, seen)
    return seen


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_stage_deps_are_exactly_the_modules_it_imports(stage: str):
    imported = _package_modules(REPO_ROOT / f"stages/{stage}.py", set())
    declared = {dep for dep in STAGES[stage]["deps"] if dep.startswith("ae_anomaly/")}
    assert declared == imported
    assert f"stages/{stage}.py" in STAGES[stage]["deps"]
