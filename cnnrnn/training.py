"""The training path shared by every application: data, devices, fit, run directory."""

import datetime
import hashlib
import math
import pathlib
import shutil
import time

import keras
import numpy as np
from rich.console import Console

from cnnrnn import (
    __version__,
    devices,
    interrupts,
    multi_worker,
    plots,
    precompute,
    runs,
    tracking,
)
from cnnrnn.config import current_names
from cnnrnn.demos.common import ensure_demo_data
from cnnrnn.errors import CnnrnnError, RunDirError
from cnnrnn.progress import RichProgress

LEARNING_RATE_SCHEDULES = ("constant", "cosine")


def default_run_dir(app_name):
    """`runs/<app>-<date>-<time>` in the current directory."""
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    return pathlib.Path("runs") / f"{app_name}-{stamp}"


def resolve_source(app, config):
    """Returns `config` with its data source set, generating demo data if none."""
    if config["data"].get("source"):
        return config
    source = ensure_demo_data(app.name, app.write_demo_data) / app.demo_source
    return {**config, "data": {**config["data"], "source": str(source)}}


def load_splits(app, config, **overrides):
    """Loads the data a run configuration names, with optional loader overrides."""
    options = {**config["data"], **overrides}
    return app.load_data(options.pop("source"), **options)


def build_model(app, config):
    """Rebuilds the (untrained) model a run configuration describes."""
    return app.build_model(**config["model"], **config["model_from_data"])


