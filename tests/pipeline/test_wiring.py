"""params.yaml -> objects: each factory passes its section's values on, and nothing else."""

from ae_anomaly.core.threads import resolve_n_jobs
from ae_anomaly.pipeline import wiring


def test_baselines_follow_their_section_and_the_seed(default_params):
    detectors = wiring.baseline_detectors(default_params.baselines, seed=1)
    assert list(detectors) == ["one_class_svm", "isolation_forest", "random_forest"]
    baselines = default_params.baselines
    assert detectors["one_class_svm"].cache_size == baselines.one_class_svm.cache_size_mb
    assert detectors["isolation_forest"].random_state == 1
    assert detectors["isolation_forest"].max_features == baselines.isolation_forest.max_features
    # n_jobs -1: every thread of this process's share of the machine (ae_anomaly.core.threads)
    assert detectors["random_forest"].n_jobs == resolve_n_jobs(baselines.n_jobs) >= 1


def test_residual_detectors_follow_their_sections(default_params):
    detectors = wiring.residual_detectors(default_params)
    assert list(detectors) == ["ae_threshold", "difference_forest", "histogram_forest"]
    histogram = detectors["histogram_forest"]
    assert histogram.bins == default_params.histogram_forest.bins
    assert histogram.value_range is None
    assert histogram.random_state == default_params.base.seed
    difference = detectors["difference_forest"]
    assert difference.n_estimators == default_params.difference_forest.n_estimators
    threshold = detectors["ae_threshold"]
    assert (threshold.error, threshold.quantile) == ("max_abs", 0.99)


def test_network_and_training_configs(default_params):
    network = wiring.network(128, default_params.train_ae)
    assert network.kind == "mlp" and network.input_size == 128
    assert network.config.hidden_sizes == (256, 128, 32)
    training = wiring.training_config(default_params.train_ae)
    assert (training.epochs, training.batch_size, training.lr_schedule) == (500, 32, "cosine")


def test_synthetic_curves_follow_the_generate_section(default_params):
    curves = wiring.bump_curves(default_params.generate.synthetic)
    assert curves.sample_size == 256 and curves.anomaly_max == 0.12
