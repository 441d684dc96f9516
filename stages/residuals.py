"""Stage ``residuals``: the autoencoder's residuals ``x - reconstruction`` of the held-out
normal curves, of the test split (the article's difference scores) and of every normal curve
of the train split, on the curves as the model sees them (after ``preprocess``): what the
``detector`` stage fits its detectors on."""

from collections.abc import Sequence

from ae_anomaly.core.storage import load_dataset, save_arrays
from ae_anomaly.core.types import NORMAL
from ae_anomaly.features.preprocessing import normalize_curves
from ae_anomaly.features.residuals import residuals
from ae_anomaly.networks.base import reconstruct, select_device
from ae_anomaly.networks.checkpoint import load_network
from ae_anomaly.pipeline.runtime import load_stage_params, parse_stage_args, run_stage

#: Each residual set and the curves it is made of.
SETS = {"holdout": "holdout", "test": "test", "normal": "train"}


def main(argv: Sequence[str] | None = None) -> None:
    outputs = [f"{name}_residuals" for name in SETS]
    args = parse_stage_args(__doc__, ["model", "holdout", "test", "train", *outputs], argv)
    params = load_stage_params(args.params)
    config = params.residuals
    device = select_device(config.device)
    model = load_network(args.model, device)
    for name, source in SETS.items():
        dataset = load_dataset(getattr(args, source))
        keep = dataset.y == NORMAL if name == "normal" else slice(None)
        x = normalize_curves(dataset.x[keep], params.preprocess.normalize)
        reconstruction = reconstruct(model, x, device, config.batch_size)
        save_arrays(
            getattr(args, f"{name}_residuals"),
            {"residual": residuals(x, reconstruction), "y": dataset.y[keep]},
        )


if __name__ == "__main__":
    run_stage(main)
