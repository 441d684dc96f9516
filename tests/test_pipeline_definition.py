"""``dvc.yaml`` must match the code: each stage's deps are exactly the package modules its
script uses (function by function, see ``tooling/imports.py``), and the plots section is the
one generated from the list of models."""

import pytest
import yaml

from tests.conftest import REPO_ROOT
from tooling import dvc_plots
from tooling.imports import StageImports

STAGES = yaml.safe_load((REPO_ROOT / "dvc.yaml").read_text())["stages"]


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_stage_deps_are_exactly_the_modules_it_uses(stage: str):
    used = StageImports().of_script(REPO_ROOT / f"stages/{stage}.py")
    declared = {dep for dep in STAGES[stage]["deps"] if dep.startswith("ae_anomaly/")}
    assert declared == used, (
        f"missing: {sorted(used - declared)}, extra: {sorted(declared - used)}; "
        "run `python -m tooling.dvc_deps`"
    )
    assert f"stages/{stage}.py" in STAGES[stage]["deps"]


def test_no_stage_depends_on_code_it_does_not_run():
    """The two boundaries the layering exists for (DVC reruns are per module)."""
    assert "ae_anomaly/features/residuals.py" not in STAGES["baselines"]["deps"]
    generator = "ae_anomaly/data/synthetic.py"
    assert [name for name, stage in STAGES.items() if generator in stage["deps"]] == ["generate"]


def test_residual_detectors_named_in_the_model_list_are_deps_of_what_fits_and_scores_them():
    """The registry imports them by their ``"module:Class"`` names; DVC must still rerun the
    stages that fit or score them when their code changes."""
    for stage in ("detector", "evaluate"):
        deps = STAGES[stage]["deps"]
        assert "ae_anomaly/detectors/residual_forests.py" in deps, stage
        assert "ae_anomaly/detectors/reconstruction.py" in deps, stage
    assert "ae_anomaly/detectors/residual_forests.py" not in STAGES["residuals"]["deps"]


def test_plots_section_is_generated_from_the_models():
    _, section = dvc_plots.split_dvc_yaml((REPO_ROOT / "dvc.yaml").read_text())
    assert section == dvc_plots.plots_section(), "run `python -m tooling.dvc_plots`"
