"""Search job files: one TOML file names the application, data, space and budget.

```toml
app = "sentiment-rnn"
output = "tuning_runs/sentiment-rnn"

[search]
algorithm = "random"        # random, bayesian, hyperband or grid
objective = "val_accuracy"  # a logged metric; "max" or "min" from its name
max_trials = 10
seed = 1337

[training]                  # per trial (and for retraining the best model)
epochs = 5
early_stopping_patience = 2

[space]                     # narrow, widen, fix or add factory arguments
learning_rate = { min = 1e-4, max = 1e-2, sampling = "log" }
units = { values = [32, 64, 128] }
rnn_type = "gru"

[data]                      # the `cnnrnn train` data options (default: demo data)
[model]                     # fixed factory arguments
```
"""

import dataclasses
import inspect
import pathlib
import sys

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from rich.console import Console
from rich.table import Table

from cnnrnn.apps import get_app
from cnnrnn.bundled import bundled_dir
from cnnrnn.config import SECTIONS, current_names, resolve_config
from cnnrnn.errors import CnnrnnError
from cnnrnn.tuning.space import check_default, describe, merge_space

ALGORITHMS = ("random", "bayesian", "hyperband", "grid")
SEARCH_DEFAULTS = {
    "algorithm": "random",
    "objective": "val_loss",
    "direction": None,
    "max_trials": 10,
    "executions_per_trial": 1,
    "seed": 1337,
    "max_params": None,
    "max_consecutive_failed_trials": 5,
    "hyperband_factor": 3,
    "retrain_best": True,
}
_TOP_LEVEL = {"app", "output", "search", "space", *SECTIONS}


@dataclasses.dataclass(frozen=True)
class Job:
    """A checked search job.

    Args:
        app: `cnnrnn.apps.App`.
        config: dict. The run configuration every trial starts from (as
            `cnnrnn train` resolves it).
        search: dict. The `[search]` options, defaults filled in.
        space: dict. The merged search space.
        output: `pathlib.Path`. The search's output folder.
        path: `pathlib.Path` or None. The job file.
    """

    app: object
    config: dict
    search: dict
    space: dict
    output: pathlib.Path
    path: pathlib.Path | None = None

    @property
    def direction(self):
        """`"min"` or `"max"`: how the objective improves."""
        if self.search["direction"]:
            return self.search["direction"]
        name = self.search["objective"]
        worse_when_high = (
            "loss",
            "error",
            "bits",
            "perplexity",
            "mae",
            "mse",
            "crossentropy",
        )
        return "min" if any(word in name for word in worse_when_high) else "max"

    def record(self):
        """What identifies the search, JSON-serialisable (for resuming)."""
        return {
            "app": self.app.name,
            "config": self.config,
            "search": self.search,
            "space": self.space,
        }


def load_job(path, *, output=None, tracking=None):
    """Reads and checks a TOML job file.

    Args:
        path: path-like. The job file.
        output: path-like or None. Overrides the job's `output`.
        tracking: dict or None. Overrides options of the job's `[tracking]`.

    Returns:
        A `Job`.

    Raises:
        CnnrnnError: for a missing or malformed file, an unknown application,
            section, option or hyperparameter.
    """
    path = pathlib.Path(path)
    if not path.is_file():
        examples = bundled_dir("tuning")
        names = ", ".join(sorted(job.name for job in examples.glob("*.toml")))
        raise CnnrnnError(
            f"Job file '{path}' not found: pass a TOML search job, e.g. one of "
            f"the examples in {examples} ({names})."
        )
    try:
        table = tomllib.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as error:
        raise CnnrnnError(
            f"Job file '{path}' is not valid TOML: {error}. Fix it and retry."
        ) from None
    if tracking:
        table["tracking"] = {**table.get("tracking", {}), **tracking}
    return make_job(table, path=path, output=output)


