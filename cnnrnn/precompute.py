"""Training a model's head on features a frozen encoder computed once."""

import keras
import numpy as np
import tensorflow as tf

from cnnrnn.data.common import DataSplits


def feature_splits(encoder, splits, *, seed):
    """Runs a frozen encoder once over every split and keeps the features.

    Each split's `(images, label)` batches become `(features, label)`
    batches of the same size, and clips' `({"frames", "mask"}, label)`
    batches become `({"features", "mask"}, label)` ones and captions'
    `((images, tokens), targets)` batches `((features, tokens), targets)`
    ones, held in memory;
    the training split is reshuffled every epoch with `seed`. Training a head
    on them costs no encoder pass per epoch.

    Args:
        encoder: `keras.Model` mapping images (or a clip's `frames`) to
            features.
        splits: `cnnrnn.data.common.DataSplits` of images or clips.
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
        batches = []
        for inputs, targets in dataset.as_numpy_iterator():
            batch_size = batch_size or len(targets)
            batches.append((_encode(encoder, inputs), targets))
        examples = tf.data.Dataset.from_tensor_slices(
            keras.tree.map_structure(lambda *parts: np.concatenate(parts), *batches)
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


def _encode(encoder, inputs):
    """The features of one batch: of its images, or of its clips' frames."""
    if isinstance(inputs, dict):  # clips: the mask marks the real frames
        features = encoder.predict_on_batch(inputs["frames"])
        return {"features": np.asarray(features), "mask": inputs["mask"]}
    if isinstance(inputs, tuple):  # captions: (images, tokens)
        images, *rest = inputs
        return (np.asarray(encoder.predict_on_batch(images)), *rest)
    return np.asarray(encoder.predict_on_batch(inputs))
