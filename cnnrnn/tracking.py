"""Experiment tracking: TensorBoard logs of every run, and MLflow on request.

TensorBoard (`tensorboard --logdir RUN_DIR/logs`): written with `tf.summary`
(part of TensorFlow), so no extra package is needed to write them; viewing
them needs `pip install tensorboard`. A run's `logs/` holds, in `train/` and
`validation/`, the epoch metrics and learning rate (Keras's `TensorBoard`
callback), and in `report/` what the run ends with: its test metrics as
scalars, its plots as images and its examples (captions, generated text) as
text.

MLflow (`tracking.mlflow = true`, `--track mlflow`): one MLflow run per
training run, in `tracking.mlflow_uri` (by default `sqlite:///mlflow.db` in
the working directory, with the artifacts in `./mlruns`, MLflow's own
defaults), with the configuration as parameters, the metrics of every epoch,
the final metrics, and the run directory's files as artifacts.
An interrupted run that resumes continues its MLflow run (its id is kept in
`RUN_DIR/mlflow_run.json`).
"""

import importlib.util
import pathlib

import keras
import numpy as np
from PIL import Image

from cnnrnn import runs
from cnnrnn.config import TRACKING_DEFAULTS
from cnnrnn.errors import CnnrnnError

LOGS_DIR = "logs"
REPORT_DIR = "report"
MLFLOW_RUN_FILE = "mlflow_run.json"
# The configuration sections logged as MLflow parameters.
_PARAMETER_SECTIONS = ("data", "model", "training", "inference")


def has_tensorboard():
    """Whether the `tensorboard` package (the viewer, and HParams) is installed."""
    return importlib.util.find_spec("tensorboard") is not None


def tensorboard_callback(log_dir):
    """Keras's TensorBoard callback: metrics and learning rate per epoch."""
    return keras.callbacks.TensorBoard(
        log_dir=str(log_dir),
        update_freq="epoch",
        write_graph=False,  # Keras 3 writes no graph yet
        profile_batch=0,
    )


def log_report(run_dir, metrics):
    """Writes a finished run's test metrics, plots and examples to `logs/`.

    Args:
        run_dir: path-like. The run directory.
        metrics: dict. The run's `metrics.json`: its numbers become scalars
            at the last epoch; an `examples_file` (or `samples_file`) it
            names becomes text.
    """
    import tensorflow as tf

    run_dir = pathlib.Path(run_dir)
    step = int(metrics.get("epochs", 0))
    writer = tf.summary.create_file_writer(str(run_dir / LOGS_DIR / REPORT_DIR))
    with writer.as_default():
        for name, value in _numbers(metrics).items():
            tf.summary.scalar(f"final/{name}", value, step=step)
        for plot in sorted((run_dir / runs.PLOTS_DIR).glob("*.png")):
            with Image.open(plot) as image:
                pixels = np.asarray(image.convert("RGB"))[None]
            tf.summary.image(f"plots/{plot.stem}", pixels, step=step)
        for key in ("examples_file", "samples_file"):
            if key in metrics:
                text = (run_dir / metrics[key]).read_text(encoding="utf-8")
                # TensorBoard shows text as Markdown: keep the lines as they are.
                tf.summary.text(key, "```\n" + text + "\n```", step=step)
    writer.close()


class Tracker:
    """Where one training run is logged besides its run directory.

    Use it as a context manager around the training: `callbacks()` go to
    every `fit`, `finish(metrics)` ends a finished run. Leaving the block on
    an exception ends the MLflow run as `KILLED` (interrupted: it resumes)
    or `FAILED`.

    Args:
        config: dict. The run's configuration (its `tracking` section says
            what to log).
        run_dir: `pathlib.Path`. The run directory.
        resume: bool. The run resumes an interrupted one.
        chief: bool. This process writes the run (not another worker of a
            multi-worker run, which logs nothing to MLflow).
    """

    def __init__(self, config, run_dir, *, resume, chief=True):
        self.options = {**TRACKING_DEFAULTS, **config.get("tracking", {})}
        self.config = config
        self.run_dir = run_dir
        self.resume = resume
        self.mlflow = None
        if self.options["mlflow"] and chief:
            self.mlflow = _import_mlflow()

    def __enter__(self):
        if self.mlflow is not None:
            self._start_mlflow_run()
        return self

    def __exit__(self, kind, error, trace):
        if self.mlflow is not None and self.mlflow.active_run() is not None:
            status = "FINISHED"
            if kind is not None:
                interrupted = issubclass(kind, KeyboardInterrupt)
                status = "KILLED" if interrupted else "FAILED"
            self.mlflow.end_run(status=status)
        return False

    def callbacks(self):
        """The Keras callbacks that log each epoch."""
        found = []
        if self.options["tensorboard"]:
            found.append(tensorboard_callback(self.run_dir / LOGS_DIR))
        if self.mlflow is not None:
            found.append(MlflowEpochs(self.mlflow))
        return found

    def finish(self, metrics):
        """Logs what a finished run ends with: final metrics, reports, files."""
        if self.options["tensorboard"]:
            log_report(self.run_dir, metrics)
        if self.mlflow is not None:
            self.mlflow.log_metrics(_numbers(metrics, prefix="final_"))
            _log_run_files(self.mlflow, self.run_dir)

    def _start_mlflow_run(self):
        mlflow, options = self.mlflow, self.options
        _set_experiment(mlflow, options, self.config)
        saved = self.run_dir / MLFLOW_RUN_FILE
        if self.resume and saved.is_file():
            mlflow.start_run(run_id=runs.read_json(saved)["run_id"])
            return
        run = mlflow.start_run(run_name=self.run_dir.name)
        mlflow.log_params(flat_parameters(self.config))
        mlflow.set_tag("cnnrnn.run_dir", str(self.run_dir.resolve()))
        runs.write_json(
            saved, {"run_id": run.info.run_id, "uri": options["mlflow_uri"]}
        )


