"""Stage ``generate``: the article's pool of curves and its separate validation set."""

from collections.abc import Sequence

from ae_anomaly.data.synthetic import pool_and_validation
from ae_anomaly.runtime import load_stage_params, parse_stage_args, run_stage
from ae_anomaly.storage import save_dataset
from ae_anomaly.wiring import bump_curves


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_stage_args(__doc__, ["pool", "validation"], argv)
    params = load_stage_params(args.params)
    counts = params.generate
    pool, validation = pool_and_validation(
        bump_curves(params.generate),
        pool_counts=(counts.pool_normal, counts.pool_anomalous),
        validation_counts=(counts.validation_normal, counts.validation_anomalous),
        seed=params.base.seed,
    )
    save_dataset(args.pool, pool)
    save_dataset(args.validation, validation)


if __name__ == "__main__":
    run_stage(main)
