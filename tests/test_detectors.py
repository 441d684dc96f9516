import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from ae_anomaly.detectors import (
    ForestDetector,
    IsolationForestDetector,
    OneClassSVMDetector,
    ReconstructionThresholdDetector,
    ResidualHistogram,
    ResidualTransform,
    anomaly_f1,
    baseline_detectors,
    fit_and_predict,
    residual_detectors,
)


@pytest.fixture
def blobs():
    """Normal points near 0, anomalies far away: any sane detector must rank them higher."""
    rng = np.random.default_rng(0)
    normal = rng.normal(0, 1, size=(200, 8))
    anomalies = rng.normal(8, 1, size=(20, 8))
    x = np.vstack([normal, anomalies])
    y = np.r_[np.zeros(200, int), np.ones(20, int)]
    return x, y


UNSUPERVISED = [
    OneClassSVMDetector(nu=0.1),
    IsolationForestDetector(n_estimators=50, contamination=0.1, random_state=0),
]
ALL = [*UNSUPERVISED, ForestDetector(n_estimators=20, random_state=0)]


@pytest.mark.parametrize("detector", ALL, ids=lambda d: type(d).__name__)
def test_sklearn_conventions(detector, blobs):
    x, y = blobs
    fresh = clone(detector)
    assert fresh.get_params() == detector.get_params()
    with pytest.raises(NotFittedError):
        fresh.score_samples(x)
    assert fresh.fit(x, y) is fresh
    assert fresh.n_features_in_ == x.shape[1]
    with pytest.raises(ValueError, match="features"):
        fresh.score_samples(x[:, :3])


@pytest.mark.parametrize("detector", ALL, ids=lambda d: type(d).__name__)
def test_higher_score_means_more_anomalous_and_labels_are_0_1(detector, blobs):
    x, y = blobs
    supervised = isinstance(detector, ForestDetector)
    fitted = clone(detector).fit(x, y) if supervised else clone(detector).fit(x[y == 0])
    scores = fitted.score_samples(x)
    assert scores[y == 1].min() > np.median(scores[y == 0])
    labels = fitted.predict(x)
    assert set(np.unique(labels)) <= {0, 1}
    assert labels[y == 1].mean() > 0.9 and labels[y == 0].mean() < 0.2


@pytest.mark.parametrize("detector", UNSUPERVISED, ids=lambda d: type(d).__name__)
def test_unsupervised_predict_agrees_with_its_score_threshold(detector, blobs):
    x, y = blobs
    fitted = clone(detector).fit(x, y)
    np.testing.assert_array_equal(fitted.predict(x), fitted.score_samples(x) > 0)


def test_anomaly_share_defaults_to_label_share(blobs):
    x, y = blobs
    assert IsolationForestDetector(random_state=0).fit(x, y).contamination_ == pytest.approx(
        20 / 220
    )
    assert OneClassSVMDetector().fit(x, y).nu_ == pytest.approx(20 / 220)
    with pytest.raises(ValueError, match="pass y"):
        OneClassSVMDetector().fit(x)


def test_forests_are_reproducible_with_random_state(blobs):
    x, y = blobs
    first = IsolationForestDetector(random_state=3).fit(x, y).score_samples(x)
    second = IsolationForestDetector(random_state=3).fit(x, y).score_samples(x)
    np.testing.assert_array_equal(first, second)


def test_residual_histogram_learns_a_symmetric_range():
    residuals = np.array([[-0.2, 0.0, 0.1], [0.05, 0.4, -0.1]])
    fixed = ResidualHistogram(bins=4, value_range=(-0.5, 0.5)).fit(residuals)
    assert fixed.value_range_ == (-0.5, 0.5)
    learned = ResidualHistogram(bins=4, value_range=None, range_quantile=1.0).fit(residuals)
    assert learned.value_range_ == pytest.approx((-0.4, 0.4))
    folded = ResidualHistogram(bins=4, value_range=None, residual="absolute").fit(residuals)
    assert folded.value_range_ == pytest.approx((0.0, 0.4))
    assert learned.transform(residuals).sum(axis=1).tolist() == [3, 3]


