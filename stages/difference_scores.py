"""Stage ``difference_scores``: residuals ``x - reconstruction`` and the threshold detector."""

from collections.abc import Sequence

from ae_anomaly.autoencoder import load_autoencoder, reconstruct, select_device
from ae_anomaly.cli import load_stage_params, parse_stage_args, run_stage
from ae_anomaly.data import Predictions
from ae_anomaly.detectors import ReconstructionThresholdDetector
from ae_anomaly.features import difference_scores
from ae_anomaly.io import load_dataset, save_arrays, save_predictions


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_stage_args(
        __doc__,
        [
            "model",
            "holdout",
            "test",
            "validation",
            "holdout_scores",
            "test_scores",
            "validation_scores",
            "predictions",
        ],
        argv,
    )
    params = load_stage_params(args.params)
    config = params.difference_scores
    device = select_device(params.train_ae.device)
    model = load_autoencoder(args.model, device)

    residuals = {}
    for name in ("holdout", "test", "validation"):
        dataset = load_dataset(getattr(args, name))
        residuals[name] = difference_scores(
            dataset.x, reconstruct(model, dataset.x, device, config.batch_size)
        )
        save_arrays(getattr(args, f"{name}_scores"), {"residual": residuals[name], "y": dataset.y})

    threshold = ReconstructionThresholdDetector(
        error=config.threshold.error,
        quantile=config.threshold.quantile,
        margin=config.threshold.margin,
    ).fit(residuals["holdout"])
    validation = residuals["validation"]
    save_predictions(
        args.predictions,
        {
            "ae_threshold": Predictions(
                threshold.score_samples(validation), threshold.predict(validation)
            )
        },
    )


if __name__ == "__main__":
    run_stage(main)
