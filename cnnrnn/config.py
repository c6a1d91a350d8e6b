"""Run configuration: application defaults, a config file, command-line overrides."""

import copy
import inspect
import json
import pathlib
import sys

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from cnnrnn.errors import CnnrnnError

TRAINING_DEFAULTS = {
    "epochs": 20,
    "early_stopping_patience": 5,
    "fine_tune_epochs": 0,
    "fine_tune_learning_rate": 1e-5,
    "learning_rate_schedule": "constant",
    "max_minutes": None,
    "seed": 1337,
}
DEVICE_DEFAULTS = {"precision": "auto", "strategy": "auto"}
# Where a run is logged besides its run directory (see cnnrnn/tracking.py);
# not part of what makes two runs the same run.
TRACKING_DEFAULTS = {
    "tensorboard": True,
    "mlflow": False,
    "mlflow_uri": "sqlite:///mlflow.db",
    "mlflow_experiment": None,
}
SECTIONS = ("data", "model", "training", "inference", "devices", "tracking")
# What a run's config.json holds besides its sections, skipped when it is
# read as a --config file.
RUN_RECORD_KEYS = {
    "app",
    "cnnrnn_version",
    "data_info",
    "model_from_data",
    "model_info",
}


# Options renamed to one name per concept, with their old names: config
# files, run directories and search jobs written before still read the same.
_RENAMED_MODEL_OPTIONS = {
    "frame_encoder": "backbone",
    "encoder": "backbone",
    "train_encoder": "train_backbone",
    "rnn_layers": "num_layers",
    "rnn_units": "units",
    "input_shape": "image_shape",
    "frame_shape": "image_shape",
}
# Options that moved to another section: section -> {option: new section}.
MOVED_OPTIONS = {"training": {"beam_width": "inference"}}
RENAMED_OPTIONS = {
    "data": {"frame_size": "image_size"},
    "model": _RENAMED_MODEL_OPTIONS,
    "model_from_data": _RENAMED_MODEL_OPTIONS,
}


def current_names(config):
    """A configuration (or job table) with renamed options under their new names.

    Args:
        config: dict of sections (`data`, `model`, ...), e.g. a run's
            `config.json` or a config file, as read.

    Returns:
        A new dict; sections and options that were not renamed or moved are
        unchanged.
    """
    renamed = {
        section: {
            RENAMED_OPTIONS[section].get(key, key): value
            for key, value in values.items()
        }
        if section in RENAMED_OPTIONS and isinstance(values, dict)
        else values
        for section, values in config.items()
    }
    for section, moves in MOVED_OPTIONS.items():
        values = renamed.get(section)
        moved = moves.keys() & values.keys() if isinstance(values, dict) else ()
        if moved:
            renamed[section] = {k: v for k, v in values.items() if k not in moved}
        for key in moved:
            renamed[moves[key]] = {**renamed.get(moves[key], {}), key: values[key]}
    return renamed


def load_config_file(path):
    """Reads a JSON or TOML config file with `data`, `model`, `training` and
    `devices` sections, or a `config.json` written by a previous run.

    Raises:
        CnnrnnError: for a missing file, a parse error, a file that is not
            one object of sections or a section that is not an object.
    """
    path = pathlib.Path(path)
    if not path.is_file():
        raise CnnrnnError(f"Config file '{path}' not found: check the --config path.")
    kind = "TOML" if path.suffix == ".toml" else "JSON"
    try:
        if path.suffix == ".toml":
            config = tomllib.loads(path.read_text())
        else:
            config = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise CnnrnnError(
            f"Config file '{path}' is not valid JSON (line {error.lineno} column "
            f"{error.colno}: {error.msg}): fix it and retry."
        ) from None
    except (ValueError, UnicodeDecodeError) as error:
        raise CnnrnnError(
            f"Config file '{path}' is not valid {kind}: {error}. Fix it and retry."
        ) from None
    names = {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}
    if not isinstance(config, dict):
        raise CnnrnnError(
            f"Config file '{path}' is not a JSON object (it holds "
            f"{names.get(type(config), 'a number')}): write one object with "
            'sections such as {"model": {...}, "training": {...}}.'
        )
    for section in SECTIONS:
        value = config.get(section, {})
        if not isinstance(value, dict):
            raise CnnrnnError(
                f"Config file '{path}': section '{section}' is not an object "
                f"(it holds {names.get(type(value), 'a number')}): write it as "
                + (
                    f"a [{section}] table."
                    if kind == "TOML"
                    else f'"{section}": {{...}}.'
                )
            )
    unknown = set(config) - set(SECTIONS) - RUN_RECORD_KEYS
    if unknown:
        raise CnnrnnError(
            f"Config file '{path}' has unknown section(s) "
            f"{', '.join(sorted(unknown))}. Expected {', '.join(SECTIONS)}: "
            "rename or remove them."
        )
    return current_names(
        {key: value for key, value in config.items() if key in SECTIONS}
    )


