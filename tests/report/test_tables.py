from ae_anomaly.report.evaluation import NOT_FITTED_STATUS
from ae_anomaly.report.tables import markdown_table, results_table

METRICS = {
    "f1_anomaly": 0.5, "f1_macro": 0.6, "precision": 0.7,
    "recall": 0.4, "roc_auc": 0.8, "average_precision": 0.9,
}  # fmt: skip


def test_markdown_table():
    assert markdown_table(("a", "b"), [(1, "x"), (2.5, "")]) == (
        "| a | b |\n|---|---|\n| 1 | x |\n| 2.5 |  |"
    )


def test_results_table_puts_the_article_figure_next_to_ours():
    table = results_table(
        {"histogram_forest": METRICS, "ae_threshold": METRICS, "pyod_knn": METRICS}
    )
    lines = table.splitlines()
    assert (
        lines[0]
        == "| model | F1 anomaly | article F1 | F1 macro | precision | recall | ROC-AUC | AP |"
    )
    assert lines[2] == "| histogram_forest | 0.500 | 0.88 | 0.600 | 0.700 | 0.400 | 0.800 | 0.900 |"
    assert lines[3].startswith("| ae_threshold | 0.500 | - |")
    assert lines[4].startswith("| pyod_knn | 0.500 | - |")  # a peer the article never ran


def test_results_table_says_not_fitted_instead_of_numbers():
    table = results_table({"random_forest": {"status": NOT_FITTED_STATUS, "reason": "no labels"}})
    assert table.splitlines()[2] == "| random_forest | not fitted | 0.40 | - | - | - | - | - |"
