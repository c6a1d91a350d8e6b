"""Run directories side by side (`cnnrnn runs`): one row per run, and a
comparison of a few by their learning curves and configuration differences.

Only the run files are read (`config.json`, `metrics.json`, `history.csv`):
neither Keras nor TensorFlow is imported, and matplotlib only to draw.
"""

import datetime
import json
import math
import os
import pathlib

from rich import box
from rich.markup import escape
from rich.table import Table

from cnnrnn import runs
from cnnrnn.config import current_names, factory_defaults
from cnnrnn.errors import CnnrnnError, RunDirError

# The main held-out metric of a run: the first of these its metrics.json has.
TEST_METRICS = ("bleu_4", "mase", "bits_per_char", "accuracy", "loss")
HIGHER_IS_BETTER = {"bleu_4", "accuracy"}
# Sorting columns, and whether each sorts descending.
SORTS = {
    "date": True,  # newest first
    "test": False,  # best first (descending for accuracy and bleu_4)
    "best": False,  # lowest monitored loss first
    "time": False,  # fastest first
    "epochs": True,
    "application": False,
    "run": False,
}
COLUMNS = ("run", "application", "data", "options", "epochs", "best", "test")
COLUMNS += ("time", "date", "status")
# What config.json records of the data rather than of the options chosen.
DERIVED_KEYS = ("data_info", "model_from_data", "model_info")
SHOWN_OPTIONS = 4
MAKE_ONE = "train one with `cnnrnn train APP --output runs/NAME`"
FIX = "restore it or delete the run"


def is_run(path):
    """Whether `path` is a run directory, finished or interrupted."""
    path = pathlib.Path(path)
    markers = (runs.HISTORY_FILE, runs.METRICS_FILE, runs.CHECKPOINT_DIR)
    return (path / runs.CONFIG_FILE).is_file() and any(
        (path / name).exists() for name in markers
    )


def find_runs(folders):
    """The run directories in `folders`: a folder that is a run, or runs at
    any depth below it (such as a search's `best/`).

    Args:
        folders: list of path-likes.

    Returns:
        A list of `pathlib.Path`, in path order, without duplicates.

    Raises:
        CnnrnnError: for a folder that does not exist, or when there is no run.
    """
    found = []
    for folder in map(pathlib.Path, folders):
        if not folder.is_dir():
            problem = "is not a folder" if folder.exists() else "does not exist"
            raise CnnrnnError(
                f"'{folder}' {problem}: pass folders that hold runs, or {MAKE_ONE}."
            )
        for parent, children, _ in os.walk(folder):
            if is_run(parent):
                found.append(pathlib.Path(parent))
                children.clear()  # its plots/, logs/ ...
            else:
                children[:] = sorted(c for c in children if not c.startswith("."))
    if not found:
        where = ", ".join(f"'{folder}'" for folder in folders)
        raise CnnrnnError(f"No run directories found in {where}: {MAKE_ONE}.")
    return list({path.resolve(): path for path in found}.values())


def describe_runs(folders):
    """One row (see `describe_run`) for every run in `folders`."""
    return [describe_run(path) for path in find_runs(folders)]


def describe_run(run_dir):
    """What `cnnrnn runs` shows of a run, as a JSON-ready dict.

    Args:
        run_dir: path-like. A run directory, finished or interrupted.

    Returns:
        A dict: `run` (the path as shown), `path` (absolute), `application`,
        `data` (the source, shortened) and `source`, `options` (the model
        options that differ from the application's defaults), `epochs`,
        `monitor`, `best_epoch` and `best` (its value), `test_metric`, `test`
        and `evaluated_on`, `train_seconds`, `date` (of `config.json`),
        `finished` and `status`. A value a run lacks is `None`.

    Raises:
        RunDirError: for a `config.json` or `metrics.json` that cannot be read.
    """
    run_dir = pathlib.Path(run_dir)
    config = current_names(runs.read_run_config(run_dir, fix=FIX))
    finished = runs.is_finished(run_dir)
    metrics = {}
    if finished:
        path = run_dir / runs.METRICS_FILE
        metrics = runs.read_json(path, what="Run metrics", fix=FIX)
    monitor = metrics.get("monitor")
    if f"best_{monitor}" in metrics:
        epochs = metrics["epochs"]
        best_epoch, best = metrics["best_epoch"], metrics[f"best_{monitor}"]
    else:  # interrupted, or trained without a validation split
        history = read_history(run_dir)
        monitor = monitor or ("val_loss" if "val_loss" in history else "loss")
        epochs = metrics.get("epochs", len(history.get("epoch", [])))
        best_epoch, best = _best_epoch(history.get(monitor, []))
    test_metric = next((name for name in TEST_METRICS if name in metrics), None)
    source = str(config["data"].get("source") or "")
    modified = (run_dir / runs.CONFIG_FILE).stat().st_mtime
    return {
        "run": _shown(run_dir),
        "path": str(run_dir.resolve()),
        "application": config["app"],
        "data": _short_source(source, config["app"]),
        "source": source,
        "options": changed_options(config),
        "epochs": epochs,
        "monitor": monitor,
        "best_epoch": best_epoch,
        "best": best,
        "test_metric": test_metric,
        "test": metrics.get(test_metric),
        "evaluated_on": metrics.get("evaluated_on"),
        "train_seconds": metrics.get("train_seconds"),
        "date": datetime.datetime.fromtimestamp(modified).isoformat(timespec="seconds"),
        "finished": finished,
        "status": "finished" if finished else f"interrupted at epoch {epochs}",
    }