def train(app, *, config, run_dir, overwrite=False, console=None):
    """Trains an application's model and writes a complete run directory.

    An interrupted run (same `run_dir`, same configuration) resumes from its
    last finished epoch. The run directory ends up holding `model.keras`,
    `config.json`, `metrics.json`, `history.csv` and `plots/`.

    Under a multi-worker strategy (TF_CONFIG naming several workers) every
    worker runs this same function with the same arguments. The batch size is
    the global one, split across the workers, which see the same seeded
    pipelines and take turns at their examples. The chief writes `run_dir`;
    every other worker writes its own scratch run directory beside it,
    `<run_dir>.worker-<index>` (its checkpoints, so that a restarted cluster
    resumes), removed when training finishes.

    Args:
        app: `cnnrnn.apps.App`. The application.
        config: dict. A configuration from `cnnrnn.config.resolve_config`.
        run_dir: path-like. Output folder.
        overwrite: bool. Replace a finished run in `run_dir`.
        console: `rich.console.Console` or None.

    Returns:
        The metrics dict written to `metrics.json`.
    """
    console = console or Console()
    config = resolve_source(app, config)
    training = config["training"]
    check_training_options(training)
    tracking.check_available(config)
    keras.utils.set_random_seed(training["seed"])
    setup = devices.configure(**config["devices"])
    role = devices.worker_role(setup.strategy)
    run_dir = pathlib.Path(run_dir)
    if not role.is_chief:
        run_dir = runs.worker_run_dir(run_dir, role.task_type, role.task_id)
    state = runs.check_run_dir(run_dir, config=config, overwrite=overwrite)
    console.print(
        f"[bold]{app.name}[/]: data {config['data']['source']} -> {run_dir}  "
        f"(backend {setup.backend}, {setup.precision}, {setup.strategy_name})",
        soft_wrap=True,
    )
    several_workers = role.num_workers > 1
    if several_workers:
        console.print(f"multi-worker: {_describe(role)} (writes to {run_dir})")
    splits = load_splits(app, config)
    _report_data(splits.info, console)
    if several_workers:
        splits = multi_worker.shard_by_example(splits)
    config = {
        **config,
        "data": {**config["data"], **splits.info.get("chosen", {})},
        "cnnrnn_version": __version__,
        "model_from_data": splits.model_args,
        "data_info": splits.info,
    }
    if app.model_info is not None:
        info = app.model_info(**config["model"], **config["model_from_data"])
        if info:
            config["model_info"] = info
            console.print(
                "model: " + "; ".join(f"{key}: {value}" for key, value in info.items())
            )
    with setup.scope():
        model = build_model(app, config)
        if several_workers:
            multi_worker.synchronize_batch_norm(model)
        encoder, head = model, model
        if training.get("precompute_features"):
            encoder, head = _feature_models(app, model, several_workers)
    runs.make_run_dir(run_dir, state)
    if state == "resume":
        console.print(f"Resuming the interrupted run in {run_dir}.")
    else:
        runs.write_json(run_dir / runs.CONFIG_FILE, config)

    tracker = tracking.Tracker(
        config, run_dir, resume=state == "resume", chief=role.is_chief
    )
    with tracker:
        started = time.perf_counter()
        fit = Fitter(head, splits, run_dir, training, console, tracker=tracker)
        if several_workers:
            multi_worker.check_same_progress(setup.strategy, fit)
        if not fit.phase_one_done.exists():
            if head is not model:
                fit.splits = precompute.feature_splits(
                    encoder, splits, seed=training["seed"]
                )
                console.print("Computed the encoder's features once (frozen encoder).")
            fit(description="training", initial_epoch=0, epochs=training["epochs"])
            runs.write_json(fit.phase_one_done, {"epochs": fit.epochs_done()})
        head.load_weights(fit.best_weights)  # a head shares the model's weights
        if training["fine_tune_epochs"] > 0:
            with setup.scope():  # the new optimizer's variables belong to the strategy
                prepared = app.prepare_fine_tuning and app.prepare_fine_tuning(
                    model, learning_rate=training["fine_tune_learning_rate"]
                )
            if prepared:
                first = runs.read_json(fit.phase_one_done)["epochs"]
                tuning = fit.fine_tuning(model, splits)
                tuning(
                    description="fine-tuning",
                    initial_epoch=first,
                    epochs=first + training["fine_tune_epochs"],
                )
                if tuning.best_weights.exists():  # it beat the first phase
                    model.load_weights(tuning.best_weights)
                else:
                    head.load_weights(fit.best_weights)
            else:
                console.print("This model has no backbone to fine-tune: skipped.")
        history = fit.history()
        metrics = {
            "monitor": fit.monitor,
            "epochs": fit.epochs_done(),
            "train_seconds": round(time.perf_counter() - started, 2),
            **_best_epoch(history, fit.monitor),
        }
        plots.plot_learning_curves(
            history, run_dir / runs.PLOTS_DIR / "learning_curves.png"
        )
        with runs.atomic_path(run_dir / runs.MODEL_FILE) as tmp:
            model.save(tmp)
        fingerprint = weights_fingerprint(model)
        if several_workers:
            # Evaluation needs no other worker; under the strategy, Keras's predict
            # would return every worker's outputs. Our own file, written just now.
            model = keras.saving.load_model(run_dir / runs.MODEL_FILE, safe_mode=False)
        split_name = evaluation_split_name(splits)
        if split_name is not None:
            metrics["evaluated_on"] = split_name
            metrics.update(evaluate(app, model, splits, split_name, config))
            for report in app.reports:
                metrics.update(report(model, splits, split_name, config, run_dir))

        metrics = {key: _plain(value) for key, value in metrics.items()}
        runs.write_json(run_dir / runs.METRICS_FILE, metrics)
        shutil.rmtree(run_dir / runs.CHECKPOINT_DIR, ignore_errors=True)
        tracker.finish(metrics)
        if several_workers:
            console.print(
                f"multi-worker: {_describe(role)} finished; "
                f"weights sha256 {fingerprint[:16]}"
            )
        if not role.is_chief:
            shutil.rmtree(run_dir)
        return metrics


def weights_fingerprint(model):
    """Returns a SHA-256 digest of a model's weights, to tell copies apart.

    Every worker of a multi-worker run prints its first 16 hex digits when it
    finishes: equal values mean the workers ended with identical weights.

    Args:
        model: `keras.Model`.

    Returns:
        str. 64 hex digits over the bytes of every weight, in `model.weights`
        order.
    """
    digest = hashlib.sha256()
    for weight in model.get_weights():
        digest.update(np.ascontiguousarray(weight).tobytes())
    return digest.hexdigest()


def _describe(role):
    """`"worker 1 of 2"`: a `devices.WorkerRole` for the console."""
    return f"{role.task_type} {role.task_id} of {role.num_workers}"


