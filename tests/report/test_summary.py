from pathlib import Path

from ae_anomaly.core.models import MODEL_NAMES
from ae_anomaly.report.summary import ordered_figures, summary_markdown

METRICS = {
    name: {
        "f1_anomaly": 0.5, "f1_macro": 0.6, "precision": 0.7,
        "recall": 0.4, "roc_auc": 0.8, "average_precision": 0.9,
    }
    for name in MODEL_NAMES
}  # fmt: skip


def test_summary_links_figures_relative_to_the_summary(tmp_path: Path):
    figure = tmp_path / "plots/figures/roc_pr.png"
    text = summary_markdown(METRICS, {"best_epoch": 7}, [figure], tmp_path / "reports")
    assert "| histogram_forest | 0.500 | 0.88 |" in text
    assert "| best_epoch | 7 |" in text
    assert "![roc_pr](../plots/figures/roc_pr.png)" in text


def test_known_figures_are_found_in_stage_folders_and_ordered(tmp_path: Path):
    for relative in ("evaluate/roc_pr.png", "train_ae/ae_loss.png", "evaluate/other.png"):
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_bytes(b"png")
    assert [path.name for path in ordered_figures(tmp_path)] == ["ae_loss.png", "roc_pr.png"]


def test_summary_says_where_the_anomalies_are_when_the_truth_is_known(tmp_path: Path):
    located = {"hit_rate": 0.97, "mean_iou": 0.81, "median_centre_error": 0.6, "anomalies": 100}
    text = summary_markdown(METRICS, None, [], tmp_path, located)
    assert "## Where the anomaly is" in text
    assert "| 0.970 | 0.810 | 0.60 | 100 |" in text
    no_truth = {"status": "no truth", "reason": "users' files"}
    assert "Where the anomaly is" not in summary_markdown(METRICS, None, [], tmp_path, no_truth)