def sort_runs(rows, column):
    """Orders rows by a column of `SORTS`; rows without a value go last.

    `test` orders by metric name, then best first; `best` by monitored
    metric, then lowest first.
    """
    present = [row for row in rows if _sort_value(row, column) is not None]
    missing = [row for row in rows if _sort_value(row, column) is None]
    present.sort(key=lambda row: _sort_value(row, column), reverse=SORTS[column])
    return present + missing


def runs_table(rows):
    """The rows of `describe_run` as a `rich.table.Table` (see `COLUMNS`).

    A cell holds a few short lines (each option, a metric and its value), so
    that the ten columns stay narrow.
    """
    table = Table(
        title=f"{len(rows)} run(s)",
        box=box.SIMPLE_HEAD,
        show_lines=True,
        pad_edge=False,
        collapse_padding=True,
    )
    for column in COLUMNS:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*map(escape, _cells(row)))
    return table


def differences_table(comparison):
    """The differences found by `compare_runs`, as a `rich.table.Table`."""
    table = Table(
        "option", *map(escape, comparison["runs"]), title="options that differ"
    )
    for key, values in comparison["differences"].items():
        table.add_row(escape(key), *(escape(format_value(v)) for v in values))
    return table


def format_value(value):
    """An option's value as text: strings as they are, the rest as JSON."""
    return value if isinstance(value, str) else json.dumps(value)


def changed_options(config):
    """The model options of a run that differ from its application's
    defaults, and from the demo's showcase settings for a run on the demo."""
    from cnnrnn.apps import APPS

    app = APPS.get(config["app"])
    if app is None:
        return {}
    exclude = app.model_from_data + ("compile", "name")
    defaults = {
        **factory_defaults(app.build_model, exclude=exclude),
        **app.defaults.get("model", {}),
    }
    if _is_demo(str(config["data"].get("source") or ""), app.name):
        defaults.update(app.demo.get("model", {}))
    return {
        key: value
        for key, value in config["model"].items()
        if key not in defaults or _json(value) != _json(defaults[key])
    }


def compare_runs(run_dirs, output):
    """Draws the learning curves of runs on one figure, and finds where
    their configurations differ.

    Args:
        run_dirs: list of path-likes. Two or more run directories, finished
            or interrupted.
        output: path-like. The PNG file to write (replaced if it exists).

    Returns:
        A dict: `runs` (the paths as shown), `differences` (see
        `config_differences`) and `figure` (`output`, as a string).

    Raises:
        CnnrnnError: for fewer than two runs, or a folder that is not a run.
    """
    run_dirs = [pathlib.Path(path) for path in run_dirs]
    if len(run_dirs) < 2:
        raise CnnrnnError(
            "--compare needs at least two run directories: "
            "cnnrnn runs --compare RUN_A RUN_B [...]."
        )
    for path in run_dirs:
        if not is_run(path):
            raise RunDirError(
                f"'{path}' is not a run directory: pass folders that "
                "`cnnrnn train` wrote."
            )
    names = [_shown(path) for path in run_dirs]
    configs = [runs.read_run_config(path, fix=FIX) for path in run_dirs]
    plot_runs(names, [read_history(path) for path in run_dirs], output)
    return {
        "runs": names,
        "differences": config_differences(configs),
        "figure": str(output),
    }


def config_differences(configs):
    """The options whose values differ between run configurations.

    Args:
        configs: list of dict. Runs' `config.json`, as read.

    Returns:
        A dict `{dotted key: [value in each configuration]}` such as
        `{"model.units": [4, 8]}`, in the configurations' order; an absent
        key reads as `None`. What the data determined (`data_info`,
        `model_from_data`, `model_info`) is left out.
    """
    flat = [
        _flatten({k: v for k, v in current_names(c).items() if k not in DERIVED_KEYS})
        for c in configs
    ]
    keys = dict.fromkeys(key for values in flat for key in values)
    return {
        key: [values.get(key) for values in flat]
        for key in keys
        if len({_json(values.get(key)) for values in flat}) > 1
    }


