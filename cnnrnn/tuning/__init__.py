"""Hyperparameter search: Keras Tuner HyperModels, search jobs and their results."""

from cnnrnn.tuning.job import load_job, make_job
from cnnrnn.tuning.search import dry_run, run_search

__all__ = ["dry_run", "load_job", "make_job", "run_search"]
