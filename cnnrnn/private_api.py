"""The private Keras and Keras Tuner APIs cnnrnn relies on, and where they were checked.

cnnrnn patches or imports private parts of two libraries, each for a reason
told where it does so:

- Keras: `cnnrnn.multi_worker.patch_keras` (the TensorFlow trainer across
  workers) and `cnnrnn.profiling` (its op-counting hooks into
  `keras.src.backend`);
- Keras Tuner: `cnnrnn.tuning.workarounds` (atomic state files, resuming a
  killed search, the first trial) and `cnnrnn.tuning.distributed` (its gRPC
  oracle servicer and client).

`CHECKED` gives the release series each was tested on. On another series,
`check` warns once, naming the part and what to do, and cnnrnn goes on: the
patches only change what they find, and the tests that exercise them
(`tests/tuning/test_search.py`, `tests/tuning/test_distributed.py`,
`tests/test_multi_worker.py`, `tests/test_profiling.py`) tell whether they
still hold. `pyproject.toml` bounds Keras Tuner below 1.5 and Keras below 4.
"""

import functools
import importlib.metadata
import warnings

from packaging.version import Version

# Distribution name -> the release series (major.minor) the patches were
# checked on, with the tests above.
CHECKED = {"keras": ("3.15",), "keras-tuner": ("1.4",)}


class UncheckedVersionWarning(UserWarning):
    """A library version that cnnrnn's use of its private API was not tested on."""


@functools.cache
def check(distribution, part):
    """Warns once if `part` relies on an untested release of `distribution`.

    Args:
        distribution: str. `"keras"` or `"keras-tuner"`.
        part: str. What relies on its private API, for the message.

    Returns:
        Whether the installed version is of a checked series.
    """
    installed = Version(importlib.metadata.version(distribution))
    series = f"{installed.major}.{installed.minor}"
    if series in CHECKED[distribution]:
        return True
    warnings.warn(
        f"{part} uses private {distribution} APIs checked on "
        f"{', '.join(CHECKED[distribution])}.x, not on the installed {installed}: "
        f"if it fails, install {distribution}=={CHECKED[distribution][-1]}.* and "
        "report it.",
        UncheckedVersionWarning,
        stacklevel=2,
    )
    return False
