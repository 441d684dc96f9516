"""Stage ``baselines``: One-Class SVM, Isolation Forest and a supervised Random Forest."""

from collections.abc import Sequence

from ae_anomaly.core.storage import load_dataset, save_predictions
from ae_anomaly.detectors.base import fit_and_predict
from ae_anomaly.features.preprocessing import normalize_curves
from ae_anomaly.pipeline.runtime import load_stage_params, parse_stage_args, run_stage
from ae_anomaly.pipeline.wiring import baseline_detectors


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_stage_args(__doc__, ["train", "validation", "predictions"], argv)
    params = load_stage_params(args.params)
    train, validation = load_dataset(args.train), load_dataset(args.validation)
    normalize = params.preprocess.normalize
    detectors = baseline_detectors(params.baselines, params.base.seed)
    predictions = fit_and_predict(
        detectors,
        normalize_curves(train.x, normalize),
        train.y,
        normalize_curves(validation.x, normalize),
    )
    save_predictions(args.predictions, predictions)


if __name__ == "__main__":
    run_stage(main)
