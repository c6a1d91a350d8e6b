"""Argument checks and compile settings shared by the model factories."""

import keras


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


def check_choice(name, value, choices):
    """Raises `ValueError` unless `value` is one of `choices`."""
    if value not in choices:
        expected = ", ".join(repr(choice) for choice in choices)
        raise ValueError(f"Received: {name}={value!r}. Expected one of {expected}.")


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


def compile_classifier(model, learning_rate):
    """Compiles with Adam, sparse categorical cross-entropy and accuracy."""
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(),
        metrics=["accuracy"],
    )


def is_int(value):
    """Whether `value` is an int (and not a bool)."""
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)
