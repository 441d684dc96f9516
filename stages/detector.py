"""Stage ``detector``: the detectors that work on the autoencoder's residuals.

``ae_threshold`` is fitted on the held-out *normal* residuals (no anomaly label); the
difference and histogram forests on the *test* split's residuals (the autoencoder has fitted
the train split, so its residuals there are unrepresentatively small). All three are applied
to the validation set.
"""

from collections.abc import Sequence

from ae_anomaly.detectors.base import fit_and_predict
from ae_anomaly.runtime import background_work, load_stage_params, parse_stage_args, run_stage
from ae_anomaly.storage import load_arrays, save_arrays, save_predictions
from ae_anomaly.types import Predictions
from ae_anomaly.wiring import ae_threshold, difference_forest, histogram_forest


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_stage_args(
        __doc__,
        ["holdout_residuals", "test_residuals", "validation_residuals",
         "threshold_predictions", "forest_predictions", "histograms"],
        argv,
    )  # fmt: skip
    params = load_stage_params(args.params)
    seed = params.base.seed
    holdout = load_arrays(args.holdout_residuals)
    test, validation = load_arrays(args.test_residuals), load_arrays(args.validation_residuals)

    threshold = {"ae_threshold": ae_threshold(params.ae_threshold)}
    save_predictions(
        args.threshold_predictions,
        fit_and_predict(threshold, holdout["residual"], None, validation["residual"]),
    )
    histograms = histogram_forest(params.histogram_forest, seed)
    forest_data = test["residual"], test["y"], validation["residual"]
    # The forests are independent: the difference forest fits in a second process meanwhile.
    with background_work() as background:
        difference = background.submit(
            "difference forest",
            fit_and_predict,
            {"difference_forest": difference_forest(params.difference_forest, seed)},
            *forest_data,
        )
        own = fit_and_predict({"histogram_forest": histograms}, *forest_data)
        save_predictions(args.forest_predictions, {**difference.result(), **own})
    fitted = isinstance(own["histogram_forest"], Predictions)
    save_arrays(  # the features the histogram forest saw, for the figures (none if not fitted)
        args.histograms,
        {
            "test": histograms.histograms(test["residual"]),
            "validation": histograms.histograms(validation["residual"]),
            "range": histograms.value_range_,
        }
        if fitted
        else {},
    )


if __name__ == "__main__":
    run_stage(main)
