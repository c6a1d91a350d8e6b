"""Run directories: atomic writes, refusal to overwrite, detection of resumable runs."""

import contextlib
import json
import os
import pathlib
import shutil
import tempfile

from cnnrnn.config import current_names
from cnnrnn.errors import RunDirError

MODEL_FILE = "model.keras"
CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.json"
HISTORY_FILE = "history.csv"
CHECKPOINT_DIR = "checkpoints"
PLOTS_DIR = "plots"


@contextlib.contextmanager
def atomic_path(path):
    """Yields a temporary path beside `path` that replaces `path` on success.

    The temporary file keeps the suffix of `path`, so writers that choose a
    format from the suffix (`model.save`, `savefig`) work unchanged. On an
    exception the temporary file is removed and `path` is left untouched.
    """
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(
        prefix=f".{path.stem}-", suffix=path.suffix, dir=path.parent
    )
    os.close(handle)
    tmp = pathlib.Path(tmp)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_json(path, data):
    """Writes `data` as indented JSON to `path` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n")


def read_json(path, *, what="File", fix="restore it or delete it"):
    """Reads a JSON file written by `write_json`.

    Args:
        path: path-like. The file.
        what: str. How the error message names the file, e.g. `"Run config"`.
        fix: str. What the error message tells the user to do.

    Raises:
        RunDirError: one line naming the file, the problem and `fix`, when
            the file is not valid JSON (hand-edited, truncated, not text).
    """
    path = pathlib.Path(path)
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as error:
        problem = f"line {error.lineno} column {error.colno}: {error.msg}"
    except UnicodeDecodeError as error:
        problem = f"not UTF-8 text: {error.reason} at byte {error.start}"
    raise RunDirError(f"{what} '{path}' is not valid JSON ({problem}): {fix}.")


RUN_CONFIG_KEYS = ("app", "data", "model")
_JSON_KINDS = {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}


def read_run_config(run_dir, *, fix="restore it or retrain with --overwrite"):
    """Reads a run's `config.json`, checking it is one `train` writes.

    Args:
        run_dir: path-like. The run directory.
        fix: str. What an error message tells the user to do.

    Returns:
        The configuration, a dict with at least `app`, `data` and `model`.

    Raises:
        RunDirError: one line naming the file and the problem, when the file
            is missing, not valid JSON, not a JSON object or lacks a section.
    """
    path = pathlib.Path(run_dir) / CONFIG_FILE
    if not path.is_file():
        raise RunDirError(f"Run '{run_dir}' has no {CONFIG_FILE}: {fix}.")
    config = read_json(path, what="Run config", fix=fix)
    if not isinstance(config, dict):
        raise RunDirError(
            f"Run config '{path}' is not a JSON object (it holds "
            f"{_JSON_KINDS.get(type(config), 'a number')}): {fix}."
        )
    for key in RUN_CONFIG_KEYS:
        if key not in config:
            raise RunDirError(f"Run config '{path}' has no \"{key}\" entry: {fix}.")
        kind = str if key == "app" else dict
        if not isinstance(config[key], kind):
            expected = "a string" if kind is str else "an object"
            raise RunDirError(
                f"Run config '{path}' has a \"{key}\" entry that is not {expected}: "
                f"{fix}."
            )
    return config


def is_finished(run_dir):
    """Whether `run_dir` holds a completed training run."""
    run_dir = pathlib.Path(run_dir)
    return (run_dir / MODEL_FILE).is_file() and (run_dir / METRICS_FILE).is_file()


def check_run_dir(run_dir, *, config, overwrite=False):
    """Says how a training run can use `run_dir`, without changing anything.

    Args:
        run_dir: path-like. Where the run is written.
        config: dict. The resolved configuration of the new run; an
            interrupted run is resumed only when its saved configuration is
            the same.
        overwrite: bool. Replace a finished or mismatched run. A folder that
            is not a cnnrnn run is never deleted.

    Returns:
        `"new"` (absent or empty), `"resume"` (an interrupted run of the same
        configuration) or `"replace"` (a run to delete first, as asked).

    Raises:
        RunDirError: when `run_dir` cannot be used as asked.
    """
    run_dir = pathlib.Path(run_dir)
    if run_dir.exists() and not run_dir.is_dir():
        raise RunDirError(f"Output '{run_dir}' is a file: choose a folder path.")
    if not run_dir.exists() or not any(run_dir.iterdir()):
        return "new"
    if not (run_dir / CONFIG_FILE).is_file():
        raise RunDirError(
            f"Output '{run_dir}' is a non-empty folder that is not a cnnrnn run: "
            "choose another --output (it is never deleted, even with --overwrite)."
        )
    if overwrite:
        return "replace"
    if is_finished(run_dir):
        raise RunDirError(
            f"Output '{run_dir}' already holds a finished run: pass --overwrite to "
            "replace it or choose another --output."
        )
    saved = read_run_config(
        run_dir, fix="restore it, or pass --overwrite to start the run again"
    )
    if not same_run(saved, config):
        raise RunDirError(
            f"Output '{run_dir}' holds an interrupted run with a different "
            "configuration: rerun with the same options to resume it, or pass "
            "--overwrite to start again."
        )
    return "resume"


def worker_run_dir(run_dir, task_type, task_id):
    """The scratch run directory of a worker that is not the chief.

    In multi-worker training only the chief writes `run_dir`; each other
    worker writes the same files (and its own checkpoints, for resuming) to
    `<run_dir>.<task_type>-<task_id>` beside it, so that workers on shared
    storage never write the same file.

    Args:
        run_dir: path-like. The run directory the chief writes.
        task_type: str. The worker's task type, e.g. `"worker"`.
        task_id: int. The worker's index among its task type.

    Returns:
        A `pathlib.Path`, e.g. `runs/plant.worker-1` for `runs/plant`.
    """
    run_dir = pathlib.Path(run_dir)
    return run_dir.with_name(f"{run_dir.name}.{task_type}-{task_id}")


def make_run_dir(run_dir, state):
    """Creates `run_dir` for a run in `state` as returned by `check_run_dir`."""
    run_dir = pathlib.Path(run_dir)
    if state == "replace":
        shutil.rmtree(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)


def same_run(saved, config):
    """Whether two run configurations describe the same training run.

    A saved run's data options hold what `"auto"` chose from the data
    (also in `data_info["chosen"]`); the same data makes the same choice again.
    """
    saved = current_names(saved)
    chosen = current_names({"data": saved.get("data_info", {}).get("chosen", {})})
    chosen = chosen["data"]
    data = {
        key: chosen.get(key, value) if value == "auto" else value
        for key, value in config.get("data", {}).items()
    }
    config = {**config, "data": data}
    keys = ("app", "data", "model", "training")
    return all(
        json.loads(json.dumps(saved.get(k))) == json.loads(json.dumps(config.get(k)))
        for k in keys
    )
