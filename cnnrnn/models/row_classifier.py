"""Row classifier: RGB image -> class, read row by row by an LSTM/GRU."""

import keras

from cnnrnn.errors import check_choice
from cnnrnn.models.checks import (
    check_bool,
    check_fraction,
    check_image_shape,
    check_int,
    check_optimizer,
    check_positive,
)
from cnnrnn.models.layers import RNN_LAYERS, RNN_TYPES, classifier_model


def build_row_rnn_classifier(
    *,
    image_shape,
    num_classes,
    rnn_type="lstm",
    units=128,
    num_layers=2,
    bidirectional=False,
    dropout=0.2,
    learning_rate=1e-3,
    optimizer="adam",
    weight_decay=0.0,
    compile=True,
    name=None,
):
    """Builds an image classifier that reads the image one row at a time.

    The model takes the same input as `build_plant_classifier`: float32 RGB
    images with values in `[0, 255]`. It rescales them to `[0, 1]` and reads
    each image as a sequence of `height` steps, top row first, each step the
    `width * 3` values of one row. `num_layers` stacked LSTM or GRU layers
    follow; the last one's final state goes through a dropout layer and a
    float32 softmax `Dense` layer, so the model also works under a
    `"mixed_float16"` dtype policy. The recurrent layers use no recurrent
    dropout, so they run on the fast cuDNN kernels on a GPU.

    Args:
        image_shape: tuple of 3 ints. `(height, width, 3)`.
        num_classes: int. Number of classes, at least 2.
        rnn_type: str. `"lstm"` or `"gru"`. Defaults to `"lstm"`.
        units: int. Units of every recurrent layer (per direction), at least
            1. Defaults to 128.
        num_layers: int. Number of stacked recurrent layers, at least 1.
            Defaults to 2.
        bidirectional: bool. Whether every recurrent layer also reads the rows
            bottom up (`keras.layers.Bidirectional`). Defaults to False.
        dropout: float. Dropout rate before the classifier, in `[0, 1)`.
            Defaults to 0.2.
        learning_rate: float. Learning rate of the optimizer, positive.
            Defaults to 1e-3.
        optimizer: str. One of `"adam"`, `"rmsprop"`, `"sgd"` (momentum
            0.9). Defaults to `"adam"`.
        weight_decay: float. Decoupled weight decay, >= 0, applied by the
            optimizer to every trainable variable's update (see
            `cnnrnn.models.checks.make_optimizer`); 0 for none. Defaults to
            0.0.
        compile: bool. Whether to compile the model with the optimizer,
            sparse categorical cross-entropy and accuracy. Defaults to True.
        name: str or None. Model name and prefix of every layer name.
            Defaults to `"row_classifier"`.

    Returns:
        A functional `keras.Model` mapping `(batch, height, width, 3)` images
        to `(batch, num_classes)` class probabilities.

    Raises:
        ValueError: if an argument is out of range or unknown.

    Example:

    >>> model = build_row_rnn_classifier(
    ...     image_shape=(8, 8, 3), num_classes=10, rnn_type="gru"
    ... )
    >>> model.output_shape
    (None, 10)
    """
    check_image_shape("image_shape", image_shape)
    check_int("num_classes", num_classes, minimum=2)
    check_choice("rnn_type", rnn_type, RNN_TYPES)
    check_int("units", units)
    check_int("num_layers", num_layers)
    check_bool("bidirectional", bidirectional)
    check_fraction("dropout", dropout)
    check_positive("learning_rate", learning_rate)
    check_optimizer(optimizer, weight_decay)
    name = name or "row_classifier"
    height, width, channels = image_shape

    inputs = keras.Input(shape=tuple(image_shape), name="images")
    x = keras.layers.Rescaling(1 / 255, name=f"{name}_rescaling")(inputs)
    x = keras.layers.Reshape((height, width * channels), name=f"{name}_rows")(x)
    for i in range(1, num_layers + 1):
        rnn = RNN_LAYERS[rnn_type](
            units,
            return_sequences=i < num_layers,
            name=f"{name}_{rnn_type}{i}" if bidirectional else f"{name}_rnn{i}",
        )
        if bidirectional:
            rnn = keras.layers.Bidirectional(rnn, name=f"{name}_rnn{i}")
        x = rnn(x)
    return classifier_model(
        inputs,
        x,
        num_classes=num_classes,
        dropout=dropout,
        learning_rate=learning_rate,
        optimizer=optimizer,
        weight_decay=weight_decay,
        compile=compile,
        name=name,
    )
