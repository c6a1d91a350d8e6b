"""Training a model's head on features a frozen encoder computed once."""

import numpy as np
import tensorflow as tf

from cnnrnn.data.common import DataSplits


def feature_splits(frame_features, splits, *, seed):
    """Runs a frozen encoder once over every split and keeps the features.

    Each split's `({"frames", "mask"}, label)` batches become
    `({"features", "mask"}, label)` batches of the same size, held in memory;
    the training split is reshuffled every epoch with `seed`. Training a head
    on them costs no encoder pass per epoch.

    Args:
        frame_features: `keras.Model` mapping `frames` to per-frame features.
        splits: `cnnrnn.data.common.DataSplits` of clips.
        seed: int. Seed of the training shuffle.

    Returns:
        `cnnrnn.data.common.DataSplits` of features, with the same
        `model_args` and `info`.
    """
    batch_size = None

    def encode(dataset, shuffle):
        nonlocal batch_size
        if dataset is None:
            return None
        features, masks, labels = [], [], []
        for inputs, targets in dataset.as_numpy_iterator():
            batch_size = batch_size or len(targets)
            features.append(
                np.asarray(frame_features.predict_on_batch(inputs["frames"]))
            )
            masks.append(np.asarray(inputs["mask"]))
            labels.append(np.asarray(targets))
        examples = tf.data.Dataset.from_tensor_slices(
            (
                {"features": np.concatenate(features), "mask": np.concatenate(masks)},
                np.concatenate(labels),
            )
        )
        if shuffle:
            examples = examples.shuffle(
                len(examples), seed=seed, reshuffle_each_iteration=True
            )
        return examples.batch(batch_size).prefetch(tf.data.AUTOTUNE)

    return DataSplits(
        train=encode(splits.train, shuffle=True),
        validation=encode(splits.validation, shuffle=False),
        test=encode(splits.test, shuffle=False),
        model_args=splits.model_args,
        info=splits.info,
    )
