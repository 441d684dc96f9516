"""Stage ``histogram_forest``: the article's difference forest and histogram forest.

Both are trained on the *test* set's residuals (the autoencoder has fitted the train set,
so its residuals there are unrepresentatively small) and applied to the validation set.
"""

from collections.abc import Sequence

from ae_anomaly.cli import background_process, load_stage_params, parse_stage_args, run_stage
from ae_anomaly.detectors import fit_and_predict, residual_detectors
from ae_anomaly.io import load_arrays, save_arrays, save_predictions


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_stage_args(
        __doc__, ["test_scores", "validation_scores", "predictions", "histograms"], argv
    )
    params = load_stage_params(args.params)
    test, validation = load_arrays(args.test_scores), load_arrays(args.validation_scores)
    detectors = residual_detectors(params.histogram_forest, params.base.seed)
    histogram_forest = detectors.pop("histogram_forest")
    data = test["residual"], test["y"], validation["residual"]
    # The forests are independent: the others fit in a second process meanwhile.
    with background_process() as background:
        others = background.submit(fit_and_predict, detectors, *data)
        own = fit_and_predict({"histogram_forest": histogram_forest}, *data)
        save_predictions(args.predictions, {**others.result(), **own})

    histogram = histogram_forest.named_steps["histogram"]
    save_arrays(
        args.histograms,
        {
            "test": histogram.transform(test["residual"]),
            "validation": histogram.transform(validation["residual"]),
            "range": histogram.value_range_,
        },
    )


if __name__ == "__main__":
    run_stage(main)