def plot_runs(names, histories, path):
    """Plots several runs' learning curves on one figure, written atomically.

    One panel per metric; each run has its colour, with its training curve
    solid and its validation curve dashed.

    Args:
        names: list of str. The runs, for the legend.
        histories: list of dict. Each run's `{metric: values per epoch}`, as
            read by `read_history`.
        path: path-like. The PNG file to write.

    Returns:
        The `matplotlib.figure.Figure`.
    """
    import matplotlib.figure
    import matplotlib.lines
    import matplotlib.ticker

    metrics = list(
        dict.fromkeys(
            key
            for history in histories
            for key in history
            if key not in ("epoch", "learning_rate") and not key.startswith("val_")
        )
    )
    columns = min(3, max(len(metrics), 1))
    rows = -(-max(len(metrics), 1) // columns)
    legend_rows = -(-(len(names) + 2) // 3)
    figure = matplotlib.figure.Figure(
        figsize=(4.5 * columns, 3.5 * rows + 0.25 * legend_rows + 0.2),
        layout="constrained",
    )
    axes = figure.subplots(rows, columns, squeeze=False)
    for axis in axes.flat[len(metrics) :]:
        axis.axis("off")
    for axis, metric in zip(axes.flat, metrics, strict=False):
        for number, history in enumerate(histories):
            epochs = [int(epoch) + 1 for epoch in history.get("epoch", [])]
            for key, style in ((metric, "-"), (f"val_{metric}", "--")):
                if key in history:
                    color = f"C{number % 10}"
                    axis.plot(epochs, history[key], style, color=color, marker=".")
        axis.set_title(metric)
        axis.set_xlabel("epoch")
        axis.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
        axis.grid(alpha=0.3)
    line = matplotlib.lines.Line2D
    handles = [
        line([], [], color=f"C{n % 10}", label=name) for n, name in enumerate(names)
    ]
    handles += [
        line([], [], color="grey", linestyle="-", label="training"),
        line([], [], color="grey", linestyle="--", label="validation"),
    ]
    figure.legend(handles=handles, loc="outside lower center", ncols=3)
    with runs.atomic_path(path) as tmp:
        figure.savefig(tmp, dpi=100)
    return figure


def read_history(run_dir):
    """A run's `history.csv` as `{metric: values per epoch}`; `{}` if none."""
    path = pathlib.Path(run_dir) / runs.HISTORY_FILE
    if not path.is_file():
        return {}
    from cnnrnn.plots import read_history as read_csv

    return read_csv(path)


def _best_epoch(values):
    """`(epoch, value)` of the lowest value (epochs from 1), or `(None, None)`."""
    finite = [(v, epoch) for epoch, v in enumerate(values, start=1) if math.isfinite(v)]
    if not finite:
        return None, None
    value, epoch = min(finite)
    return epoch, value


def _cells(row):
    options = [f"{key}={_short(value)}" for key, value in row["options"].items()]
    if len(options) > SHOWN_OPTIONS + 1:  # "+1" would take the option's place
        options[SHOWN_OPTIONS:] = [f"+{len(options) - SHOWN_OPTIONS} more"]
    best = test = ""
    if row["best"] is not None:
        best = f"{row['monitor']}\n{row['best']:.4g} @ {row['best_epoch']}"
    if row["test"] is not None:
        test = f"{row['test_metric']}\n{row['test']:.4g}"
        if row["evaluated_on"] not in (None, "test"):
            test += f"\n({row['evaluated_on']})"
    status = "finished" if row["finished"] else f"interrupted\nat epoch {row['epochs']}"
    return [
        row["run"],
        row["application"],
        row["data"],
        "\n".join(options),
        str(row["epochs"]),
        best,
        test,
        _duration(row["train_seconds"]),
        row["date"].replace("T", "\n")[:16],
        status,
    ]


def _sort_value(row, column):
    if column == "test":
        if row["test"] is None:
            return None
        sign = -1 if row["test_metric"] in HIGHER_IS_BETTER else 1
        return row["test_metric"], sign * row["test"]
    if column == "best":
        return None if row["best"] is None else (row["monitor"], row["best"])
    return row["train_seconds" if column == "time" else column]


def _shown(path):
    """`path` relative to the current folder where it is inside it."""
    path, here = pathlib.Path(path).resolve(), pathlib.Path.cwd().resolve()
    return str(path.relative_to(here)) if path.is_relative_to(here) else str(path)


def _is_demo(source, app_name):
    """Whether `source` is the generated demo data (`.../demo/<app>/...`)."""
    return f"/demo/{app_name}/" in f"/{pathlib.PurePath(source).as_posix()}/"


def _short_source(source, app_name):
    """A data source in a few characters: `demo`, `tfds:NAME`, `folder/file`."""
    if _is_demo(source, app_name):
        return "demo"
    if source.startswith("tfds:"):
        return source
    return "/".join(pathlib.PurePath(source).parts[-2:])


def _short(value):
    return f"{value:g}" if isinstance(value, float) else format_value(value)


def _json(value):
    return json.dumps(value, sort_keys=True, default=str)


def _flatten(values, prefix=""):
    """`{"model": {"units": 4}}` as `{"model.units": 4}`."""
    flat = {}
    for key, value in values.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _duration(seconds):
    if seconds is None:
        return ""
    if seconds < 60:
        return f"{seconds:.1f} s"
    if seconds < 3600:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"
