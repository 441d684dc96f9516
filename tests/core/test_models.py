import pytest

from ae_anomaly.core.models import MODEL_NAMES, MODELS, RESIDUAL_MODEL_NAMES, model


def test_the_six_models_in_report_order_with_the_articles_figures():
    assert MODEL_NAMES == (
        "one_class_svm",
        "isolation_forest",
        "random_forest",
        "ae_threshold",
        "difference_forest",
        "histogram_forest",
    )
    assert model("histogram_forest").article_f1 == 0.88
    assert model("ae_threshold").article_f1 is None
    assert RESIDUAL_MODEL_NAMES == ("ae_threshold", "difference_forest", "histogram_forest")


def test_names_are_unique_and_typos_are_refused():
    assert len({entry.name for entry in MODELS}) == len(MODELS)
    with pytest.raises(KeyError, match="known: one_class_svm"):
        model("histogram_forrest")


def test_supervised_models_are_marked_as_needing_anomalies():
    assert {entry.name for entry in MODELS if entry.needs_anomalies} == {
        "random_forest",
        "difference_forest",
        "histogram_forest",
    }
