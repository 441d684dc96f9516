"""Every third-party module the code imports is declared by the extra that installs it:
the package by the runtime dependencies (the team stack's driver by ``team``, Spark by
``spark``), the tests and tooling by ``dev``, the benchmarks by ``bench``."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions

import pytest

from tests.conftest import REPO_ROOT

PROJECT = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
OWN = {"ae_anomaly", "stages", "tooling", "tests", "bench"}


def _names(requirements: list[str]) -> set[str]:
    return {re.split(r"[<>=!~\[; ]", requirement)[0].lower() for requirement in requirements}


RUNTIME = _names(PROJECT["dependencies"])
EXTRAS = {name: _names(value) for name, value in PROJECT["optional-dependencies"].items()}
#: What each folder may import: the runtime and the extras installed where it runs.
ALLOWED = {
    "ae_anomaly": RUNTIME | EXTRAS["team"] | EXTRAS["spark"],
    "stages": RUNTIME,
    "tests": RUNTIME | EXTRAS["dev"],
    "tooling": RUNTIME | EXTRAS["dev"],
    "bench": RUNTIME | EXTRAS["dev"] | EXTRAS["bench"],
}


def _third_party(folder: str) -> set[str]:
    modules = set()
    for path in (REPO_ROOT / folder).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                modules |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                modules.add(node.module.split(".")[0])
    return modules - set(sys.stdlib_module_names) - OWN - {"__future__"}


@pytest.mark.parametrize("folder", sorted(ALLOWED))
def test_every_third_party_import_is_declared(folder: str):
    distributions = packages_distributions()
    undeclared = {}
    for module in sorted(_third_party(folder)):
        provided_by = {name.lower() for name in distributions.get(module, [module])}
        if not provided_by & ALLOWED[folder]:
            undeclared[module] = sorted(provided_by)
    assert not undeclared, f"{folder}/ imports modules no dependency of it declares: {undeclared}"
