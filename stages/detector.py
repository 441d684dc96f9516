"""Stage ``detector``: the deployable detector, one self-contained folder.

Each residual detector of the model list fits on the residuals it says: ``ae_threshold`` on
the held-out *normal* residuals (no anomaly label; where it standardises them, the spread at
each point comes from every normal training curve's residuals); the difference and histogram
forests on the *test* split's residuals (the network has fitted the train split, so its
residuals there are unrepresentatively small). The anomaly locator learns, from the held-out
normal residuals too, what a normal residual looks like at each point. All are packed with
the network and the preprocessing into ``models/detector``, which ``evaluate`` measures and
everything else (``ae-anomaly score``, MLflow, HTTP) deploys.
"""

from collections.abc import Sequence

from ae_anomaly.core.storage import load_arrays
from ae_anomaly.core.types import NORMAL
from ae_anomaly.deploy.folder import pack_detector
from ae_anomaly.detectors.residual import fit_residual_detectors
from ae_anomaly.pipeline.background import background_work
from ae_anomaly.pipeline.runtime import load_stage_params, parse_stage_args, run_stage
from ae_anomaly.pipeline.wiring import anomaly_locator, residual_detectors


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_stage_args(
        __doc__,
        ["model", "holdout_residuals", "test_residuals", "normal_residuals", "detector"],
        argv,
    )
    params = load_stage_params(args.params)
    holdout, test = load_arrays(args.holdout_residuals), load_arrays(args.test_residuals)
    normal = load_arrays(args.normal_residuals)
    sets = {
        "holdout": (holdout["residual"], holdout["y"]),
        "test": (test["residual"], test["y"]),
        "normal": (normal["residual"], normal["y"]),
    }
    with background_work() as background:  # detectors fit side by side where cores allow
        fitted = fit_residual_detectors(residual_detectors(params), sets, background.submit)
        normal_holdout = holdout["residual"][holdout["y"] == NORMAL]
        locator = anomaly_locator(params).fit(normal_holdout)
    pack_detector(
        args.detector,
        network_file=args.model,
        curve_length=test["residual"].shape[1],
        normalize=params.preprocess.normalize,
        detectors=fitted,
        batch_size=params.residuals.batch_size,
        locator=locator,
    )


if __name__ == "__main__":
    run_stage(main)
