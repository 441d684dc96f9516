"""Stage ``detector``: the deployable detector, one self-contained folder.

``ae_threshold`` is fitted on the held-out *normal* residuals (no anomaly label); the
difference and histogram forests on the *test* split's residuals (the autoencoder has fitted
the train split, so its residuals there are unrepresentatively small). All three are packed
with the autoencoder and the preprocessing into ``models/detector``, which ``evaluate``
measures and everything else (``ae-anomaly score``, MLflow, HTTP) deploys.
"""

from collections.abc import Sequence

from ae_anomaly.core.storage import load_arrays
from ae_anomaly.deploy.detector import pack_detector
from ae_anomaly.detectors.base import fit_if_possible
from ae_anomaly.pipeline.runtime import (
    background_work,
    load_stage_params,
    parse_stage_args,
    run_stage,
)
from ae_anomaly.pipeline.wiring import ae_threshold, difference_forest, histogram_forest


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_stage_args(
        __doc__, ["model", "holdout_residuals", "test_residuals", "detector"], argv
    )
    params = load_stage_params(args.params)
    seed = params.base.seed
    holdout, test = load_arrays(args.holdout_residuals), load_arrays(args.test_residuals)
    threshold = ae_threshold(params.ae_threshold).fit(holdout["residual"])
    # The forests are independent: the difference forest fits in a second process meanwhile.
    with background_work() as background:
        difference = background.submit(
            "difference forest",
            fit_if_possible,
            "difference_forest",
            difference_forest(params.difference_forest, seed),
            test["residual"],
            test["y"],
        )
        histogram = fit_if_possible(
            "histogram_forest",
            histogram_forest(params.histogram_forest, seed),
            test["residual"],
            test["y"],
        )
        pack_detector(
            args.detector,
            network_file=args.model,
            curve_length=test["residual"].shape[1],
            normalize=params.preprocess.normalize,
            ae_threshold=threshold,
            histogram_forest=histogram,
            difference_forest=difference.result(),
            batch_size=params.residuals.batch_size,
        )


if __name__ == "__main__":
    run_stage(main)
