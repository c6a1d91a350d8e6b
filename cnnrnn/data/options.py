"""Loader option values and their checks, shared by the loaders (no TensorFlow).

Light on purpose: the application registry reads the defaults, and the demo
data writers the checks, without starting TensorFlow.
"""

import functools
import numbers

from cnnrnn import errors
from cnnrnn.errors import DataError

STANDARDIZE = "lower_and_strip_punctuation"
STANDARDIZE_CHOICES = (STANDARDIZE, "lower", "strip_punctuation", None)


check_choice = functools.partial(errors.check_choice, error=DataError)


def check_max_tokens(max_tokens, *, reserved):
    """Raises `DataError` unless `max_tokens` is None or leaves room for a word
    beside the `reserved` tokens (padding, out-of-vocabulary, ...)."""
    if max_tokens is None:
        return
    smallest = len(reserved) + 1
    if (
        isinstance(max_tokens, bool)
        or not isinstance(max_tokens, numbers.Integral)
        or max_tokens < smallest
    ):
        raise DataError(
            f"Received: max_tokens={max_tokens!r}. Expected an integer >= "
            f"{smallest} (the {len(reserved)} special tokens "
            f"{', '.join(map(repr, reserved))} count) or None."
        )


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