def factory_defaults(factory, *, exclude=()):
    """The keyword-only arguments of a factory that have defaults, with them."""
    parameters = inspect.signature(factory).parameters.values()
    return {
        p.name: p.default
        for p in parameters
        if p.kind is p.KEYWORD_ONLY
        and p.default is not p.empty
        and p.name not in exclude
    }


def data_options(app):
    """The names of the `data` options an application's loader takes.

    They are the keyword arguments of `app.load_data` after the source, or
    of each of `app.data_loaders` where `load_data` passes `**kwargs` on.
    """
    loaders = app.data_loaders or (app.load_data,)
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return {
        parameter.name
        for loader in loaders
        for parameter in list(inspect.signature(loader).parameters.values())[1:]
        if parameter.kind in kinds
    }


def uses_demo_data(file_config=None, overrides=None):
    """Whether a configuration names no data source (so trains on the demo)."""
    layers = (file_config or {}, overrides or {})
    return not any(layer.get("data", {}).get("source") for layer in layers)


def resolve_config(app, *, file_config=None, overrides=None):
    """Merges an application's defaults, a config file and overrides.

    Without a data source in `file_config` or `overrides` the run trains on
    the generated demo data, and the application's `demo` settings go
    between its defaults and the file.

    Args:
        app: `cnnrnn.apps.App`. The application.
        file_config: dict or None. Sections read by `load_config_file`.
        overrides: dict or None. Sections of values given on the command
            line; they win over the file.

    Returns:
        A dict with `app`, `data`, `model`, `training` and `devices` sections.

    Raises:
        CnnrnnError: for an option the application does not know.
    """
    model_options = factory_defaults(
        app.build_model, exclude=app.model_from_data + ("compile", "name")
    )
    config = {
        "app": app.name,
        "data": copy.deepcopy(app.defaults.get("data", {})),
        "model": {**model_options, **copy.deepcopy(app.defaults.get("model", {}))},
        "training": {**TRAINING_DEFAULTS, **app.defaults.get("training", {})},
        "inference": copy.deepcopy(app.defaults.get("inference", {})),
        "devices": dict(DEVICE_DEFAULTS),
        "tracking": dict(TRACKING_DEFAULTS),
    }
    known = {
        "data": sorted({*app.defaults.get("data", {}), *data_options(app), "source"}),
        "model": sorted(model_options),
        "training": sorted({**TRAINING_DEFAULTS, **app.defaults.get("training", {})}),
        "inference": sorted(app.defaults.get("inference", {})),
        "devices": sorted(DEVICE_DEFAULTS),
        "tracking": sorted(TRACKING_DEFAULTS),
    }
    demo = [app.demo] if uses_demo_data(file_config, overrides) else []
    layers = (file_config or {}, overrides or {})
    for layer in (*demo, *map(current_names, layers)):
        for section, values in layer.items():
            if section not in SECTIONS:
                raise CnnrnnError(
                    f"Unknown config section '{section}'. Expected one of "
                    f"{', '.join(SECTIONS)}."
                )
            for key, value in values.items():
                if key not in known[section]:
                    raise CnnrnnError(
                        f"Unknown {section} option '{key}' for {app.name}. Known "
                        f"{section} options: {', '.join(known[section])}."
                    )
                config[section][key] = value
    return config
