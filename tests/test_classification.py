"""cnnrnn.classification: the labels and predictions of a split, and its report."""

import types

import keras
import numpy as np
import pytest
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


@pytest.mark.backends
def test_predict_labels_feeds_dict_inputs_to_every_backend(seed):
    """tf.data batches reach jax and torch models as NumPy (jax refuses TF tensors)."""
    inputs = {"x": keras.Input((3,)), "scale": keras.Input((1,))}
    outputs = tiny_classifier()(inputs["x"] * inputs["scale"])
    model = keras.Model(inputs, outputs)
    x = np.eye(3, dtype="float32")[[2, 0, 1]]
    scale = np.ones((3, 1), "float32")
    dataset = tf.data.Dataset.from_tensor_slices(({"x": x, "scale": scale}, [2, 0, 0]))
    labels, predicted = classification.predict_labels(model, dataset.batch(2))
    assert labels.tolist() == [2, 0, 0]
    assert predicted.tolist() == [2, 0, 1]


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