class Fitter:
    """Runs `model.fit` phases with resumable checkpoints and a shared history.

    The best weights (by validation loss, or training loss without a
    validation split) are kept in `checkpoints/best.weights.h5` across
    interruptions, and those of a fine-tuning phase in their own file only
    when they beat the first phase's; `history.csv` accumulates every epoch.
    """

    def __init__(
        self, model, splits, run_dir, training, console, *, tracker, phase="best"
    ):
        self.model = model
        self.splits = splits
        self.run_dir = run_dir
        self.training = training
        self.console = console
        self.tracker = tracker
        self.checkpoints = run_dir / runs.CHECKPOINT_DIR
        self.best_weights = self.checkpoints / f"{phase}.weights.h5"
        self.phase_one_done = self.checkpoints / "phase_one_done.json"
        self.history_path = run_dir / runs.HISTORY_FILE
        self.monitor = "val_loss" if splits.validation is not None else "loss"
        self.started = time.perf_counter()

    def fine_tuning(self, model, splits):
        """The fitter of the next phase: the whole `model` on `splits`.

        The first phase may have trained a head on precomputed features, so
        the fine-tuned model's best weights go to a file of their own.
        """
        fitter = Fitter(
            model,
            splits,
            self.run_dir,
            self.training,
            self.console,
            tracker=self.tracker,
            phase="best-fine-tuning",
        )
        fitter.started = self.started
        return fitter

    def history(self):
        if not self.history_path.exists():
            return {}
        return plots.read_history(self.history_path)

    def epochs_done(self):
        return len(self.history().get("epoch", []))

    def __call__(self, *, description, initial_epoch, epochs):
        self.checkpoints.mkdir(parents=True, exist_ok=True)
        best_so_far = self.history().get(self.monitor)
        callbacks = [
            keras.callbacks.BackupAndRestore(
                self.checkpoints / f"backup-{description}"
            ),
            keras.callbacks.ModelCheckpoint(
                self.best_weights,
                monitor=self.monitor,
                save_best_only=True,
                save_weights_only=True,
                initial_value_threshold=min(best_so_far) if best_so_far else None,
            ),
            keras.callbacks.EarlyStopping(
                monitor=self.monitor,
                patience=self.training["early_stopping_patience"],
            ),
            keras.callbacks.CSVLogger(self.history_path, append=True),
        ]
        if self.training["learning_rate_schedule"] == "cosine":
            callbacks.append(cosine_decay(self.model, initial_epoch, epochs))
        if self.training["max_minutes"] is not None:
            callbacks.append(TimeBudget(self.training["max_minutes"], self.started))
        callbacks += [*self.tracker.callbacks(), RaiseIfInterrupted()]
        progress = RichProgress(self.console, description=description)
        try:
            with interrupts.deferred():  # Ctrl-C between batches, not mid-checkpoint
                self.model.fit(
                    self.splits.train,
                    validation_data=self.splits.validation,
                    initial_epoch=initial_epoch,
                    epochs=epochs,
                    callbacks=[*callbacks, progress],
                    shuffle=False,  # the training split is shuffled by its pipeline
                    verbose=0,
                )
        finally:
            progress.close()  # also when interrupted, so the terminal is restored


class RaiseIfInterrupted(keras.callbacks.Callback):
    """Stops training at the next batch once Ctrl-C was pressed: it was held
    back while checkpoints were written, or fell in a finalizer (see
    `cnnrnn.interrupts`)."""

    def _check(self, *args, **kwargs):
        interrupts.check()

    on_train_batch_end = on_test_batch_end = on_epoch_begin = _check


class TimeBudget(keras.callbacks.Callback):
    """Stops training before an epoch that would end past a time budget.

    After each epoch, training stops when one more epoch (as long as the
    longest so far) would end more than `max_minutes` after `started`; the
    best weights so far are kept as usual. A resumed run gets a new budget.

    Args:
        max_minutes: float. The budget in minutes, positive.
        started: float. `time.perf_counter()` when the budget started.
    """

    def __init__(self, max_minutes, started):
        super().__init__()
        self.deadline = started + 60 * max_minutes
        self.longest = 0.0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch_started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        now = time.perf_counter()
        self.longest = max(self.longest, now - self.epoch_started)
        if now + self.longest > self.deadline:
            self.model.stop_training = True


