"""The article's train/test split of the pool."""

from __future__ import annotations

from sklearn.model_selection import train_test_split

from ae_anomaly.types import Dataset


def train_test_split_dataset(
    dataset: Dataset, test_size: float, shuffle: bool, stratify: bool, seed: int
) -> tuple[Dataset, Dataset]:
    """scikit-learn's ``train_test_split`` of curves and labels together."""
    x_train, x_test, y_train, y_test = train_test_split(
        dataset.x,
        dataset.y,
        test_size=test_size,
        shuffle=shuffle,
        stratify=dataset.y if stratify else None,
        random_state=seed,
    )
    return Dataset(x_train, y_train), Dataset(x_test, y_test)
