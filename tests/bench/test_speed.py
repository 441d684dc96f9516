"""The speed bench's own arithmetic: what its report says about the ratio targets."""

from __future__ import annotations

import pytest

from bench.speed import rerun_breakdown, scaling_bound


def test_the_scaling_bound_is_the_baselines_share_at_which_the_ratio_reaches_the_limit():
    # Baselines 20 s of a 60 s run grow 25x, the other 40 s grow 8x: 500 + 320 = 820 s.
    bound = scaling_bound(60.0, 20.0, 820.0, 500.0, limit=12)
    assert bound["growth_baselines"] == pytest.approx(25.0)
    assert bound["growth_rest"] == pytest.approx(8.0)
    assert bound["baselines_share"] == pytest.approx(1 / 3)
    allowed = bound["baselines_share_allowed"]
    assert allowed == pytest.approx(4 / 17)
    # At exactly that share, the same growths give exactly the limit.
    assert allowed * 25 + (1 - allowed) * 8 == pytest.approx(12)


def test_a_faster_rest_of_the_run_leaves_the_bound_and_raises_the_share():
    slow = scaling_bound(60.0, 20.0, 820.0, 500.0, limit=12)
    fast = scaling_bound(40.0, 20.0, 660.0, 500.0, limit=12)  # the rest twice as fast
    assert fast["baselines_share_allowed"] == pytest.approx(slow["baselines_share_allowed"])
    assert fast["baselines_share"] > slow["baselines_share"]


def test_stages_that_all_grow_within_the_limit_allow_any_share():
    assert scaling_bound(60.0, 20.0, 600.0, 200.0, limit=12)["baselines_share_allowed"] == 1.0


def test_a_rerun_splits_into_dvc_start_up_and_in_stage_time():
    run = {
        "seconds": 10.0,
        "stage_wall": {"detector": 2.5, "evaluate": 6.0},
        "stage_self": {"detector": 1.0, "evaluate": 5.5},
        "stage_phases": {"evaluate": {"validation": 3.0}},
    }
    parts = rerun_breakdown(run)
    assert parts["dvc"] == pytest.approx(1.5)
    assert parts["startup"] == pytest.approx({"detector": 1.5, "evaluate": 0.5})
    assert parts["dvc"] + sum(parts["startup"].values()) + sum(
        parts["in_stage"].values()
    ) == pytest.approx(run["seconds"])
    assert parts["phases"] == {"evaluate": {"validation": 3.0}}
