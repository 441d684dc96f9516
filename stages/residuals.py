"""Stage ``residuals``: the autoencoder's residuals ``x - reconstruction`` of the held-out
normal curves and of the test split (the article's difference scores), on the curves as the
model sees them (after ``preprocess``): what the ``detector`` stage fits its detectors on."""

from collections.abc import Sequence

from ae_anomaly.core.storage import load_dataset, save_arrays
from ae_anomaly.features.preprocessing import normalize_curves
from ae_anomaly.features.residuals import residuals
from ae_anomaly.networks.base import reconstruct, select_device
from ae_anomaly.networks.checkpoint import load_network
from ae_anomaly.pipeline.runtime import load_stage_params, parse_stage_args, run_stage

SETS = ("holdout", "test")


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_stage_args(
        __doc__, ["model", *SETS, *(f"{name}_residuals" for name in SETS)], argv
    )
    params = load_stage_params(args.params)
    config = params.residuals
    device = select_device(config.device)
    model = load_network(args.model, device)
    for name in SETS:
        dataset = load_dataset(getattr(args, name))
        x = normalize_curves(dataset.x, params.preprocess.normalize)
        reconstruction = reconstruct(model, x, device, config.batch_size)
        save_arrays(
            getattr(args, f"{name}_residuals"),
            {"residual": residuals(x, reconstruction), "y": dataset.y},
        )


if __name__ == "__main__":
    run_stage(main)
