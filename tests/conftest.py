import os
import pathlib
import resource
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import pytest  # noqa: E402

_STARTED = time.perf_counter()


def pytest_terminal_summary(terminalreporter, config):
    """Closes each stage of `.ci/run` with its backend, wall and CPU seconds."""
    if hasattr(config, "workerinput"):  # an xdist worker: the controller reports
        return
    cpu = sum(
        getattr(resource.getrusage(who), field)
        for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
        for field in ("ru_utime", "ru_stime")
    )
    terminalreporter.write_line(
        f"stage {keras.backend.backend()}: {time.perf_counter() - _STARTED:.0f} s "
        f"wall, {cpu:.0f} s CPU (this process and the workers it has reaped)"
    )


# The test files that take longest (`python benchmarks/suite_time.py` lists
# them), longest first. They are handed out first, so that no xdist worker is
# left running one alone at the end while the other core idles.
SLOWEST_FILES = (
    "tuning/test_search.py",
    "models/test_sentiment.py",
    "test_training.py",
    "serving/test_api.py",
    "test_compare.py",
)
_TESTS = pathlib.Path(__file__).parent


def pytest_collection_modifyitems(config, items):
    """Starts the slowest files first; off tensorflow, keeps only the tests
    marked `backends`.

    `KERAS_BACKEND=torch pytest` (or jax) runs the backend subset: the model
    factories, their saving and decoding, the device layer. Everything else
    reads data through tf.data and runs on tensorflow only.
    """
    rank = {_TESTS / name: number for number, name in enumerate(SLOWEST_FILES)}
    items.sort(key=lambda item: rank.get(item.path, len(rank)))  # stable
    if keras.backend.backend() == "tensorflow":
        return
    selected = [item for item in items if item.get_closest_marker("backends")]
    deselected = [item for item in items if not item.get_closest_marker("backends")]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = selected


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
