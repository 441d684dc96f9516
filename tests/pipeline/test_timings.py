"""The stage-costs journal: each stage's record, and which records one execution reads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ae_anomaly.pipeline import timings
from ae_anomaly.pipeline.runtime import parse_stage_args, run_stage


@pytest.fixture
def journal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(timings, "_journal", None)
    monkeypatch.setattr(timings, "_phases", {})
    return tmp_path / "reports/stage_costs.jsonl"


def _run(stage: str, journal: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.argv", [f"stages/{stage}.py"])
    run_stage(lambda argv: parse_stage_args(None, [], ["--stage-costs", str(journal)]), [])


def test_a_stage_given_the_journal_appends_its_record(journal, monkeypatch):
    _run("train_ae", journal, monkeypatch)
    (record,) = [json.loads(line) for line in journal.read_text().splitlines()]
    assert record["stage"] == "train_ae"
    assert record["started_at"] < record["ended_at"] and record["peak_mib"] > 0
    assert record["execution"] == timings.pipeline_execution()


def test_without_the_option_no_journal_is_written(journal, monkeypatch):
    monkeypatch.setattr("sys.argv", ["stages/split.py"])
    run_stage(lambda argv: parse_stage_args(None, [], []), [])
    assert not journal.exists()


def test_an_execution_reads_its_stages_since_the_last_evaluate(journal, monkeypatch):
    other = {"execution": "1:2.0", "started_at": 0.0, "ended_at": 1.0, "peak_mib": 1.0}
    journal.parent.mkdir(parents=True)
    lines = [json.dumps({**other, "stage": "generate"}), "{truncated by a kill"]
    journal.write_text("\n".join(lines) + "\n")
    for stage in ("train_ae", "evaluate", "detector"):
        _run(stage, journal, monkeypatch)
    journal.write_text(journal.read_text() + json.dumps({**other, "stage": "split"}) + "\n")

    costs = timings.costs_of_this_execution(journal, "evaluate")

    assert [cost["stage"] for cost in costs] == ["detector"]
    assert timings.costs_of_this_execution(journal.with_name("none.jsonl"), "evaluate") == []


def test_the_journal_keeps_a_bounded_number_of_records(journal, monkeypatch):
    monkeypatch.setattr(timings, "JOURNAL_RECORDS", 3)
    for stage in ("generate", "split", "baselines", "train_ae"):
        _run(stage, journal, monkeypatch)
    stages = [json.loads(line)["stage"] for line in journal.read_text().splitlines()]
    assert stages == ["split", "baselines", "train_ae"]
