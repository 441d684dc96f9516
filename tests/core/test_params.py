from pathlib import Path

import pytest
import yaml

from ae_anomaly.core.params import (
    ParamsError,
    flatten,
    load_params,
    load_preset,
    parse_params,
    redundant_preset_keys,
)
from tests.conftest import REPO_ROOT


def _raw() -> dict:
    return yaml.safe_load((REPO_ROOT / "params.yaml").read_text())


def test_repository_params_validate(default_params):
    assert default_params.base.seed == 42
    assert default_params.generate.source == "synthetic"
    assert default_params.generate.synthetic.sample_size == 256


@pytest.mark.parametrize(
    ("section", "key", "value", "dotted"),
    [
        ("train_ae", "epoch", 3, "train_ae.epoch"),  # typo: unknown key
        ("train_ae", "epochs", 0, "train_ae.epochs"),
        ("train_ae", "epochs", "many", "train_ae.epochs"),
        ("preprocess", "normalize", "robust", "preprocess.normalize"),
        ("histogram_forest", "bins", 0, "histogram_forest.bins"),
        ("split", "test_size", 1.5, "split.test_size"),
        ("evaluate", "champion_metric", "f1", "evaluate.champion_metric"),
    ],
)
def test_bad_values_name_the_dotted_key(section, key, value, dotted):
    raw = _raw()
    raw[section][key] = value
    with pytest.raises(ParamsError, match=dotted.replace(".", r"\.")):
        parse_params(raw)


@pytest.mark.parametrize("contamination", [0.0, 0.6, -0.1])
def test_contamination_outside_half_open_interval_is_rejected(contamination):
    raw = _raw()
    raw["baselines"]["isolation_forest"]["contamination"] = contamination
    with pytest.raises(ParamsError, match=r"baselines\.isolation_forest\.contamination"):
        parse_params(raw)


def test_contamination_of_one_half_is_accepted():
    raw = _raw()
    raw["baselines"]["isolation_forest"]["contamination"] = 0.5
    assert parse_params(raw).baselines.isolation_forest.contamination == 0.5


def test_unknown_top_level_section_is_rejected():
    raw = _raw()
    raw["trian_ae"] = {"epochs": 1}
    with pytest.raises(ParamsError, match="trian_ae: unknown key"):
        parse_params(raw)


def test_missing_key_is_reported():
    raw = _raw()
    del raw["train_ae"]["lr"]
    with pytest.raises(ParamsError, match=r"train_ae\.lr: Field required"):
        parse_params(raw)


def test_unordered_range_is_rejected():
    raw = _raw()
    raw["generate"]["synthetic"]["normal_sigma"] = [0.5, 0.05]
    with pytest.raises(ParamsError, match="normal_sigma"):
        parse_params(raw)


def test_every_error_is_listed_at_once():
    raw = _raw()
    raw["train_ae"]["epochs"] = 0
    raw["histogram_forest"]["bins"] = 0
    with pytest.raises(ParamsError) as error:
        parse_params(raw)
    assert "train_ae.epochs" in str(error.value) and "histogram_forest.bins" in str(error.value)


def test_missing_and_malformed_files(tmp_path: Path):
    with pytest.raises(ParamsError, match="not found"):
        load_params(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("base: [unclosed")
    with pytest.raises(ParamsError, match="not valid YAML"):
        load_params(bad)


def test_flatten_gives_dotted_keys(default_params):
    flat = flatten(default_params)
    assert flat["train_ae.epochs"] == default_params.train_ae.epochs
    assert flat["baselines.isolation_forest.n_estimators"] == 100
    assert flat["generate.synthetic.x_range"] == [0.0, 1.0]


def test_article_preset_gives_the_articles_settings():
    """presets/article.yaml on top of params.yaml must be the article's settings (NOTES.md)."""
    _, article = load_preset(REPO_ROOT / "presets/article.yaml", REPO_ROOT / "params.yaml")
    assert article.train_ae.network.mlp.hidden_sizes == [128, 64, 16]
    assert article.train_ae.network.mlp.latent_dim == 4
    assert (article.train_ae.epochs, article.train_ae.batch_size, article.train_ae.lr) == (
        100,
        32,
        1e-3,
    )
    assert (
        article.train_ae.weight_decay == 1e-5
        and article.train_ae.network.mlp.output_activation == "same"
    )
    assert article.histogram_forest.bins == 10 and article.histogram_forest.range == (-0.3, 0.3)
    assert article.histogram_forest.n_estimators == 10
    assert article.difference_forest.max_features == 100
    assert article.baselines.isolation_forest.max_features == 100
    assert article.split.test_size == 0.2 and not article.split.stratify


def test_presets_hold_only_what_differs_from_params_yaml():
    for preset in sorted((REPO_ROOT / "presets").glob("*.yaml")):
        assert redundant_preset_keys(preset, REPO_ROOT / "params.yaml") == [], preset.name


def test_defaults_keep_the_article_data_protocol(default_params):
    """Our improvements are fair only if the data, split and validation set are the article's."""
    overrides, _ = load_preset(REPO_ROOT / "presets/article.yaml", REPO_ROOT / "params.yaml")
    assert not any(key.startswith(("generate.", "split.", "baselines.")) for key in overrides)


def test_a_preset_is_validated_by_the_same_schema(tmp_path: Path):
    typo = tmp_path / "typo.yaml"
    typo.write_text("train_ae:\n  epoch: 3\n")
    with pytest.raises(ParamsError, match=r"train_ae\.epoch: unknown key"):
        load_preset(typo, REPO_ROOT / "params.yaml")
    redundant = tmp_path / "redundant.yaml"
    redundant.write_text("train_ae:\n  epochs: 500\n  lr: 0.003\n  batch_size: 64\n")
    assert redundant_preset_keys(redundant, REPO_ROOT / "params.yaml") == [
        "train_ae.epochs",
        "train_ae.lr",
    ]


def test_a_files_source_must_name_its_files():
    raw = _raw()
    raw["generate"]["source"] = "files"
    with pytest.raises(
        ParamsError, match=r"generate\.files\.train and generate\.files\.validation"
    ):
        parse_params(raw)
    raw["generate"]["files"].update(
        train="inputs/a.csv", validation="inputs/b.csv", layout="header", label_column=None
    )
    with pytest.raises(ParamsError, match=r"generate\.files\.label_column"):
        parse_params(raw)
    raw["generate"]["files"]["label_column"] = "class"
    assert parse_params(raw).generate.files.label_column == "class"


def test_normal_labels_may_be_numbers_or_names():
    raw = _raw()
    raw["generate"]["files"]["normal_labels"] = [1, "ok", 2.5]
    assert parse_params(raw).generate.files.normal_labels == [1, "ok", 2.5]
    raw["generate"]["files"]["normal_labels"] = []
    with pytest.raises(ParamsError, match=r"generate\.files\.normal_labels"):
        parse_params(raw)
