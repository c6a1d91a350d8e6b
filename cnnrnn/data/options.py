"""Loader option values and their checks, shared by the loaders (no TensorFlow).

Light on purpose: the application registry reads the defaults, and the demo
data writers the checks, without starting TensorFlow.
"""

import numbers

from cnnrnn.errors import DataError

STANDARDIZE = "lower_and_strip_punctuation"
STANDARDIZE_CHOICES = (STANDARDIZE, "lower", "strip_punctuation", None)


def check_choice(name, value, choices):
    """Raises `DataError` unless `value` is one of `choices` (keras style)."""
    if value not in choices:
        expected = ", ".join(repr(choice) for choice in choices)
        raise DataError(f"Received: {name}={value!r}. Expected one of {expected}.")


def check_positive_int(name, value):
    """Raises `DataError` unless `value` is an integer >= 1."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise DataError(f"Received: {name}={value!r}. Expected an integer >= 1.")


def check_split_fractions(validation_split, test_split):
    """Raises `DataError` unless both fractions are in [0, 1] and sum to <= 1."""
    for name, value in (
        ("validation_split", validation_split),
        ("test_split", test_split),
    ):
        if (
            isinstance(value, bool)
            or not isinstance(value, numbers.Real)
            or not 0 <= value <= 1
        ):
            raise DataError(
                f"Received: {name}={value!r}. Expected a fraction between 0 and 1."
            )
    if validation_split + test_split > 1 + 1e-9:
        raise DataError(
            f"Received: validation_split={validation_split!r}, "
            f"test_split={test_split!r}. Expected fractions that sum to at most 1."
        )
