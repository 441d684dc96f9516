"""What a run is called and what its description says, so runs tell themselves apart in the
MLflow runs list without being opened.

- The name: a ``dvc exp run``'s experiment name; otherwise the short commit plus the params
  that differ from the commit's ``params.yaml`` (``3f2a1bc histogram_forest.bins=30``), never
  MLflow's random ``sneaky-squid-593``.
- The description (MLflow's ``mlflow.note.content`` tag, the run page's "Description"): the
  data source, what changed against the commit, and the results table.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import yaml

from ae_anomaly.core.params import ParamsError, flatten, parse_params
from ae_anomaly.tracking.provenance import git_output

#: MLflow shows this tag as the run's (and a model version's) description.
DESCRIPTION_TAG = "mlflow.note.content"
#: Changed params named in a run's name; the rest are counted (``+2 more``).
NAMED_CHANGES = 3

Changes = dict[str, tuple[object, object]]


def committed_params(workdir: Path, revision: str = "HEAD") -> dict[str, object] | None:
    """The dotted params of ``params.yaml`` at ``revision``; ``None`` outside git, before the
    first commit, or when that file does not validate against today's schema."""
    shown = git_output(workdir, "show", f"{revision}:params.yaml")
    if shown is None:
        return None
    try:
        return flatten(parse_params(yaml.safe_load(shown), f"{revision}:params.yaml"))
    except (ParamsError, yaml.YAMLError):
        return None


def changed_params(current: Mapping[str, object], committed: Mapping[str, object]) -> Changes:
    """``{key: (committed value, current value)}`` for every key whose value differs."""
    keys = sorted(set(current) | set(committed))
    return {
        key: (committed.get(key), current.get(key))
        for key in keys
        if committed.get(key) != current.get(key)
    }


def _value(value: object) -> str:
    return json.dumps(value, separators=(",", ":")) if not isinstance(value, str) else value


def run_name(experiment: str | None, commit: str | None, changes: Changes | None) -> str:
    """The experiment's name, else ``<short commit> <changed params>`` (see the module)."""
    if experiment:
        return experiment
    head = commit[:7] if commit else "no-commit"
    if changes is None:
        return f"{head} params not comparable"
    if not changes:
        return head
    named = [f"{key}={_value(new)}" for key, (_, new) in list(changes.items())[:NAMED_CHANGES]]
    more = len(changes) - NAMED_CHANGES
    return " ".join([head, *named, *([f"+{more} more"] if more > 0 else [])])


def data_source(params: Mapping[str, object]) -> str:
    """One line naming the data a run used, from its dotted params."""
    if "generate.source" not in params:
        return "not recorded (no generate section in the params)"
    if params["generate.source"] == "files":
        return (
            f"files: pool `{params['generate.files.train']}`, validation "
            f"`{params['generate.files.validation']}`, normal labels "
            f"{_value(params['generate.files.normal_labels'])}"
        )
    prefix = "generate.synthetic."
    return (
        f"the article's synthetic curves of {params[prefix + 'sample_size']} points: pool "
        f"{params[prefix + 'pool_normal']} normal + {params[prefix + 'pool_anomalous']} "
        f"anomalous, validation {params[prefix + 'validation_normal']} + "
        f"{params[prefix + 'validation_anomalous']}, noise {params[prefix + 'noise_std']}, "
        f"seed {params['base.seed']}"
    )


def run_description(
    params: Mapping[str, object], commit: str | None, changes: Changes | None, results: str
) -> str:
    """The run's Markdown description: data, what changed, and the validation results."""
    head = f"`{commit[:7]}`" if commit else "no commit"
    if changes is None:
        changed = f"not comparable with {head} (its params.yaml is missing or of another schema)"
    elif not changes:
        changed = f"nothing: the params of {head}"
    else:
        changed = f"against {head}: " + ", ".join(
            f"`{key}` {_value(old)} → {_value(new)}" for key, (old, new) in changes.items()
        )
    return "\n".join(
        [
            f"**Data**: {data_source(params)}",
            "",
            f"**Params changed**: {changed}",
            "",
            "**Validation results**",
            "",
            results,
        ]
    )


def run_identity(
    workdir: Path,
    params: Mapping[str, object],
    commit: str | None,
    experiment: str | None,
    results: str,
) -> tuple[str, str]:
    """The run's name and description for a pipeline run in ``workdir`` at ``commit``."""
    committed = committed_params(workdir)
    changes = None if committed is None else changed_params(params, committed)
    return run_name(experiment, commit, changes), run_description(params, commit, changes, results)
