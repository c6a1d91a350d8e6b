"""A search's results: every trial as CSV and JSON, the best configuration, plots."""

import csv
import io
import time

from cnnrnn import plots, runs
from cnnrnn.tuning.space import from_choice

TRIALS_CSV = "trials.csv"
TRIALS_JSON = "trials.json"
BEST_CONFIG_FILE = "best_config.json"
SUMMARY_FILE = "summary.json"
TIMES_FILE = "trial_times.json"


class TrialClock:
    """When, how long and where every trial ran, in a JSON file that survives a resume.

    Args:
        path: `pathlib.Path`. The JSON file.
    """

    def __init__(self, path):
        self.path = path
        self._records = runs.read_json(path) if path.exists() else {}
        self._running = {}

    def start(self, trial_id, *, worker=None):
        self._running[trial_id] = (time.perf_counter(), time.time(), worker)

    def cancel(self, trial_id):
        """Forgets a running trial (its worker was lost; it will run again)."""
        self._running.pop(trial_id, None)

    def stop(self, trial_id):
        if trial_id not in self._running:  # started before a restart of the chief
            return
        started, started_at, worker = self._running.pop(trial_id)
        self._records[trial_id] = {
            "seconds": round(time.perf_counter() - started, 3),
            "started_at": round(started_at, 3),  # Unix time
            "worker": worker,
        }
        runs.write_json(self.path, self._records)

    def records(self):
        """`{trial_id: {"seconds", "started_at", "worker"}}` of the ended trials."""
        return dict(self._records)


def trial_records(oracle, times):
    """One dict per trial, in trial order: id, status, values, metrics, reason.

    Args:
        oracle: `keras_tuner.Oracle`. The search's oracle.
        times: dict. `TrialClock.records()`.
    """
    records = []
    for trial_id in sorted(oracle.trials):
        trial = oracle.trials[trial_id]
        values = {
            name: value
            for name, value in trial.hyperparameters.values.items()
            if not name.startswith("tuner/")
        }
        metrics = {
            name: _number(trial.metrics.get_best_value(name))
            for name in trial.metrics.metrics
        }
        records.append(
            {
                "trial_id": trial_id,
                "status": str(trial.status),
                "score": _number(trial.score),
                "epochs": trial.best_step + 1 if metrics else None,
                "seconds": times.get(trial_id, {}).get("seconds"),
                "worker": times.get(trial_id, {}).get("worker"),
                "hyperparameters": values,
                "metrics": metrics,
                "message": last_line(trial.message) if trial.message else None,
                "hyperband": {
                    name.removeprefix("tuner/"): value
                    for name, value in trial.hyperparameters.values.items()
                    if name.startswith("tuner/")
                }
                or None,
            }
        )
    return records


def _number(value):
    """A NumPy scalar score as a plain float (None stays None)."""
    return None if value is None else float(value)


def export(job, config, trials, output):
    """Writes `trials.csv`, `trials.json`, `best_config.json`, `summary.json`, plots.

    Returns:
        The summary dict: the objective, trial counts and the best trial.
    """
    objective = job.search["objective"]
    completed = [t for t in trials if t["status"] == "COMPLETED"]
    pick = min if job.direction == "min" else max
    best = pick(completed, key=lambda t: t["score"]) if completed else None
    runs.write_json(output / TRIALS_JSON, trials)
    with runs.atomic_path(output / TRIALS_CSV) as tmp:
        tmp.write_text(_trials_csv(trials, objective))
    summary = {
        "app": job.app.name,
        "algorithm": job.search["algorithm"],
        "objective": objective,
        "direction": job.direction,
        "trials": len(trials),
        "completed": len(completed),
        "failed": sum(t["status"] == "FAILED" for t in trials),
        "best_trial": best and best["trial_id"],
        "best_score": best and best["score"],
        "best_hyperparameters": best and best["hyperparameters"],
        "search_seconds": round(sum(t["seconds"] or 0 for t in trials), 2),
    }
    if best is not None:
        best_config = {
            "app": job.app.name,
            "data": config["data"],
            "model": {**config["model"], **best["hyperparameters"]},
            "training": config["training"],
            "inference": config.get("inference", {}),
            "devices": config["devices"],
            "tracking": config["tracking"],
        }
        best_config["model"] = {
            name: from_choice(value) for name, value in best_config["model"].items()
        }
        runs.write_json(output / BEST_CONFIG_FILE, best_config)
        folder = output / runs.PLOTS_DIR
        plots.plot_search_objective(
            trials, objective, job.direction, folder / "objective.png"
        )
        plots.plot_search_hyperparameters(
            trials, objective, folder / "hyperparameters.png"
        )
    runs.write_json(output / SUMMARY_FILE, summary)
    return summary


def last_line(message):
    """The last non-empty line of a trial's message (its error, without traceback)."""
    lines = [line.strip() for line in (message or "").splitlines() if line.strip()]
    return lines[-1] if lines else ""


def _trials_csv(trials, objective):
    names = sorted({name for t in trials for name in t["hyperparameters"]})
    placed = any(t["worker"] for t in trials)  # a distributed search
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(
        ["trial_id", "status", objective, "epochs", "seconds"]
        + ["worker"] * placed
        + [*names, "message"]
    )
    for t in trials:
        writer.writerow(
            [t["trial_id"], t["status"], "" if t["score"] is None else t["score"]]
            + [t["epochs"] or "", t["seconds"] or ""]
            + [t["worker"]] * placed
            + [t["hyperparameters"].get(name, "") for name in names]
            + [t["message"] or ""]
        )
    return buffer.getvalue()
