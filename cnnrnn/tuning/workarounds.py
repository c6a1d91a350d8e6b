"""Workarounds for Keras Tuner 1.4 behaviours that hurt resumable searches.

Each is small and applied by `cnnrnn.tuning.search` only; tests in
`tests/tuning/test_search.py` kill real searches and resume them to show
they are needed and work.
"""

import functools
import json
import os

import keras_tuner
from keras_tuner.src import utils as keras_tuner_utils

from cnnrnn import private_api

_FINISHED = ("COMPLETED", "FAILED")


def atomic_state_files():
    """Makes Keras Tuner write its JSON state files atomically.

    Keras Tuner writes `oracle.json`, `tuner0.json` and every `trial.json`
    in place, so a search killed while writing one leaves a truncated file
    that stops the search from resuming ("Expecting value"). Local files are
    now written to a temporary file and renamed over the old one.
    """
    if getattr(keras_tuner_utils.save_json, "atomic", False):
        return
    private_api.check("keras-tuner", "Resumable searches")
    original = keras_tuner_utils.save_json

    def save_json(path, obj):
        if "://" in str(path):  # remote storage: Keras Tuner's own writer
            return original(path, obj)
        text = json.dumps(obj)
        temporary = f"{path}.tmp-{os.getpid()}"
        with open(temporary, "w") as handle:
            handle.write(text)
        os.replace(temporary, path)
        return text

    save_json.atomic = True
    keras_tuner_utils.save_json = save_json


def repair_reloaded_oracle(oracle):
    """Fixes the state of an oracle reloaded after its search was killed.

    A killed search reloads its running trials into a queue to run again. A
    trial killed after it was saved finished but before `oracle.json` was
    saved is in that queue too, and would run again: it is taken out. A grid
    search's queue of points to explore is rebuilt (see
    `_restore_grid_queue`).
    """
    for trial_id in list(oracle._retry_queue):
        trial = oracle.trials[trial_id]
        if trial.status in _FINISHED:
            oracle._retry_queue.remove(trial_id)
            if trial_id not in oracle.end_order:
                oracle.end_order.append(trial_id)
            oracle._record_values(trial)
    _restore_grid_queue(oracle)


def start_with_defaults(oracle):
    """Makes the first trial of a search the factory's defaults (the template).

    Keras Tuner's grid search starts with the defaults, but its random,
    Bayesian and Hyperband oracles draw the first trial at random: their
    `_random_values` (which proposes new values) is wrapped to return the
    defaults while the oracle has no trial yet.
    """
    random_values = oracle._random_values

    def defaults_first():
        if oracle.trials:
            return random_values()
        return {hp.name: hp.default for hp in oracle.hyperparameters.space}

    oracle._random_values = defaults_first


def _restore_grid_queue(oracle):
    """Lets a reloaded grid search go on (a Keras Tuner 1.4 bug workaround).

    `GridSearchOracle` does not save the order of its trials and its queue of
    trials whose next grid point is still to be proposed, so a reloaded grid
    search stops at once. Both are rebuilt from the reloaded trials: ordered
    by their values, every one queued (already tried points are skipped).
    """
    if not isinstance(oracle, keras_tuner.oracles.GridSearchOracle):
        return
    if not oracle.trials or oracle._populate_next:
        return
    order = functools.cmp_to_key(
        lambda a, b: oracle._compare(
            oracle.trials[a].hyperparameters.values,
            oracle.trials[b].hyperparameters.values,
        )
    )
    for trial_id in sorted(oracle.trials, key=order):
        oracle._ordered_ids.insert(trial_id)
        oracle._populate_next.append(trial_id)