def cosine_decay(model, first_epoch, end_epoch):
    """A callback that lowers the learning rate to 0 along half a cosine.

    The rate starts at the optimizer's rate now (before any backup is
    restored, so a resumed run decays from the same start) and reaches 0
    after `end_epoch`: a phase ends on small, steady steps.

    Args:
        model: compiled `keras.Model`.
        first_epoch: int. First epoch of the phase (0-based).
        end_epoch: int. Epoch at which the phase ends (exclusive).

    Returns:
        A `keras.callbacks.LearningRateScheduler`.
    """
    start = float(keras.ops.convert_to_numpy(model.optimizer.learning_rate))
    span = end_epoch - first_epoch

    def schedule(epoch, rate):
        return start * 0.5 * (1 + math.cos(math.pi * (epoch - first_epoch) / span))

    return keras.callbacks.LearningRateScheduler(schedule)


def _best_epoch(history, monitor):
    """The best epoch by `monitor` and the validation metrics it reached."""
    if monitor not in history:
        return {}
    values = history[monitor]
    best = min(range(len(values)), key=values.__getitem__)
    metrics = {"best_epoch": best + 1}
    for key, values in history.items():
        if key.startswith("val_"):
            metrics[f"best_{key}"] = values[best]
    return metrics


def _feature_models(app, model, several_workers):
    """`(encoder, head)` of a model whose frozen encoder's features are precomputed."""
    if several_workers:
        raise CnnrnnError(
            "training.precompute_features runs on one worker only: set "
            "training.precompute_features=false to train across several workers."
        )
    if app.feature_models is None:
        raise CnnrnnError(
            f"{app.name} has no frozen encoder to precompute features with: "
            "set training.precompute_features=false."
        )
    return app.feature_models(model)


def check_training_options(training):
    """Raises `CnnrnnError` for training options out of range."""
    counts = {"epochs": 1, "early_stopping_patience": 0, "fine_tune_epochs": 0}
    for key, minimum in counts.items():
        value = training[key]
        if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
            raise CnnrnnError(
                f"Received: {key}={value!r}. Expected an integer >= {minimum}."
            )
    schedule = training["learning_rate_schedule"]
    if schedule not in LEARNING_RATE_SCHEDULES:
        raise CnnrnnError(
            f"Received: learning_rate_schedule={schedule!r}. Expected one of "
            f"{', '.join(map(repr, LEARNING_RATE_SCHEDULES))}."
        )
    budget = training["max_minutes"]
    if budget is not None and (
        isinstance(budget, bool) or not isinstance(budget, int | float) or budget <= 0
    ):
        raise CnnrnnError(
            f"Received: max_minutes={budget!r}. Expected a positive number of "
            "minutes (leave it out for no time limit)."
        )
    rate = training["fine_tune_learning_rate"]
    if isinstance(rate, bool) or not isinstance(rate, int | float) or rate <= 0:
        raise CnnrnnError(
            f"Received: fine_tune_learning_rate={rate!r}. Expected a positive number."
        )


def evaluation_split_name(splits):
    """`"test"`, else `"validation"`, else None: the split to evaluate on."""
    for name in ("test", "validation"):
        if getattr(splits, name) is not None:
            return name
    return None


def evaluate(app, model, splits, split_name, config):
    """The model's metrics on one split, with the application's own metrics."""
    dataset = getattr(splits, split_name)
    metrics = model.evaluate(dataset, verbose=0, return_dict=True)
    if app.evaluation_metrics is not None:
        metrics.update(app.evaluation_metrics(model, splits, split_name, config))
    return metrics


def evaluate_run(run_dir, *, data=None, safe_mode=True):
    """Evaluates a finished run on its own held-out split or on other data.

    Args:
        run_dir: path-like. A run directory written by `train`.
        data: str or None. Another data source, evaluated whole with the
            run's data options (as `cnnrnn evaluate RUN --data DATA`), or None
            for the run's test split (its validation split if it has none).
        safe_mode: bool. Keras safe mode (see `load_run`). Defaults to True.

    Returns:
        A tuple `(config, split_name, metrics)`: the run's configuration, the
        split evaluated and its metrics as floats.
    """
    app, config, model = load_run(run_dir, safe_mode=safe_mode)
    options = app.evaluation_options(config)
    if data:
        options.update(source=data, validation_split=0.0, test_split=1.0)
    splits = load_splits(app, config, **options)
    split = evaluation_split_name(splits)
    metrics = evaluate(app, model, splits, split, config)
    return config, split, {key: float(value) for key, value in metrics.items()}


