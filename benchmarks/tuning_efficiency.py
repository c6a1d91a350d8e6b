"""Hyperband against random search for the same total number of training epochs.

On the sentiment-rnn demo reviews (`$CNNRNN_HOME`'s cache, written on first
use), runs two `cnnrnn.tuning` searches of the same space (the default
sentiment-rnn space with one recurrent layer and at most 64 units and
embedding dimensions) per seed, in one run:

- `hyperband`: `max_epochs = E`, factor 3, one Hyperband iteration; its
  budget B is the sum over its trials of the epochs each one trained
  (`tuner/epochs - tuner/initial_epoch`: a trial promoted to the next round
  goes on from its parent's weights);
- `random`: `floor(B / E)` trials of E epochs each, so it spends at most
  the same budget (both totals are reported).

Early stopping is off (patience above E) so that every trial trains its
whole budget, and the best model is not retrained: only the search is timed.
Every search gets the same data splits; the seed changes the tuner's draws
and the weights. An untimed one-epoch search runs first, so that the first
timed search does not pay for writing the demo data and TensorFlow's start-up.

Per search it reports the best validation accuracy, the wall time of
`run_search`, the number of trials and of epochs trained, and the time spent
outside trials: wall time minus the sum of the tuner's per-trial times
(`trials.json` `seconds`: building and fitting the model, from the start to
the end of the trial), per trial and as a ratio to the mean trial time. That
time includes the search's one-off costs (loading the data, writing the
results and plots) as well as the tuner's own work between trials. Medians
over the seeds and the hyperband/random ratios are written to JSON, with the
1-minute load average at the start and the end (other work skews timings).

Usage:
    python benchmarks/tuning_efficiency.py [--max-epochs 9] [--seeds 3]
        [--work-dir DIR] [--output benchmarks/results/tuning_efficiency.json]
"""

import argparse
import json
import os
import pathlib
import statistics
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
from rich.console import Console  # noqa: E402

from cnnrnn import tuning  # noqa: E402
from cnnrnn.tuning.results import TRIALS_JSON  # noqa: E402

APP = "sentiment-rnn"
OBJECTIVE = "val_accuracy"
FACTOR = 3
SPACE = {
    "num_layers": 1,
    "units": {"values": [32, 64]},
    "embedding_dim": {"values": [32, 64]},
}
ALGORITHMS = ("hyperband", "random")


def job_table(algorithm, *, seed, epochs, max_trials):
    return {
        "app": APP,
        "search": {
            "algorithm": algorithm,
            "objective": OBJECTIVE,
            "seed": seed,
            "max_trials": max_trials,
            "hyperband_factor": FACTOR,
            "retrain_best": False,
        },
        "training": {"epochs": epochs, "early_stopping_patience": epochs + 1},
        "space": SPACE,
    }


def epochs_trained(trial, epochs):
    """Epochs a trial trained: a Hyperband round's share, else the full budget."""
    if trial["hyperband"]:
        return trial["hyperband"]["epochs"] - trial["hyperband"]["initial_epoch"]
    return epochs


def timed_search(table, output):
    job = tuning.make_job(table, output=output)
    started = time.perf_counter()
    summary = tuning.run_search(job, overwrite=True, console=Console(quiet=True))
    wall = time.perf_counter() - started
    trials = json.loads((output / TRIALS_JSON).read_text())
    epochs = table["training"]["epochs"]
    trial_seconds = sum(trial["seconds"] for trial in trials)
    outside_per_trial = (wall - trial_seconds) / len(trials)
    return {
        "best_val_accuracy": summary["best_score"],
        "search_wall_seconds": round(wall, 2),
        "trials": len(trials),
        "completed_trials": summary["completed"],
        "epochs_trained": sum(epochs_trained(trial, epochs) for trial in trials),
        "trial_seconds_sum": round(trial_seconds, 2),
        "mean_trial_seconds": round(trial_seconds / len(trials), 2),
        "outside_trials_seconds_per_trial": round(outside_per_trial, 2),
        "outside_trials_to_mean_trial_ratio": round(
            outside_per_trial * len(trials) / trial_seconds, 3
        ),
    }


def compare(seed, *, max_epochs, work_dir):
    """Hyperband, then random search with the epochs Hyperband spent."""
    hyperband = timed_search(
        job_table("hyperband", seed=seed, epochs=max_epochs, max_trials=1),
        work_dir / f"seed{seed}-hyperband",
    )
    random = timed_search(
        job_table(
            "random",
            seed=seed,
            epochs=max_epochs,
            max_trials=hyperband["epochs_trained"] // max_epochs,
        ),
        work_dir / f"seed{seed}-random",
    )
    return {"hyperband": hyperband, "random": random}


def warm_up(work_dir):
    """An untimed one-epoch search: the demo data and TensorFlow's start-up."""
    table = job_table("random", seed=0, epochs=1, max_trials=1)
    job = tuning.make_job(table, output=work_dir / "warm-up")
    tuning.run_search(job, overwrite=True, console=Console(quiet=True))


def medians(runs):
    return {key: statistics.median(run[key] for run in runs) for key in runs[0]}


def ratio(per_seed, key):
    return round(per_seed["hyperband"][key] / per_seed["random"][key], 3)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-epochs", type=int, default=9)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument(
        "--work-dir", type=pathlib.Path, help="search outputs (default: temporary)"
    )
    parser.add_argument(
        "--output",
        type=pathlib.Path,
        default=pathlib.Path("benchmarks/results/tuning_efficiency.json"),
    )
    args = parser.parse_args()
    load_at_start = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        work_dir = args.work_dir or pathlib.Path(tmp)
        warm_up(work_dir)
        per_seed = {
            seed: compare(seed, max_epochs=args.max_epochs, work_dir=work_dir)
            for seed in range(args.seeds)
        }
    table = job_table("hyperband", seed=0, epochs=args.max_epochs, max_trials=1)
    ratios = {
        key: {seed: ratio(runs, key) for seed, runs in per_seed.items()}
        for key in ("best_val_accuracy", "search_wall_seconds", "epochs_trained")
    }
    result = {
        "benchmark": "tuning_efficiency",
        "setup": {
            "app": APP,
            "data": "demo",
            "objective": OBJECTIVE,
            "space": tuning.make_job(table).space,
            "max_epochs": args.max_epochs,
            "hyperband_factor": FACTOR,
            "hyperband_iterations": 1,
            "early_stopping": False,
            "seeds": args.seeds,
            "cpus": os.cpu_count(),
            "keras_backend": keras.backend.backend(),
            "load_average_1min": {"start": load_at_start, "end": os.getloadavg()[0]},
        },
        "per_seed": per_seed,
        "median": {
            algorithm: medians([runs[algorithm] for runs in per_seed.values()])
            for algorithm in ALGORITHMS
        },
        "hyperband_to_random": {
            key: {**values, "median": statistics.median(values.values())}
            for key, values in ratios.items()
        },
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
