"""Hyperparameter search: Keras Tuner HyperModels, search jobs and their results.

The names below load on first use, so that `cnnrnn.tuning.cluster` (read by
the command line before any backend starts) imports no Keras.
"""

import importlib

_EXPORTS = {
    "dry_run": "cnnrnn.tuning.job",
    "load_job": "cnnrnn.tuning.job",
    "make_job": "cnnrnn.tuning.job",
    "run_search": "cnnrnn.tuning.search",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'cnnrnn.tuning' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
