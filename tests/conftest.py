import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture
def seed():
    """Seeds Python, NumPy and the backend so a test is repeatable."""
    keras.utils.set_random_seed(1337)
    return 1337
