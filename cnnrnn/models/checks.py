"""Argument checks and compile settings shared by the model factories."""

import functools
import math

import keras

from cnnrnn.errors import check_choice

# Optimizers a factory can compile with (see `make_optimizer`).
OPTIMIZERS = ("adam", "rmsprop", "sgd")
# Activations of the hidden layers a factory can choose (see `check_activation`).
ACTIVATIONS = ("relu", "gelu", "silu", "elu")
_OPTIMIZER_CLASSES = {
    "adam": keras.optimizers.Adam,
    "rmsprop": keras.optimizers.RMSprop,
    "sgd": functools.partial(keras.optimizers.SGD, momentum=0.9),
}


def check_int(name, value, *, minimum=1):
    """Raises `ValueError` unless `value` is an integer >= `minimum`."""
    if not is_int(value) or value < minimum:
        raise ValueError(
            f"Argument `{name}` must be an integer >= {minimum}. "
            f"Received: {name}={value!r}"
        )


def check_fraction(name, value):
    """Raises `ValueError` unless `value` is a number in [0, 1) (a dropout rate)."""
    if not _is_number(value) or not 0 <= value < 1:
        raise ValueError(
            f"Argument `{name}` must be in [0, 1). Received: {name}={value!r}"
        )


def check_positive(name, value):
    """Raises `ValueError` unless `value` is a positive number."""
    if not _is_number(value) or value <= 0:
        raise ValueError(
            f"Argument `{name}` must be positive. Received: {name}={value!r}"
        )


def check_image_shape(name, value):
    """Raises `ValueError` unless `value` is `(height, width, 3)` of positive ints."""
    if (
        not isinstance(value, (tuple, list))
        or len(value) != 3
        or not all(is_int(dim) and dim >= 1 for dim in value)
        or value[-1] != 3
    ):
        raise ValueError(
            f"Argument `{name}` must be (height, width, 3). Received: {name}={value!r}"
        )


def check_bool(name, value):
    """Raises `ValueError` unless `value` is a bool."""
    if not isinstance(value, bool):
        raise ValueError(
            f"Argument `{name}` must be a bool. Received: {name}={value!r}"
        )


def check_optimizer(optimizer, weight_decay):
    """Raises `ValueError` unless `optimizer` is one of `OPTIMIZERS` and
    `weight_decay` is a finite number >= 0."""
    check_choice("optimizer", optimizer, OPTIMIZERS)
    if (
        not _is_number(weight_decay)
        or not math.isfinite(weight_decay)
        or weight_decay < 0
    ):
        raise ValueError(
            "Argument `weight_decay` must be a number >= 0. "
            f"Received: weight_decay={weight_decay!r}"
        )


def check_activation(activation):
    """Raises `ValueError` unless `activation` is one of `ACTIVATIONS`."""
    check_choice("activation", activation, ACTIVATIONS)


def make_optimizer(name, learning_rate, *, weight_decay=0.0):
    """Makes a Keras optimizer by name.

    `weight_decay` is decoupled weight decay (as in AdamW): the optimizer
    applies it to every trainable variable's update, biases and
    normalization parameters included, shrinking each variable by
    `learning_rate * weight_decay * variable` at every step, separately from
    the gradient (so Adam's and RMSprop's gradient scaling does not touch
    it). Every Keras 3 optimizer supports it through its `weight_decay`
    argument.

    Args:
        name: str. `"adam"` (`keras.optimizers.Adam`), `"rmsprop"`
            (`keras.optimizers.RMSprop`) or `"sgd"` (`keras.optimizers.SGD`
            with momentum 0.9).
        learning_rate: float. Learning rate, positive.
        weight_decay: float. Decoupled weight decay, >= 0; 0 for none.
            Defaults to 0.0.

    Returns:
        A fresh `keras.optimizers.Optimizer`.

    Raises:
        ValueError: if an argument is out of range or unknown.

    Example:

    >>> optimizer = make_optimizer("sgd", 1e-2, weight_decay=1e-4)
    >>> optimizer.momentum, optimizer.weight_decay
    (0.9, 0.0001)
    """
    check_optimizer(name, weight_decay)
    check_positive("learning_rate", learning_rate)
    return _OPTIMIZER_CLASSES[name](
        learning_rate, weight_decay=float(weight_decay) or None
    )


def with_learning_rate(optimizer, learning_rate):
    """A fresh optimizer of the same kind and settings with another learning rate.

    Keeps the class and every setting of `optimizer` (weight decay, momentum,
    clipping, ...) but none of its state. A `LossScaleOptimizer` is
    unwrapped: `model.compile` wraps the optimizer again under a
    `"mixed_float16"` policy.

    Args:
        optimizer: `keras.optimizers.Optimizer`, such as a compiled model's.
        learning_rate: float. The new learning rate.

    Returns:
        A fresh `keras.optimizers.Optimizer`.
    """
    if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        optimizer = optimizer.inner_optimizer
    config = optimizer.get_config()
    config["learning_rate"] = learning_rate
    return optimizer.__class__.from_config(config)


def compile_classifier(model, learning_rate, *, optimizer="adam", weight_decay=0.0):
    """Compiles with sparse categorical cross-entropy and accuracy.

    The optimizer is `make_optimizer(optimizer, learning_rate,
    weight_decay=weight_decay)`: Adam without weight decay by default.
    """
    model.compile(
        optimizer=make_optimizer(optimizer, learning_rate, weight_decay=weight_decay),
        loss=keras.losses.SparseCategoricalCrossentropy(),
        metrics=["accuracy"],
    )


def compile_like(target, model, learning_rate=None):
    """Compiles `target` as `model` is compiled, with a fresh optimizer.

    `target` gets `model`'s loss and metrics and a fresh optimizer of the same
    kind and settings (weight decay, momentum, ...) at `learning_rate`, or at
    `model`'s own rate when it is None. A model that was never compiled
    holds no optimizer to copy: `target` then gets Adam without weight decay,
    sparse categorical cross-entropy and accuracy at `learning_rate`.
    `target` may be `model` itself.

    Raises:
        ValueError: if `learning_rate` is not positive, or is None for a
            model that was never compiled.
    """
    if learning_rate is not None:
        check_positive("learning_rate", learning_rate)
    elif not model.compiled:
        raise ValueError(
            "The model is not compiled; pass a `learning_rate` for the head. "
            "Received: learning_rate=None"
        )
    if not model.compiled:
        compile_classifier(target, learning_rate)
        return
    config = model.get_compile_config()
    if learning_rate is not None:
        config["optimizer"] = keras.optimizers.serialize(
            with_learning_rate(model.optimizer, learning_rate)
        )
    # Deserializing the config makes a fresh optimizer.
    target.compile_from_config(config)


def is_int(value):
    """Whether `value` is an int (and not a bool)."""
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)
