"""Where a pipeline execution's time went, in its MLflow run: each stage that ran, its wall
time and peak memory, as metrics (``stage.<name>.seconds``, ``stage.<name>.peak_memory_mib``,
``pipeline.seconds``), a table artifact (``results/stage_costs.json``) and a section of the
run's description. The records come from the stage-costs journal of
:mod:`ae_anomaly.pipeline.timings`; stages DVC took from its cache are named as such.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:
    from mlflow import MlflowClient

#: The run's table of stage costs, under its artifacts.
TABLE_ARTIFACT = "results/stage_costs.json"

StageCost = Mapping[str, Any]


def wall_seconds(cost: StageCost) -> float:
    """The stage process's wall time, interpreter start-up and imports included."""
    return float(cost["ended_at"]) - float(cost["started_at"])


def execution_span(costs: Sequence[StageCost]) -> tuple[float, float]:
    """From the first stage's start to the last one's end, in seconds since the epoch."""
    return min(float(c["started_at"]) for c in costs), max(float(c["ended_at"]) for c in costs)


def cached_stages(lock_file: Path, costs: Sequence[StageCost], logging_stage: str) -> list[str]:
    """The stages ``dvc.lock`` records that did not run in this execution: DVC's cache gave
    their outputs. Before the lock exists (a first ``dvc repro``) none are."""
    try:
        stages = yaml.safe_load(lock_file.read_text()).get("stages", {})
    except (OSError, AttributeError, yaml.YAMLError):
        return []
    ran = {str(cost["stage"]) for cost in costs} | {logging_stage}
    return [stage for stage in stages if stage not in ran]


def _duration(seconds: float) -> str:
    minutes, rest = divmod(round(seconds), 60)
    return f"{seconds:.1f} s" if minutes == 0 else f"{minutes} min {rest:02d} s"


def costs_markdown(costs: Sequence[StageCost], cached: Sequence[str]) -> str:
    """The description's section: what ran, for how long, holding how much memory."""
    start, end = execution_span(costs)
    names = ", ".join(str(c["stage"]) for c in costs)
    between = max(0.0, 1 - sum(wall_seconds(c) for c in costs) / max(end - start, 1e-9))
    lines = [
        f"**Where the time went**: {len(costs)} stage(s) ran in {_duration(end - start)} "
        f"({names})"
        + (f"; {', '.join(cached)} from DVC's cache." if cached else ".")
        + f" DVC's own work between the stages took {between:.0%}.",
        "",
        "| stage | wall time | share | peak memory |",
        "|---|---|---|---|",
    ]
    for cost in costs:
        wall = wall_seconds(cost)
        lines.append(
            f"| {cost['stage']} | {_duration(wall)} | {wall / max(end - start, 1e-9):.0%} "
            f"| {float(cost['peak_mib']):,.0f} MiB |"
        )
    return "\n".join(lines)


def log_stage_costs(client: MlflowClient, run_id: str, costs: Sequence[StageCost]) -> None:
    """The metrics and the table artifact of ``costs`` into run ``run_id``."""
    import time

    from mlflow.entities import Metric

    now = int(time.time() * 1000)
    start, end = execution_span(costs)
    metrics = [Metric("pipeline.seconds", end - start, now, 0)]
    for cost in costs:
        metrics.append(Metric(f"stage.{cost['stage']}.seconds", wall_seconds(cost), now, 0))
        metrics.append(
            Metric(f"stage.{cost['stage']}.peak_memory_mib", float(cost["peak_mib"]), now, 0)
        )
    client.log_batch(run_id, metrics=metrics)
    table: dict[str, list[Any]] = {
        "stage": [str(c["stage"]) for c in costs],
        "started_s": [round(float(c["started_at"]) - start, 3) for c in costs],
        "wall_s": [round(wall_seconds(c), 3) for c in costs],
        "own_s": [round(float(c.get("seconds", wall_seconds(c))), 3) for c in costs],
        "peak_memory_mib": [round(float(c["peak_mib"]), 1) for c in costs],
    }
    client.log_table(run_id, table, TABLE_ARTIFACT)
