"""Stage ``generate``: the pool of curves that ``split`` divides and the separate validation
set, either the article's synthetic curves or the user's files under ``inputs/``."""

from collections.abc import Sequence
from pathlib import Path

from ae_anomaly.core.storage import save_dataset
from ae_anomaly.data.split import check_pool_can_be_split
from ae_anomaly.pipeline.runtime import load_stage_params, parse_stage_args, run_stage
from ae_anomaly.pipeline.wiring import pool_and_validation


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_stage_args(__doc__, ["inputs", "pool", "validation"], argv)
    params = load_stage_params(args.params)
    pool, validation, source = pool_and_validation(
        params.generate, params.base.seed, Path(args.inputs)
    )
    split = params.split
    check_pool_can_be_split(
        pool, split.test_size, split.shuffle, split.stratify, params.base.seed, source
    )
    save_dataset(args.pool, pool)
    save_dataset(args.validation, validation)


if __name__ == "__main__":
    run_stage(main)
