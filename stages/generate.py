"""Stage ``generate``: the article's pool of curves and its separate validation set."""

from collections.abc import Sequence

from ae_anomaly.cli import load_stage_params, parse_stage_args, run_stage
from ae_anomaly.data import generate_pool_and_validation
from ae_anomaly.io import save_dataset


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_stage_args(__doc__, ["pool", "validation"], argv)
    params = load_stage_params(args.params)
    pool, validation = generate_pool_and_validation(params.generate, params.base.seed)
    save_dataset(args.pool, pool)
    save_dataset(args.validation, validation)


if __name__ == "__main__":
    run_stage(main)
