import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture
def seed():
    """Seeds Python, NumPy and the backend so a test is repeatable."""
    keras.utils.set_random_seed(1337)
    return 1337


@pytest.fixture
def mixed_precision():
    """Runs a test under the mixed_float16 policy, then restores the policy."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_float16")
    yield
    keras.config.set_dtype_policy(previous)
