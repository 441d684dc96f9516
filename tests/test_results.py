from pathlib import Path

from ae_anomaly.evaluation import MODEL_NAMES
from ae_anomaly.io import save_json
from ae_anomaly.results import main, summary_markdown

SCORES = {
    name: {
        "f1_anomaly": 0.5, "f1_macro": 0.6, "precision": 0.7,
        "recall": 0.4, "roc_auc": 0.8, "average_precision": 0.9,
    }
    for name in MODEL_NAMES
}  # fmt: skip


def test_summary_links_figures_relative_to_the_summary(tmp_path: Path):
    figure = tmp_path / "plots/figures/roc_pr.png"
    text = summary_markdown(SCORES, {"best_epoch": 7}, [figure], tmp_path / "reports")
    assert "| histogram_forest | 0.500 | 0.88 |" in text
    assert "| best_epoch | 7 |" in text
    assert "![roc_pr](../plots/figures/roc_pr.png)" in text


def test_cli_prints_table_and_writes_markdown(tmp_path: Path, capsys):
    save_json(tmp_path / "scores.json", SCORES)
    (tmp_path / "figures/train_ae").mkdir(parents=True)  # each stage draws in its own folder
    (tmp_path / "figures/train_ae/ae_loss.png").write_bytes(b"png")
    status = main([
        str(tmp_path / "scores.json"), "--markdown", str(tmp_path / "out/summary.md"),
        "--figures", str(tmp_path / "figures"),
    ])  # fmt: skip
    assert status == 0
    assert "| ae_threshold | 0.500 | - |" in capsys.readouterr().out
    assert "Autoencoder loss per epoch" in (tmp_path / "out/summary.md").read_text()


def test_cli_reports_a_missing_run(tmp_path: Path, capsys):
    assert main([str(tmp_path / "nothing.json")]) == 1
    assert "run `dvc repro` first" in capsys.readouterr().err
