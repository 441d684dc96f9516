"""What a run's description says about where the pipeline's time went."""

from __future__ import annotations

from pathlib import Path

import yaml

from ae_anomaly.tracking.stage_costs import cached_stages, costs_markdown, execution_span


def _cost(stage: str, start: float, end: float, peak: float = 100.0) -> dict[str, object]:
    return {"stage": stage, "started_at": start, "ended_at": end, "peak_mib": peak}


COSTS = [_cost("detector", 1000.0, 1003.0, 210.4), _cost("evaluate", 1004.0, 1010.0, 1500.0)]


def test_the_section_names_each_stage_its_share_and_the_cache():
    text = costs_markdown(COSTS, ["generate", "train_ae"])
    assert text.startswith(
        "**Where the time went**: 2 stage(s) ran in 10.0 s (detector, evaluate); "
        "generate, train_ae from DVC's cache. DVC's own work between the stages took 10%."
    )
    assert "| detector | 3.0 s | 30% | 210 MiB |" in text
    assert "| evaluate | 6.0 s | 60% | 1,500 MiB |" in text


def test_long_stages_read_in_minutes():
    assert "| train_ae | 2 min 05 s | 100% |" in costs_markdown([_cost("train_ae", 0, 125)], [])


def test_the_span_runs_from_the_first_start_to_the_last_end():
    assert execution_span(COSTS) == (1000.0, 1010.0)


def test_cached_stages_are_the_locked_ones_that_did_not_run(tmp_path: Path):
    lock = tmp_path / "dvc.lock"
    stages = {name: {"cmd": "x"} for name in ("generate", "split", "detector", "evaluate")}
    lock.write_text(yaml.safe_dump({"schema": "2.0", "stages": stages}, sort_keys=False))
    assert cached_stages(lock, COSTS[:1], "evaluate") == ["generate", "split"]
    assert cached_stages(tmp_path / "missing.lock", COSTS, "evaluate") == []