def test_threshold_detector_uses_quantile_of_normal_errors():
    normal = np.full((100, 4), 0.1) * np.linspace(0.5, 1.5, 100)[:, None]
    detector = ReconstructionThresholdDetector(error="max_abs", quantile=1.0, margin=2.0).fit(
        normal
    )
    assert detector.threshold_ == pytest.approx(0.3)
    assert detector.predict(np.array([[0.0, 0.29, 0, 0], [0.0, 0.31, 0, 0]])).tolist() == [0, 1]


def test_pipeline_factories_follow_params(default_params, blobs):
    x, y = blobs
    baselines = baseline_detectors(default_params.baselines, seed=1)
    assert set(baselines) == {"one_class_svm", "isolation_forest", "random_forest"}
    assert baselines["isolation_forest"].random_state == 1
    assert (
        baselines["one_class_svm"].cache_size
        == default_params.baselines.one_class_svm.cache_size_mb
    )
    forests = residual_detectors(default_params.histogram_forest, seed=1)
    assert (
        forests["histogram_forest"].named_steps["histogram"].bins
        == default_params.histogram_forest.bins
    )
    predictions = fit_and_predict(forests, x / 40, y, x / 40)
    assert predictions["histogram_forest"].score.shape == (len(x),)


def test_tuned_threshold_is_learned_from_training_rows_only(blobs):
    x, y = blobs
    fixed = ForestDetector(n_estimators=20, random_state=0).fit(x, y)
    assert fixed.threshold_ == 0.5
    tuned = ForestDetector(n_estimators=20, decision_threshold="tuned", random_state=0).fit(x, y)
    assert 0 < tuned.threshold_ < 1
    np.testing.assert_array_equal(tuned.predict(x), tuned.predictor_.predict(x))
    again = ForestDetector(n_estimators=20, decision_threshold="tuned", random_state=0).fit(x, y)
    assert again.threshold_ == tuned.threshold_


def test_class_weight_reaches_the_forest(blobs):
    x, y = blobs
    forest = ForestDetector(n_estimators=5, class_weight="balanced", random_state=0).fit(x, y)
    assert forest.model_.class_weight == "balanced"


def test_residual_transform_folds_signs():
    residuals = np.array([[-0.2, 0.1]])
    assert ResidualTransform("absolute").fit(residuals).transform(residuals).tolist() == [
        [0.2, 0.1]
    ]
    with pytest.raises(NotFittedError):
        ResidualTransform().transform(residuals)


def test_default_threshold_predicts_exactly_like_sklearn(blobs):
    from sklearn.ensemble import RandomForestClassifier

    x, y = blobs
    x = x + np.random.default_rng(1).normal(0, 4, size=x.shape)  # overlapping classes: vote ties
    ours = ForestDetector(n_estimators=10, random_state=0).fit(x, y)
    theirs = RandomForestClassifier(n_estimators=10, random_state=0).fit(x, y)
    np.testing.assert_array_equal(ours.predict(x[:100]), theirs.predict(x[:100]))
    fixed = ForestDetector(n_estimators=10, decision_threshold=0.3, random_state=0).fit(x, y)
    np.testing.assert_array_equal(fixed.predict(x), fixed.score_samples(x) >= 0.3)


def test_tuning_adapts_its_folds_to_few_anomalies(blobs, caplog):
    x, y = blobs
    three = np.r_[np.arange(200), 200, 201, 202]  # fewer anomalies than folds: 3-fold CV
    tuned = ForestDetector(n_estimators=10, decision_threshold="tuned", cv_folds=5, random_state=0)
    assert 0 < tuned.fit(x[three], y[three]).threshold_ < 1
    one = np.r_[np.arange(200), 200]  # nothing to cross-validate: sklearn's 0.5, with a warning
    fallback = ForestDetector(n_estimators=10, decision_threshold="tuned", random_state=0)
    assert fallback.fit(x[one], y[one]).threshold_ == 0.5
    assert "too few rows" in caplog.text


def test_anomaly_f1_matches_sklearn_f1_score():
    from sklearn.metrics import f1_score

    rng = np.random.default_rng(0)
    for _ in range(20):
        y_true, y_pred = rng.integers(0, 2, size=(2, 30))
        assert anomaly_f1(y_true, y_pred) == f1_score(y_true, y_pred)
    assert anomaly_f1(np.array([0, 0]), np.array([0, 0])) == 0.0
