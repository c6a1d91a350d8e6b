"""What every data loader returns, and helpers shared by the loaders."""

import dataclasses
from typing import Any


@dataclasses.dataclass
class DataSplits:
    """Batched train/validation/test datasets plus what the model needs to know.

    Args:
        train: `tf.data.Dataset` of `(inputs, targets)` batches, or None.
        validation: same, or None when there is no validation split.
        test: same, or None when there is no test split.
        model_args: factory arguments fixed by the data, for example
            `{"input_shape": (64, 64, 3), "num_classes": 4}`.
        info: JSON-serialisable facts about the data: `class_names`,
            `num_examples` per split, skipped files and other counts.
    """

    train: Any
    validation: Any
    test: Any
    model_args: dict
    info: dict