def _report_data(info, console):
    counts = info.get("num_examples", {})
    console.print(
        "examples: " + ", ".join(f"{split} {n}" for split, n in counts.items())
    )
    if info.get("chosen"):
        console.print(
            "chosen from the data: "
            + ", ".join(
                f"data.{key} = {value}" for key, value in info["chosen"].items()
            )
        )
    if info.get("num_skipped"):
        examples = "; ".join(info.get("skipped_files", [])[:3])
        console.print(
            f"[yellow]Skipped {info['num_skipped']} unreadable file(s)[/], "
            f"e.g. {examples}"
        )
    if info.get("num_converted"):
        console.print(f"Converted {info['num_converted']} image(s) to RGB.")
    counted = [
        f"{info[key]} {what}"
        for key, what in _COUNTED_PROBLEMS.items()
        if info.get(key)
    ]
    if counted:
        console.print(f"[yellow]Counted in the data:[/] {'; '.join(counted)}.")
    if info.get("classes_not_scored"):
        console.print(
            "[yellow]Too few examples to be scored:[/] class(es) "
            f"{', '.join(info['classes_not_scored'])} train but are missing from "
            "the validation or test split: give each class at least 3 examples."
        )


# What a loader counts but does not refuse (see each loader's `info`).
_COUNTED_PROBLEMS = {
    "num_replaced": "text(s) with bytes that are not UTF-8 (replaced)",
    "num_skipped_empty": "empty text(s) skipped",
    "num_missing_images": "caption(s) whose image is missing (skipped)",
    "num_outside_images": "image name(s) outside the image folder (skipped)",
    "num_empty_captions": "empty caption(s) skipped",
    "num_truncated": "caption(s) cut to max_length",
    "num_short_clips": "clip(s) shorter than num_frames (padded)",
    "num_filled": "empty cell(s) interpolated",
    "num_gaps": "gap(s) in time",
}


def _plain(value):
    """Turns NumPy/tensor scalars into JSON-serialisable Python numbers."""
    if isinstance(value, (str, int, float, bool, list, dict)) or value is None:
        return value
    return float(value)


def _check_written_by_this_or_an_older_version(run_dir, config):
    """Raises `RunDirError` for a run a newer cnnrnn wrote (unknown options)."""
    from packaging.version import InvalidVersion, Version

    written = config.get("cnnrnn_version")
    try:
        newer = written is not None and Version(written) > Version(__version__)
    except InvalidVersion:
        newer = False
    if newer:
        raise RunDirError(
            f"'{run_dir}' was written by cnnrnn {written}, newer than this one "
            f"({__version__}): upgrade cnnrnn (pip install -U cnnrnn, or pull the "
            "checkout) to use it."
        )


def load_run(run_dir, *, safe_mode=True):
    """Loads a finished run: its application, configuration and trained model.

    Args:
        run_dir: path-like. A run directory written by `train`.
        safe_mode: bool. Keras safe mode: refuse model files that would run
            arbitrary code (Lambda layers). Defaults to True.

    Returns:
        A tuple `(app, config, model)`.

    Raises:
        RunDirError: when `run_dir` is not a finished run or its
            `config.json` is missing, not valid JSON or incomplete.
    """
    from cnnrnn.apps import check_backend, get_app

    run_dir = pathlib.Path(run_dir)
    if not runs.is_finished(run_dir):
        raise RunDirError(
            f"'{run_dir}' is not a finished cnnrnn run (no {runs.MODEL_FILE}): "
            "train one with `cnnrnn train APP --output DIR`, or check the path."
        )
    config = current_names(runs.read_run_config(run_dir))
    _check_written_by_this_or_an_older_version(run_dir, config)
    app = get_app(config["app"])
    check_backend(app)
    getattr(app.build_model, "target", None)  # imports the factory's module:
    # the custom layers it defines register with Keras, which then loads them.
    model = keras.saving.load_model(run_dir / runs.MODEL_FILE, safe_mode=safe_mode)
    return app, config, model
