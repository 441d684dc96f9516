import numpy as np
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import f1_score

from ae_anomaly.detectors.forest import ForestDetector, anomaly_f1


def test_default_threshold_predicts_exactly_like_sklearn(blobs):
    x, y = blobs
    x = x + np.random.default_rng(1).normal(0, 4, size=x.shape)  # overlapping classes: vote ties
    ours = ForestDetector(n_estimators=10, random_state=0).fit(x, y)
    theirs = RandomForestClassifier(n_estimators=10, random_state=0).fit(x, y)
    np.testing.assert_array_equal(ours.predict(x), theirs.predict(x))
    np.testing.assert_array_equal(ours.decision_function(x), theirs.predict_proba(x)[:, 1])
    fixed = ForestDetector(n_estimators=10, decision_threshold=0.3, random_state=0).fit(x, y)
    np.testing.assert_array_equal(fixed.predict(x), fixed.decision_function(x) >= 0.3)


def test_tuned_threshold_is_learned_from_training_rows_only_and_reproducible(blobs):
    x, y = blobs
    assert ForestDetector(n_estimators=20, random_state=0).fit(x, y).threshold_ == 0.5
    tuned = ForestDetector(n_estimators=20, decision_threshold="tuned", random_state=0).fit(x, y)
    assert 0 < tuned.threshold_ < 1
    np.testing.assert_array_equal(tuned.predict(x), tuned.decision_function(x) >= tuned.threshold_)
    again = ForestDetector(n_estimators=20, decision_threshold="tuned", random_state=0).fit(x, y)
    assert again.threshold_ == tuned.threshold_


def test_class_weight_reaches_the_forest(blobs):
    x, y = blobs
    forest = ForestDetector(n_estimators=5, class_weight="balanced", random_state=0).fit(x, y)
    assert forest.model_.class_weight == "balanced"


def test_tuning_adapts_its_folds_to_few_anomalies(blobs, caplog):
    x, y = blobs
    three = np.r_[np.arange(200), 200, 201, 202]  # fewer anomalies than folds: 3-fold CV
    tuned = ForestDetector(n_estimators=10, decision_threshold="tuned", cv_folds=5, random_state=0)
    assert 0 < tuned.fit(x[three], y[three]).threshold_ < 1
    one = np.r_[np.arange(200), 200]  # nothing to cross-validate: sklearn's 0.5, with a warning
    fallback = ForestDetector(n_estimators=10, decision_threshold="tuned", random_state=0)
    assert fallback.fit(x[one], y[one]).threshold_ == 0.5
    assert "too few rows" in caplog.text


def test_one_class_in_training_predicts_that_class(blobs):
    x, y = blobs
    forest = ForestDetector(n_estimators=5, random_state=0).fit(x[y == 0], y[y == 0])
    assert forest.predict(x).tolist() == [0] * len(x)
    assert forest.decision_function(x).tolist() == [0.0] * len(x)


def test_anomaly_f1_matches_sklearn_f1_score():
    rng = np.random.default_rng(0)
    for _ in range(20):
        y_true, y_pred = rng.integers(0, 2, size=(2, 30))
        assert anomaly_f1(y_true, y_pred) == f1_score(y_true, y_pred)
    assert anomaly_f1(np.array([0, 0]), np.array([0, 0])) == 0.0
