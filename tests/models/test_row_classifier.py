import keras
import numpy as np
import pytest
from test_case import (
    assert_learns,
    assert_optimizer_kind,
    learning_check,
    run_model_smoke_test,
    run_saving_test,
)

from cnnrnn.models import build_row_rnn_classifier

pytestmark = pytest.mark.backends

SMALL = {"image_shape": (8, 6, 3), "units": 8}


def _images(batch, shape=(8, 6, 3)):
    rng = np.random.default_rng(0)
    return rng.uniform(0, 255, (batch, *shape)).astype("float32")


def _bright_row(count, size=8):
    """One bright row on noise: in the top half (class 0) or the bottom half (1)."""
    rng = np.random.default_rng(0)
    labels = np.arange(count) % 2
    images = rng.uniform(0, 60, (count, size, size, 3))
    for image, label in zip(images, labels, strict=True):
        image[rng.integers(size // 2) + label * (size // 2)] += 190
    return images.astype("float32"), labels


def test_outputs_are_class_probabilities(seed):
    model = build_row_rnn_classifier(num_classes=3, **SMALL)
    probabilities = model.predict(_images(2), verbose=0)
    assert probabilities.shape == (2, 3)
    assert probabilities.dtype == np.float32
    np.testing.assert_allclose(probabilities.sum(axis=-1), 1.0, atol=1e-5)


def test_layer_names_and_row_steps():
    model = build_row_rnn_classifier(num_classes=3, **SMALL)
    assert [layer.name for layer in model.layers] == [
        "images",
        "row_classifier_rescaling",
        "row_classifier_rows",
        "row_classifier_rnn1",
        "row_classifier_rnn2",
        "row_classifier_dropout",
        "row_classifier_predictions",
    ]
    # One step per row (height 8), each step one row's pixels (width 6 x 3).
    assert model.get_layer("row_classifier_rows").output.shape == (None, 8, 18)
    assert isinstance(model.get_layer("row_classifier_rnn1"), keras.layers.LSTM)
    assert_optimizer_kind(model.optimizer, keras.optimizers.Adam)

    model = build_row_rnn_classifier(
        num_classes=3,
        rnn_type="gru",
        num_layers=1,
        bidirectional=True,
        name="digits",
        **SMALL,
    )
    assert model.name == "digits"
    rnn = model.get_layer("digits_rnn1")
    assert isinstance(rnn, keras.layers.Bidirectional)
    assert rnn.forward_layer.name == "forward_digits_gru1"
    assert rnn.output.shape == (None, 16)


@pytest.mark.parametrize(
    ("rnn_type", "bidirectional"), [("lstm", False), ("gru", True)], ids=str
)
def test_smoke(seed, rnn_type, bidirectional):
    model = build_row_rnn_classifier(
        num_classes=3, rnn_type=rnn_type, bidirectional=bidirectional, **SMALL
    )
    run_model_smoke_test(
        model, _images(4), np.array([0, 1, 2, 0]), expected_output_shape=(4, 3)
    )


def test_saving_keeps_outputs(seed, tmp_path):
    model = build_row_rnn_classifier(
        num_classes=3, rnn_type="gru", optimizer="sgd", weight_decay=1e-4, **SMALL
    )
    model.train_on_batch(_images(4), np.array([0, 1, 2, 0]))
    loaded = run_saving_test(model, _images(4), tmp_path)
    assert_optimizer_kind(loaded.optimizer, keras.optimizers.SGD)
    assert loaded.optimizer.weight_decay == pytest.approx(1e-4)


@learning_check
def test_learns_where_the_bright_row_is(seed):
    x, y = _bright_row(64)
    model = build_row_rnn_classifier(
        image_shape=(8, 8, 3), num_classes=2, units=16, learning_rate=1e-2
    )
    assert_learns(model, x, y, epochs=10, min_accuracy=0.9)


def test_mixed_precision_outputs_float32(seed, mixed_precision):
    model = build_row_rnn_classifier(num_classes=3, **SMALL)
    assert model.get_layer("row_classifier_rnn1").compute_dtype == "float16"
    probabilities = model.predict(_images(2), verbose=0)
    assert probabilities.dtype == np.float32
    np.testing.assert_allclose(probabilities.sum(axis=-1), 1.0, atol=1e-3)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"num_classes": 1}, r"Received: num_classes=1$"),
        ({"num_classes": 2.5}, r"Received: num_classes=2\.5$"),
        ({"image_shape": (8, 8)}, r"Received: image_shape=\(8, 8\)$"),
        ({"image_shape": (8, 8, 1)}, r"Received: image_shape=\(8, 8, 1\)$"),
        ({"image_shape": (8, 0, 3)}, r"Received: image_shape=\(8, 0, 3\)$"),
        (
            {"rnn_type": "lsmt"},
            r"Received: rnn_type='lsmt'\. Expected one of 'lstm', 'gru'\.",
        ),
        ({"units": 0}, r"Received: units=0$"),
        ({"num_layers": 0}, r"Received: num_layers=0$"),
        ({"bidirectional": "yes"}, r"Received: bidirectional='yes'$"),
        ({"dropout": 1.0}, r"Received: dropout=1\.0$"),
        ({"learning_rate": 0}, r"Received: learning_rate=0$"),
        (
            {"optimizer": "adamw"},
            r"Received: optimizer='adamw'\. Expected one of 'adam', ",
        ),
        ({"weight_decay": -1e-4}, r"Received: weight_decay=-0\.0001$"),
    ],
    ids=str,
)
def test_invalid_arguments_raise(kwargs, message):
    """Each message names the argument at fault and the value it was given."""
    kwargs = {"image_shape": (8, 8, 3), "num_classes": 3, **kwargs}
    with pytest.raises(ValueError, match=message):
        build_row_rnn_classifier(**kwargs)


def test_invalid_argument_message_names_the_choices():
    with pytest.raises(ValueError, match="Expected one of 'lstm', 'gru'"):
        build_row_rnn_classifier(image_shape=(8, 8, 3), num_classes=3, rnn_type="rnn")