class SearchTracker:
    """A search in MLflow: one parent run, one nested run per trial.

    The parent run's id is kept in `OUTPUT/mlflow_run.json`: a resumed search
    continues it, and the workers of a distributed search (which start once
    the chief serves) put their trials under it, tagged with their name.

    Args:
        config: dict. The search's configuration (its `tracking` section).
        output: `pathlib.Path`. The search's output folder.
        worker_id: str or None. The worker's name in a distributed search.
    """

    def __init__(self, config, output, *, worker_id=None):
        self.options = {**TRACKING_DEFAULTS, **config.get("tracking", {})}
        self.config = config
        self.output = output
        self.worker_id = worker_id
        self.mlflow = _import_mlflow() if self.options["mlflow"] else None
        self.parent_id = None

    def start(self):
        """Starts (or continues) the parent run; on a worker, finds it."""
        if self.mlflow is None:
            return
        mlflow, options = self.mlflow, self.options
        experiment = _set_experiment(mlflow, options, self.config)
        saved = self.output / MLFLOW_RUN_FILE
        if saved.is_file():
            self.parent_id = runs.read_json(saved)["run_id"]
            return
        client = mlflow.MlflowClient()
        run = client.create_run(
            experiment.experiment_id,
            run_name=f"search {self.output.name}",
            tags={"cnnrnn.search": str(self.output.resolve())},
        )
        self.parent_id = run.info.run_id
        for name, value in flat_parameters(self.config).items():
            client.log_param(self.parent_id, name, value)
        runs.write_json(saved, {"run_id": self.parent_id, "uri": options["mlflow_uri"]})

    def trial_begin(self, trial_id, hyperparameters):
        """Starts the trial's nested run, with its hyperparameters."""
        if self.mlflow is None:
            return
        self.mlflow.start_run(
            run_name=f"trial {trial_id}",
            parent_run_id=self.parent_id,
            tags={"cnnrnn.trial": trial_id, "cnnrnn.worker": self.worker_id or ""},
        )
        self.mlflow.log_params({name: str(v) for name, v in hyperparameters.items()})

    def trial_callbacks(self):
        """The callbacks of a trial's fit: its epochs in its nested run."""
        return [] if self.mlflow is None else [MlflowEpochs(self.mlflow)]

    def trial_end(self, status, score):
        """Ends the trial's nested run with its objective's final value."""
        if self.mlflow is None or self.mlflow.active_run() is None:
            return
        if score is not None:
            self.mlflow.log_metric("score", float(score))
        finished = status == "COMPLETED"
        self.mlflow.end_run(status="FINISHED" if finished else "FAILED")

    def finish(self, summary):
        """Logs the search's results to the parent run and ends it."""
        if self.mlflow is None:
            return
        client = self.mlflow.MlflowClient()
        for name, value in _numbers(summary).items():
            client.log_metric(self.parent_id, name, value)
        for path in sorted(self.output.glob("*.json")):
            client.log_artifact(self.parent_id, str(path))
        if (self.output / "plots").is_dir():
            client.log_artifacts(self.parent_id, str(self.output / "plots"), "plots")
        client.set_terminated(self.parent_id, status="FINISHED")


class MlflowEpochs(keras.callbacks.Callback):
    """Logs every epoch's metrics (and learning rate) to the active MLflow run.

    Synchronously: some 4 ms an epoch into a SQLite store, where MLflow's
    background logging waits about a second to flush at the end.
    """

    def __init__(self, mlflow):
        super().__init__()
        self.mlflow = mlflow

    def on_epoch_end(self, epoch, logs=None):
        self.mlflow.log_metrics(_numbers(logs or {}), step=epoch)


def flat_parameters(config):
    """The configuration as MLflow parameters: `{"model.units": "64", ...}`."""
    return {
        f"{section}.{name}": str(value)[:500]  # MLflow's limit is 6000 chars
        for section in _PARAMETER_SECTIONS
        for name, value in sorted(config.get(section, {}).items())
    }


def _numbers(values, prefix=""):
    return {
        f"{prefix}{name}": float(value)
        for name, value in values.items()
        if isinstance(value, int | float) and not isinstance(value, bool)
    }


def _set_experiment(mlflow, options, config):
    """Points MLflow at the tracking URI and the experiment (by default the
    application's name): the experiment."""
    mlflow.set_tracking_uri(options["mlflow_uri"])
    return mlflow.set_experiment(options["mlflow_experiment"] or config["app"])


def _log_run_files(mlflow, run_dir):
    """The run directory's files as artifacts (not its TensorBoard logs)."""
    for path in sorted(run_dir.iterdir()):
        if path.name in (LOGS_DIR, MLFLOW_RUN_FILE):
            continue
        if path.is_dir():
            mlflow.log_artifacts(str(path), artifact_path=path.name)
        else:
            mlflow.log_artifact(str(path))


def check_available(config):
    """Raises `CnnrnnError` before anything runs if the configuration asks
    for MLflow and it is not installed."""
    if config.get("tracking", {}).get("mlflow"):
        _import_mlflow()


def _import_mlflow():
    try:
        import mlflow
    except ImportError:
        raise CnnrnnError(
            "Tracking with MLflow needs the mlflow package: pip install "
            '"cnnrnn[mlflow]" (or turn it off: tracking.mlflow = false).'
        ) from None
    return mlflow
