import logging

import pytest

from ae_anomaly.core import progress as progress_module
from ae_anomaly.core.progress import Progress


@pytest.fixture
def not_a_terminal(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(progress_module, "on_terminal", lambda: False)


def test_off_a_terminal_one_line_per_tenth_of_the_work(not_a_terminal, caplog):
    with (
        caplog.at_level(logging.INFO, logger="ae_anomaly"),
        Progress(500, "train_ae", "epoch") as bar,
    ):
        for epoch in range(500):
            bar.set_postfix(loss=f"{1 / (epoch + 1):.2e}")
            bar.update()
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 10
    assert lines[0].startswith("train_ae: 50/500 epoch (10 %)") and "loss 2.00e-02" in lines[0]
    assert lines[-1].startswith("train_ae: 500/500 epoch (100 %)")


def test_a_big_update_reports_once_and_unknown_totals_report_at_the_end(not_a_terminal, caplog):
    with caplog.at_level(logging.INFO, logger="ae_anomaly"):
        with Progress(40, "score", "curves") as bar:
            bar.update(40)
        with Progress(None, "score", "curves") as bar:
            bar.update(7)
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2
    assert lines[0].startswith("score: 40/40 curves (100 %)")
    assert lines[1].startswith("score: 7 curves in ")


def test_on_a_terminal_a_bar_and_no_log_lines(monkeypatch, caplog, capsys):
    monkeypatch.setattr(progress_module, "on_terminal", lambda: True)
    with (
        caplog.at_level(logging.INFO, logger="ae_anomaly"),
        Progress(3, "train_ae", "epoch") as bar,
    ):
        bar.update(3)
    assert not caplog.records
    assert "3/3" in capsys.readouterr().err
