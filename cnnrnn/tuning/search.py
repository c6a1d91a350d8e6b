"""Runs a search job with Keras Tuner: resumable, with failures recorded, then
exports the trials, the best configuration and the best model's run directory."""

import json
import shutil
import time

import keras
import keras_tuner
from rich.console import Console
from rich.table import Table

from cnnrnn import devices, runs, tracking, training
from cnnrnn.apps import check_backend
from cnnrnn.config import current_names
from cnnrnn.errors import CnnrnnError
from cnnrnn.progress import RichProgress
from cnnrnn.tuning import certificates, cluster, distributed, results, workarounds
from cnnrnn.tuning.hypermodels import FactoryHyperModel

TUNER_DIR = "tuner"
JOB_RECORD = "job.json"
BEST_RUN_DIR = "best"
_TUNERS = {
    "random": keras_tuner.RandomSearch,
    "bayesian": keras_tuner.BayesianOptimization,
    "hyperband": keras_tuner.Hyperband,
    "grid": keras_tuner.GridSearch,
}


def run_search(
    job,
    *,
    overwrite=False,
    console=None,
    role=None,
    worker_timeout=cluster.WORKER_TIMEOUT_SECONDS,
):
    """Runs a search job, alone or as the chief or a worker of a distributed one.

    The data pipeline is built once for the whole search. Killed and run
    again with the same job, the search resumes where it stopped: Keras
    Tuner reloads its trials from `output/tuner`, so no finished trial runs
    again. A trial that fails (out of memory, a loss that is not finite, a
    model over `max_params`) is recorded as failed with its reason and the
    search goes on.

    In a distributed search (see `cnnrnn.tuning.distributed`) the chief
    serves the oracle, runs no trial, and writes the results of every
    worker's trials; workers run trials and write nothing but Keras Tuner's
    checkpoints under `output/tuner`.

    Args:
        job: `cnnrnn.tuning.job.Job`.
        overwrite: bool. Start again in an output folder that holds another
            search. Defaults to False.
        console: `rich.console.Console` or None.
        role: `cnnrnn.tuning.cluster.Role` or None (a search alone).
        worker_timeout: float. On the chief: seconds without a worker's
            heartbeat before its trial goes back to the queue.

    Returns:
        The summary dict written to `output/summary.json`; on a worker, a
        dict with the worker's name and the trials it ran.

    Raises:
        CnnrnnError: when the active backend cannot run the application, the
            output folder holds a different search (and not `overwrite`), the
            job cannot run on its data, or too many trials failed in a row.
    """
    check_backend(job.app)
    console = console or Console()
    role = role or cluster.Role()
    output = job.output
    workarounds.atomic_state_files()
    tracking.check_available(job.config)
    config = training.resolve_source(job.app, job.config)
    if role.kind == "worker":
        state = _check_worker_output(output, job)
    else:
        state = _check_output(output, job, overwrite)
    keras.utils.set_random_seed(job.search["seed"])
    setup = devices.configure(**config["devices"])
    console.print(
        f"[bold]search[/] {job.app.name}{_role_label(role)}: "
        f"{job.search['algorithm']}, objective {job.search['objective']} "
        f"({job.direction}), data {config['data']['source']} -> {output}",
        soft_wrap=True,
    )
    splits = training.load_splits(job.app, config)  # once for every trial
    if splits.validation is None and job.search["objective"].startswith("val_"):
        raise CnnrnnError(
            f"The objective {job.search['objective']!r} needs a validation split: "
            "set data.validation_split above 0, or a training-metric objective."
        )
    if role.kind == "worker":
        distributed.wait_for_chief(role, console.print)
        state = _check_worker_output(output, job)  # the chief may have made it
    _start_output(output, job, state)  # only once the data loads
    tracker = tracking.SearchTracker(config, output, worker_id=role.worker_id)
    tracker.start()  # before the chief serves: its workers find the MLflow run
    hypermodel = FactoryHyperModel(
        job.app,
        model_options=config["model"],
        model_from_data=splits.model_args,
        space=job.space,
        trial_callbacks=lambda: [
            RichProgress(console, description=tuner.trial_label),
            *tracker.trial_callbacks(),
        ],
    )
    with role.environment():
        tuner = _make_tuner(job, hypermodel, output / TUNER_DIR, console, setup)
        tuner.tracker = tracker
        if role.kind == "worker":
            distributed.prepare_worker(tuner.oracle, role)
        else:
            say = None if role.kind == "alone" else _chief_say(console)
            clock = results.TrialClock(output / results.TIMES_FILE)
            chief = distributed.ChiefOracle(
                tuner.oracle, clock, say, worker_timeout=worker_timeout
            )
        if role.kind == "chief":
            _serve(tuner, chief, role, console)
        else:
            callbacks = [_early_stopping(job, config), *_hparams_logs(config, output)]
            tuner.search(
                splits.train,
                validation_data=splits.validation,
                epochs=config["training"]["epochs"],
                callbacks=callbacks,
                shuffle=False,  # the training split is shuffled by its pipeline
                verbose=0,
            )
    if role.kind == "worker":
        return {"worker": role.worker_id, "trials_run": tuner.trials_run}
    if chief.failure is not None:
        raise CnnrnnError(
            f"The search stopped after {job.search['max_consecutive_failed_trials']} "
            f"failed trials in a row (see {output / results.TRIALS_CSV} for why): "
            "fix the job, or raise search.max_consecutive_failed_trials."
        )
    trials = results.trial_records(tuner.oracle, clock.records())
    summary = results.export(job, config, trials, output)
    _print_trials(trials, job, console)
    if job.search["retrain_best"] and summary["best_trial"] is not None:
        summary["best_run"] = _retrain_best(job, output, console)
        runs.write_json(output / results.SUMMARY_FILE, summary)
    tracker.finish(summary)
    return summary


