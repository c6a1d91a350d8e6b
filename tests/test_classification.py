"""cnnrnn.classification: the labels and predictions of a split, and its report."""

import types

import keras
import numpy as np
import tensorflow as tf

from cnnrnn import classification, runs


def tiny_classifier():
    """Predicts class `argmax(x)` of a 3-vector: its weights are the identity."""
    inputs = keras.Input((3,))
    outputs = keras.layers.Dense(
        3, activation="softmax", kernel_initializer="identity", use_bias=False
    )(inputs)
    return keras.Model(inputs, outputs)


def test_predict_labels_pairs_every_label_with_its_prediction(seed):
    x = np.eye(3, dtype="float32")[[0, 1, 2, 2, 1]]
    y = np.array([0, 2, 2, 1, 1])
    # Reshuffled on each pass: labels and inputs must come from the same one.
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(5).batch(2)
    labels, predicted = classification.predict_labels(tiny_classifier(), dataset)
    assert isinstance(labels, np.ndarray) and isinstance(predicted, np.ndarray)
    assert labels.shape == predicted.shape == (5,)
    pairs = sorted(zip(labels.tolist(), predicted.tolist(), strict=True))
    assert pairs == [(0, 0), (1, 1), (1, 2), (2, 1), (2, 2)]


def test_confusion_matrix_report_writes_the_matrix_and_per_class_accuracy(
    tmp_path, seed
):
    x = np.eye(3, dtype="float32")[[0, 1, 1, 2]]
    y = np.array([0, 1, 2, 2])
    splits = types.SimpleNamespace(
        test=tf.data.Dataset.from_tensor_slices((x, y)).batch(3)
    )
    config = {"data_info": {"class_names": ["a", "b", "c"]}}
    report = classification.confusion_matrix_report(
        tiny_classifier(), splits, "test", config, tmp_path
    )
    assert report == {"per_class_accuracy": {"a": 1.0, "b": 1.0, "c": 0.5}}
    assert (tmp_path / runs.PLOTS_DIR / "confusion_matrix.png").stat().st_size > 0