def make_job(table, *, path=None, output=None):
    """Checks a job given as a dict (the TOML file's tables); see `load_job`."""
    where = f"Job file '{path}'" if path else "The job"
    unknown = set(table) - _TOP_LEVEL
    if unknown:
        raise CnnrnnError(
            f"{where} has unknown key(s) {', '.join(sorted(unknown))}. Expected "
            f"{', '.join(sorted(_TOP_LEVEL))}."
        )
    if "app" not in table:
        raise CnnrnnError(f'{where} names no application: add app = "NAME".')
    app = get_app(table["app"])
    table = current_names(table)
    table["space"] = current_names({"model": table.get("space", {})})["model"]
    for section in ("search", "space", *SECTIONS):
        if not isinstance(table.get(section, {}), dict):
            raise CnnrnnError(
                f"{where}: {section} must be a table, e.g. [{section}] on its "
                "own line followed by key = value lines."
            )
    search = {**SEARCH_DEFAULTS, **table.get("search", {})}
    _check_search(search, where)
    config = resolve_config(
        app,
        file_config={
            section: table[section] for section in SECTIONS if section in table
        },
    )
    factory_arguments = set(inspect.signature(app.build_model).parameters) - set(
        app.model_from_data
    )
    space = merge_space(
        app.search_space,
        table.get("space", {}),
        known=factory_arguments - {"compile", "name"},
    )
    for name, spec in space.items():
        check_default(name, spec, config["model"].get(name))
    output = output or table.get("output") or f"tuning_runs/{app.name}"
    return Job(
        app=app,
        config=config,
        search=search,
        space=space,
        output=pathlib.Path(output),
        path=path,
    )


def _check_search(search, where):
    unknown = set(search) - set(SEARCH_DEFAULTS)
    if unknown:
        raise CnnrnnError(
            f"{where}: unknown [search] option(s) {', '.join(sorted(unknown))}. "
            f"Known: {', '.join(sorted(SEARCH_DEFAULTS))}."
        )
    if search["algorithm"] not in ALGORITHMS:
        raise CnnrnnError(
            f"{where}: algorithm={search['algorithm']!r}. Expected one of "
            f"{', '.join(ALGORITHMS)}."
        )
    if search["direction"] not in (None, "min", "max"):
        raise CnnrnnError(
            f"{where}: direction={search['direction']!r}. Expected 'min' or 'max'."
        )
    counts = {
        "max_trials": 1,
        "executions_per_trial": 1,
        "max_consecutive_failed_trials": 1,
        "hyperband_factor": 2,
    }
    for key, minimum in counts.items():
        value = search[key]
        if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
            raise CnnrnnError(
                f"{where}: {key}={value!r}. Expected an integer >= {minimum}."
            )
    if not isinstance(search["objective"], str) or not search["objective"]:
        raise CnnrnnError(
            f"{where}: objective={search['objective']!r}. Expected a metric name "
            "such as 'val_loss' or 'val_accuracy'."
        )
    if not isinstance(search["seed"], int) or isinstance(search["seed"], bool):
        raise CnnrnnError(f"{where}: seed={search['seed']!r}. Expected an integer.")
    if not isinstance(search["retrain_best"], bool):
        raise CnnrnnError(
            f"{where}: retrain_best={search['retrain_best']!r}. Expected true or false."
        )
    max_params = search["max_params"]
    if max_params is not None and (
        not isinstance(max_params, int)
        or isinstance(max_params, bool)
        or max_params < 1
    ):
        raise CnnrnnError(
            f"{where}: max_params={search['max_params']!r}. Expected a positive "
            "integer (the most trainable parameters a trial's model may have)."
        )


def dry_run(job, console=None):
    """Prints the search space and budget of a job without training."""
    console = console or Console()
    config = job.config
    table = Table("hyperparameter", "values", "default (first trial)")
    for name, spec in job.space.items():
        table.add_row(name, describe(spec), repr(config["model"].get(name)))
    console.print(table)
    search = job.search
    budget = (
        f"Hyperband brackets up to {config['training']['epochs']} epochs "
        f"(factor {search['hyperband_factor']})"
        if search["algorithm"] == "hyperband"
        else f"{search['max_trials']} trials x {search['executions_per_trial']} "
        f"execution(s), at most {config['training']['epochs']} epochs each "
        f"(early stopping patience {config['training']['early_stopping_patience']})"
    )
    console.print(
        f"{job.app.name}: {search['algorithm']} search of {search['objective']} "
        f"({job.direction}); {budget}; seed {search['seed']}; output {job.output}",
        soft_wrap=True,
    )