def _early_stopping(job, config):
    return keras.callbacks.EarlyStopping(
        monitor=job.search["objective"],
        mode=job.direction,
        patience=config["training"]["early_stopping_patience"],
    )


def _role_label(role):
    if role.kind == "chief":
        return " (chief)"
    if role.kind == "worker":
        return f" (worker {role.worker_id}, chief {role.address})"
    return ""


def _chief_say(console):
    return lambda line: console.print(f"[dim]{time.strftime('%H:%M:%S')}[/] {line}")


def _serve(tuner, chief, role, console):
    """Serves the oracle until every trial has run, saying where it listens."""
    tuner.oracle.verbose = 0  # the chief prints its own lines
    tuner.save()
    if role.tls_cert:
        where = "TLS, " + ("token required" if role.token else "no token")
    elif role.token:
        where = "token required, not encrypted"
    else:
        where = "no token, no TLS: keep this port on a private network"
    if cluster.is_loopback(role.host):
        where += (
            "; loopback only: workers on other machines cannot reach it, pass "
            "--oracle 0.0.0.0:PORT (or this machine's address) to serve them"
        )
    console.print(f"Oracle listening on {role.address} ({where}).", soft_wrap=True)
    tls = role.tls_cert and (
        certificates.read_pem(role.tls_cert, "Certificate", "--tls-cert"),
        certificates.read_pem(role.tls_key, "Key", "--tls-key"),
    )
    chief.serve(role.host, role.port, role.token, tls)


def _hparams_logs(config, output):
    """A TensorBoard callback, which Keras Tuner turns into HParams logs per
    trial in `output/logs/<trial>`: where TensorBoard is installed, and on the
    tensorflow backend (Keras Tuner's condition)."""
    if not config["tracking"]["tensorboard"] or not tracking.has_tensorboard():
        return []
    if keras.backend.backend() != "tensorflow":
        return []
    return [tracking.tensorboard_callback(output / tracking.LOGS_DIR)]


def _make_tuner(job, hypermodel, directory, console, setup):
    search = job.search
    base = _TUNERS[search["algorithm"]]
    reporting = type(f"Cnnrnn{base.__name__}", (_TrialReporting, base), {})
    options = {
        "objective": keras_tuner.Objective(search["objective"], job.direction),
        "seed": search["seed"],
        "max_retries_per_trial": 0,
        "max_consecutive_failed_trials": search["max_consecutive_failed_trials"],
        "executions_per_trial": search["executions_per_trial"],
        "max_model_size": search["max_params"],
        "directory": str(directory.parent),
        "project_name": directory.name,
        "overwrite": False,  # resume: reload the trials already run
    }
    if setup.strategy_name != "one_device":
        options["distribution_strategy"] = setup.strategy
    if search["algorithm"] == "hyperband":
        options.update(
            max_epochs=job.config["training"]["epochs"],
            factor=search["hyperband_factor"],
        )
    else:
        options["max_trials"] = search["max_trials"]
    tuner = reporting(hypermodel, **options)
    tuner.console = console
    if not tuner._is_worker():  # a worker's oracle is the chief's, over gRPC
        workarounds.repair_reloaded_oracle(tuner.oracle)
        workarounds.start_with_defaults(tuner.oracle)
    return tuner


