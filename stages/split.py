"""Stage ``split``: train/test split of the pool, as the article's ``train_test_split``."""

from collections.abc import Sequence

from ae_anomaly.core.storage import load_dataset, save_dataset
from ae_anomaly.data.split import train_test_split_dataset
from ae_anomaly.pipeline.runtime import load_stage_params, parse_stage_args, run_stage


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_stage_args(__doc__, ["pool", "train", "test"], argv)
    params = load_stage_params(args.params)
    split = params.split
    train, test = train_test_split_dataset(
        load_dataset(args.pool),
        test_size=split.test_size,
        shuffle=split.shuffle,
        stratify=split.stratify,
        seed=params.base.seed,
    )
    save_dataset(args.train, train)
    save_dataset(args.test, test)


if __name__ == "__main__":
    run_stage(main)
