"""Which package modules a stage script really uses, for the DVC ``deps`` of ``dvc.yaml``.

DVC reruns a stage when one of its ``deps`` changes, so a stage must list every module whose
code it runs and nothing else. Imports are followed statically and transitively, and
*per function*: ``from ae_anomaly.pipeline.wiring import baseline_detectors`` brings in the
module-level imports of ``wiring`` plus the imports inside ``baseline_detectors`` (and inside
the module's other functions it calls), not those of every other function there.
``if TYPE_CHECKING:`` imports are annotations only and are not followed.

One import is by name, not by statement: the model list (``ae_anomaly/core/models.py``)
names each residual detector's class as a ``"module:Class"`` string, which
``ae_anomaly.detectors.registry`` imports. Whatever uses that module uses every class so
named (:data:`NAMED_IMPORTS`).
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from pathlib import Path

PACKAGE = "ae_anomaly"
ROOT = Path(__file__).resolve().parents[1]
#: A module that imports classes by name -> the module whose ``"module:Class"`` strings name them.
NAMED_IMPORTS = {"ae_anomaly.detectors.registry": "ae_anomaly.core.models"}
_NAMED_CLASS = re.compile(rf"^({PACKAGE}(?:\.\w+)+):(\w+)$")


def named_classes(module_name: str, root: Path = ROOT) -> list[tuple[str, tuple[str, ...]]]:
    """``(module, (Class,))`` for every ``"module:Class"`` string constant in a module."""
    path = module_file(module_name, root)
    if path is None:
        return []
    return [
        (match.group(1), (match.group(2),))
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
        if (match := _NAMED_CLASS.match(node.value))
    ]


def module_file(name: str, root: Path = ROOT) -> Path | None:
    """``ae_anomaly.report.figures`` -> ``ae_anomaly/report/figures.py`` (or a package's
    ``__init__.py``), or ``None`` when it is not a module of the package."""
    if name != PACKAGE and not name.startswith(f"{PACKAGE}."):
        return None
    base = root / Path(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _is_type_checking_block(node: ast.stmt) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


@dataclass
class _Module:
    """A parsed module: its top-level definitions and import edges."""

    definitions: dict[str, ast.AST]
    top_level_imports: list[tuple[str, tuple[str, ...] | None]]
    top_level_names: set[str]
    body_imports: dict[str, list[tuple[str, tuple[str, ...] | None]]] = field(default_factory=dict)
    body_names: dict[str, set[str]] = field(default_factory=dict)


def _imports_in(nodes: list[ast.AST], current: str) -> list[tuple[str, tuple[str, ...] | None]]:
    """``(module, names)`` edges of every import under ``nodes``; ``names`` is None for a
    plain ``import module``."""
    edges: list[tuple[str, tuple[str, ...] | None]] = []
    for top in nodes:
        for node in ast.walk(top):
            if isinstance(node, ast.ImportFrom):
                module = node.module or ""
                if node.level:  # relative import
                    parent = current.split(".")[: -node.level]
                    module = ".".join([*parent, module] if module else parent)
                edges.append((module, tuple(alias.name for alias in node.names)))
            elif isinstance(node, ast.Import):
                edges += [(alias.name, None) for alias in node.names]
    return edges


def _names_in(nodes: list[ast.AST]) -> set[str]:
    return {node.id for top in nodes for node in ast.walk(top) if isinstance(node, ast.Name)} | {
        node.attr for top in nodes for node in ast.walk(top) if isinstance(node, ast.Attribute)
    }


def _parse(path: Path, name: str) -> _Module:
    tree = ast.parse(path.read_text())
    definitions: dict[str, ast.AST] = {}
    top_level: list[ast.AST] = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            definitions[node.name] = node
            top_level += node.decorator_list
        elif not _is_type_checking_block(node):
            top_level.append(node)
    module = _Module(
        definitions=definitions,
        top_level_imports=_imports_in(top_level, name),
        top_level_names=_names_in(top_level),
    )
    for def_name, node in definitions.items():
        module.body_imports[def_name] = _imports_in([node], name)
        module.body_names[def_name] = _names_in([node])
    return module


class StageImports:
    """Follows imports from stage scripts into the package (see the module docstring)."""

    def __init__(self, root: Path = ROOT):
        self.root = root
        self._parsed: dict[str, _Module] = {}
        self._seen: dict[str, set[str]] = {}  # module -> entry points already followed

    def _module(self, name: str) -> _Module | None:
        if name not in self._parsed:
            path = module_file(name, self.root)
            if path is None:
                return None
            self._parsed[name] = _parse(path, name)
        return self._parsed[name]

    def _follow(self, module_name: str, names: tuple[str, ...] | None) -> None:
        module = self._module(module_name)
        if module is None:
            return
        seen = self._seen.setdefault(module_name, set())
        pending: list[str] = []
        if "<module>" not in seen:
            seen.add("<module>")
            for edge in module.top_level_imports:
                self._follow(*edge)
            if module_name in NAMED_IMPORTS:
                for edge in named_classes(NAMED_IMPORTS[module_name], self.root):
                    self._follow(*edge)
            pending += [name for name in module.top_level_names if name in module.definitions]
        requested = list(module.definitions) if names is None else list(names)
        for name in requested:
            if name not in module.definitions:  # ``from package import submodule``
                self._follow(f"{module_name}.{name}", None)
        pending += [name for name in requested if name in module.definitions]
        while pending:
            name = pending.pop()
            if name in seen:
                continue
            seen.add(name)
            for edge in module.body_imports[name]:
                self._follow(*edge)
            pending += [used for used in module.body_names[name] if used in module.definitions]

    def of_script(self, script: Path) -> set[str]:
        """Package modules (as repository-relative paths) that ``script`` uses."""
        self._seen.clear()
        for edge in _imports_in([ast.parse(script.read_text())], "__main__"):
            self._follow(*edge)
        files = {module_file(name, self.root) for name in self._seen}
        return {
            path.relative_to(self.root).as_posix()
            for path in files
            if path is not None and path.name != "__init__.py"
        }


def all_imports(path: Path, name: str) -> set[str]:
    """Every package module ``path`` imports anywhere (functions and TYPE_CHECKING included)."""
    return {
        module
        for module, names in _imports_in([ast.parse(path.read_text())], name)
        for module in ([module] if names is None else [module, *(f"{module}.{n}" for n in names)])
        if module_file(module) is not None
    }