class _TrialReporting:
    """Prints every trial, sends heartbeats on a worker, frees memory after each."""

    trial_label = "trial"

    def on_search_begin(self):
        super().on_search_begin()
        self.trials_run = []

    def on_trial_begin(self, trial):
        super().on_trial_begin(trial)
        self.trial_label = f"trial {trial.trial_id}"
        self.trials_run.append(trial.trial_id)
        self.heartbeat = (
            distributed.Heartbeat(self.oracle, trial.trial_id)
            if self._is_worker()
            else None
        )
        values = {
            name: value
            for name, value in trial.hyperparameters.values.items()
            if not name.startswith("tuner/")
        }
        shown = ", ".join(f"{name}={_short(value)}" for name, value in values.items())
        self.console.print(f"[bold]trial {trial.trial_id}[/]: {shown}", soft_wrap=True)
        self.tracker.trial_begin(trial.trial_id, values)

    def _configure_tensorboard_dir(self, callbacks, trial, execution=0):
        # Keras Tuner imports TensorBoard here on the TensorFlow backend even
        # without a TensorBoard callback, and TensorBoard is an optional extra.
        if any(isinstance(c, keras.callbacks.TensorBoard) for c in callbacks):
            super()._configure_tensorboard_dir(callbacks, trial, execution)

    def on_trial_end(self, trial):
        if self.heartbeat is not None:
            self.heartbeat.stop()
        super().on_trial_end(trial)
        trial = self.oracle.get_trial(trial.trial_id)
        self.tracker.trial_end(trial.status, trial.score)
        if trial.status == keras_tuner.engine.trial.TrialStatus.COMPLETED:
            self.console.print(f"  -> {self.oracle.objective.name} {trial.score:.4f}")
        else:
            self.console.print(
                f"  -> [red]{trial.status}[/]: {results.last_line(trial.message)}"
            )
        keras.backend.clear_session(free_memory=True)


def _check_output(output, job, overwrite):
    """Returns `"resume"` when `output` holds this same search, else `"new"`.

    Raises:
        CnnrnnError: when `output` holds something else and not `overwrite`.
    """
    existing = output / JOB_RECORD
    if existing.exists() and not overwrite:
        if runs.read_json(existing) != _job_record(job):
            raise CnnrnnError(
                f"'{output}' holds the results of a different search: pass "
                "--overwrite to replace them, or choose another output folder."
            )
        return "resume"
    if output.exists() and any(output.iterdir()) and not overwrite:
        raise CnnrnnError(
            f"'{output}' is not empty and holds no cnnrnn search: choose "
            "another output folder, or pass --overwrite to replace it."
        )
    return "new"


def _check_worker_output(output, job):
    """A worker's check: `output` may hold this job's search, never another.

    Returns:
        `"worker"`.

    Raises:
        CnnrnnError: when `output` holds a different search.
    """
    existing = output / JOB_RECORD
    if existing.exists() and runs.read_json(existing) != _job_record(job):
        raise CnnrnnError(
            f"'{output}' holds a different search than this worker's job: run "
            "every worker with the chief's job file and output folder."
        )
    return "worker"


def _start_output(output, job, state):
    """Makes the output folder of a new search (replacing what was there)."""
    if state == "worker":  # shared with the chief, or this machine's own
        output.mkdir(parents=True, exist_ok=True)
        return
    if state == "resume":
        return
    if output.exists():
        shutil.rmtree(output)
    output.mkdir(parents=True)
    runs.write_json(output / JOB_RECORD, _job_record(job))


def _job_record(job):
    return json.loads(json.dumps(job.record(), default=str))


def _retrain_best(job, output, console):
    """Trains the best configuration into `output/best` (resumable)."""
    run_dir = output / BEST_RUN_DIR
    if runs.is_finished(run_dir):
        return str(run_dir)
    config = current_names(runs.read_json(output / results.BEST_CONFIG_FILE))
    config = {**config, "app": job.app.name}
    console.print(f"Training the best configuration into {run_dir}.")
    training.train(job.app, config=config, run_dir=run_dir, console=console)
    return str(run_dir)


def _print_trials(trials, job, console):
    objective = job.search["objective"]
    placed = any(t["worker"] for t in trials)  # a distributed search
    columns = ["trial", "status", objective, "epochs", "seconds"]
    table = Table(*columns, *["worker"] * placed, title="trials")
    for trial in trials:
        score = trial["score"]
        table.add_row(
            trial["trial_id"],
            trial["status"],
            "" if score is None else f"{score:.4f}",
            str(trial["epochs"] or ""),
            f"{trial['seconds']:.1f}" if trial["seconds"] else "",
            *[trial["worker"] or ""] * placed,
        )
    console.print(table)


def _short(value):
    return f"{value:.3g}" if isinstance(value, float) else str(value)
