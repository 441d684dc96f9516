"""What the project promises about safety, checked over every file that ships or runs:
servers listen on this machine only unless asked, YAML is parsed safely, torch checkpoints
and NumPy files are read without unpickling."""

from __future__ import annotations

import ast
import inspect
import re
import subprocess
from pathlib import Path

from ae_anomaly.cli import build_parser
from ae_anomaly.tracking.team import TeamStack

REPO_ROOT = Path(__file__).resolve().parents[1]
CODE_FOLDERS = ("ae_anomaly", "stages", "bench", "tooling", "tests")
LOOPBACK = "127.0.0.1"


def _python_files() -> list[Path]:
    return sorted(path for folder in CODE_FOLDERS for path in (REPO_ROOT / folder).rglob("*.py"))


def _calls(name: str) -> list[tuple[Path, ast.Call]]:
    """Every call whose function is spelled ``name`` (``torch.load``, ``yaml.load``...)."""
    found = []
    for path in _python_files():
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Call) and ast.unparse(node.func) == name:
                found.append((path, node))
    return found


def _keyword(call: ast.Call, name: str) -> object:
    for keyword in call.keywords:
        if keyword.arg == name and isinstance(keyword.value, ast.Constant):
            return keyword.value.value
    return None


def test_every_torch_load_refuses_pickled_objects():
    calls = _calls("torch.load")
    assert calls, "the scan found no torch.load at all"
    unsafe = [
        f"{path.relative_to(REPO_ROOT)}:{call.lineno}"
        for path, call in calls
        if _keyword(call, "weights_only") is not True
    ]
    assert not unsafe, f"torch.load without weights_only=True: {unsafe}"


def test_every_numpy_load_refuses_pickles():
    unsafe = [
        f"{path.relative_to(REPO_ROOT)}:{call.lineno}"
        for path, call in _calls("np.load")
        if _keyword(call, "allow_pickle") is True
    ]
    assert not unsafe, f"np.load with allow_pickle=True: {unsafe}"


def test_yaml_is_only_parsed_safely():
    unsafe = [
        f"{path.relative_to(REPO_ROOT)}:{call.lineno} {ast.unparse(call.func)}"
        for name in ("yaml.load", "yaml.unsafe_load", "yaml.full_load", "yaml.load_all")
        for path, call in _calls(name)
    ]
    assert not unsafe, f"use yaml.safe_load: {unsafe}"
    assert _calls("yaml.safe_load"), "the scan found no yaml.safe_load at all"


def test_no_code_listens_on_every_interface():
    everywhere = re.compile(r"0\.0\.0\.0|['\"]::['\"]")
    offenders = [
        str(path.relative_to(REPO_ROOT))
        for path in [*_python_files(), REPO_ROOT / "Makefile", REPO_ROOT / "dvc.yaml"]
        if path != Path(__file__) and everywhere.search(path.read_text())
    ]
    assert not offenders, offenders


def test_make_ui_and_the_team_stack_bind_to_loopback_by_default():
    shown = subprocess.run(
        ["make", "-n", "ui", "team-up"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    ).stdout.replace("\\\n", " ")  # one line per command
    ui = next(line for line in shown.splitlines() if " ui " in line)
    assert f"--host {LOOPBACK}" in ui, ui
    team = next(line for line in shown.splitlines() if "team up" in line)
    assert f"--host {LOOPBACK}" in team, team

    assert inspect.signature(TeamStack).parameters["host"].default == LOOPBACK
    team_command = build_parser().parse_args(["team", "up"])
    assert team_command.host == LOOPBACK


def test_the_readme_serves_models_on_loopback():
    readme = (REPO_ROOT / "README.md").read_text().replace("\\\n", " ")
    serve_commands = re.findall(r"mlflow models serve [^\n`]*", readme)
    assert serve_commands
    for command in serve_commands:
        assert f"-h {LOOPBACK}" in command or f"--host {LOOPBACK}" in command, command
