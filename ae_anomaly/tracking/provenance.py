"""Where a run came from: the git commit and whether the tree was dirty, the DVC experiment
and its baseline, and the digest of ``dvc.lock``."""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path


def git_output(root: Path, *args: str) -> str | None:
    """What ``git <args>`` prints in ``root``, or ``None`` where it fails (no repository,
    no such revision or file)."""
    result = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True)
    return result.stdout.strip() if result.returncode == 0 else None


def run_tags(workdir: Path, lock_file: Path | None) -> dict[str, str]:
    """Provenance: git commit and dirtiness, DVC experiment name/baseline, dvc.lock digest."""
    tags: dict[str, str] = {}
    commit = git_output(workdir, "rev-parse", "HEAD")
    if commit:
        tags["git.commit"] = commit
        tags["mlflow.source.git.commit"] = commit
        # dvc.lock is rewritten by the very `dvc repro` being logged: not a local change.
        status = git_output(
            workdir, "status", "--porcelain", "--untracked-files=no", "--", ".", ":!dvc.lock"
        )
        tags["git.dirty"] = str(bool(status)).lower()
    for variable, tag in (
        ("DVC_EXP_NAME", "dvc.exp_name"),
        ("DVC_EXP_BASELINE_REV", "dvc.baseline_rev"),
    ):
        if os.environ.get(variable):
            tags[tag] = os.environ[variable]
    if lock_file is not None and lock_file.is_file():
        tags["dvc.lock_sha256"] = hashlib.sha256(lock_file.read_bytes()).hexdigest()
    return tags
