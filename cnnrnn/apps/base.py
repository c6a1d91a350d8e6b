"""What every application module declares: an `App` row, and shared parts.

An application is one module of `cnnrnn.apps` (see its `APPLICATIONS`): its
`App` row names its functions by import path and loads them on first use, so
reading the registry (`cnnrnn list`, `--help`) imports neither Keras nor
TensorFlow.
"""

import ast
import dataclasses
import functools
import importlib
import importlib.util
import inspect
import pathlib
from collections.abc import Callable

# Hyperparameters every application searches: names are factory arguments.
COMMON_SPACE = {
    "learning_rate": {"min": 1e-4, "max": 1e-2, "sampling": "log"},
    "dropout": {"min": 0.0, "max": 0.5, "step": 0.1},
    "optimizer": {"values": ["adam", "rmsprop", "sgd"]},
    # Decoupled: each step shrinks a weight by learning_rate * weight_decay.
    "weight_decay": {"values": [0.0, 1e-3, 1e-2, 0.02, 0.05]},
}
RNN_TYPES = {"values": ["lstm", "gru"]}
ACTIVATIONS = {"values": ["relu", "gelu", "silu", "elu"]}


class Lazy:
    """A function or class of another module, imported on its first use.

    Calling it calls the target. `inspect.signature` sees the target's
    signature, read from its module's source without importing it (so that
    resolving an application's options starts no backend), or from the
    imported target where a default is not a plain literal.

    Args:
        path: str. `"package.module:name"`.
    """

    def __init__(self, path):
        self.path = path

    @functools.cached_property
    def target(self):
        """The function or class, imported."""
        module, _, name = self.path.partition(":")
        return getattr(importlib.import_module(module), name)

    @functools.cached_property
    def __signature__(self):
        return _signature_from_source(self.path) or inspect.signature(self.target)

    def __call__(self, *args, **kwargs):
        return self.target(*args, **kwargs)

    def __repr__(self):
        return f"Lazy({self.path!r})"


def _signature_from_source(path):
    """The signature of function `path` read from its source file, or None
    where it is not a plain function whose defaults are all literals."""
    module, _, name = path.partition(":")
    top, *rest = module.split(".")
    spec = importlib.util.find_spec(top)  # a top-level package imports nothing
    if not rest:
        file = pathlib.Path(spec.origin)
    else:
        file = pathlib.Path(spec.submodule_search_locations[0]).joinpath(*rest)
        file = file / "__init__.py" if file.is_dir() else file.with_suffix(".py")
    if not file.is_file():  # compiled only, or in an archive
        return None
    tree = ast.parse(file.read_text(encoding="utf-8"))
    found = [
        node
        for node in tree.body
        if isinstance(node, ast.FunctionDef) and node.name == name
    ]
    if len(found) != 1:
        return None
    arguments = found[0].args
    positional = [*arguments.posonlyargs, *arguments.args]
    defaults = [None] * (len(positional) - len(arguments.defaults))
    defaults += arguments.defaults
    kinds = [inspect.Parameter.POSITIONAL_ONLY] * len(arguments.posonlyargs)
    kinds += [inspect.Parameter.POSITIONAL_OR_KEYWORD] * len(arguments.args)
    listed = list(zip(positional, kinds, defaults, strict=True))
    if arguments.vararg:
        listed.append((arguments.vararg, inspect.Parameter.VAR_POSITIONAL, None))
    for argument, default in zip(
        arguments.kwonlyargs, arguments.kw_defaults, strict=True
    ):
        listed.append((argument, inspect.Parameter.KEYWORD_ONLY, default))
    if arguments.kwarg:
        listed.append((arguments.kwarg, inspect.Parameter.VAR_KEYWORD, None))
    try:
        parameters = [
            inspect.Parameter(
                argument.arg,
                kind,
                default=inspect.Parameter.empty
                if default is None
                else ast.literal_eval(default),
            )
            for argument, kind, default in listed
        ]
    except ValueError:  # a default that is not a literal: import the target
        return None
    return inspect.Signature(parameters)


def class_names_option(config):
    """Loader option that keeps a trained classifier's class order."""
    class_names = config["data_info"].get("class_names")
    return {"class_names": class_names} if class_names else {}


@dataclasses.dataclass(frozen=True)
class App:
    """One application: everything the CLI, training and tuning need.

    Args:
        name: str. CLI name, e.g. `"plant-classifier"`.
        summary: str. One line for `cnnrnn list`.
        build_model: callable. The keyword-only model factory.
        load_data: callable. `load_data(source, **data_options)` returning
            `cnnrnn.data.common.DataSplits`.
        data_loaders: tuple of callables. The loaders `load_data` passes
            its keyword options on to, when it takes `**kwargs` and picks one
            by source; empty when `load_data` names its options itself. Their
            keyword arguments are the application's `data` options.
        write_demo_data: callable. `write_demo_data(directory)` writes a
            small learnable data set that `load_data` reads.
        demo_source: str. Path of the data source inside the demo folder
            (empty: the folder itself).
        small_demo: dict. Options of `write_demo_data` that write a few
            examples, enough to train for an epoch in seconds (the tests of a
            generated project, see `write_small_demo`).
        predict: callable. `predict(model, inputs, config, top_k=...)`
            returning one `{"input", "predictions"}` dict per input.
        defaults: dict. Default `data`, `model` and `training` options,
            chosen for a user's own data.
        demo: dict. Showcase settings of the generated demo data (same
            sections), applied over `defaults` when no data source is given:
            a model sized to learn the demo in about a minute on a laptop.
        model_from_data: tuple of str. Factory arguments set by the data.
        reports: tuple of callables. `report(model, splits, split_name,
            config, run_dir)` run after training on the evaluation split of
            the `DataSplits`; each writes files and returns metrics to
            record.
        prepare_fine_tuning: callable or None. Switches a trained model to
            its fine-tuning phase; returns whether there is one.
        evaluation_options: callable. `evaluation_options(config)` returns the
            loader options that make new data readable by the trained model
            (its class names or vocabulary).
        feature_models: callable or None. `feature_models(model)` returns
            `(encoder, head)` for `training.precompute_features`:
            a frozen encoder run once over the data, and the compiled head
            (sharing the model's weights) trained on its features.
        sampler: callable or None. `sampler(model)` returns an object whose
            `stream(seed_text, **options)` yields generated text, for
            `cnnrnn generate`.
        evaluation_metrics: callable or None. `evaluation_metrics(model,
            splits, split_name, config)` returns metrics beyond the compiled
            ones (such as BLEU), for training and `cnnrnn evaluate`.
        model_info: callable or None. `model_info(**model_arguments)`
            returns facts about the model those factory arguments build (such
            as how many words pretrained vectors cover), printed before
            training and kept in `config.json` under `model_info`.
        input_kind: str. What one input of `predict` is: `"image"`,
            `"video"` or `"table"` (a file's path), or `"text"`; `cnnrnn
            serve` reads requests and shows its page by it.
        caption_files: callable or None. `caption_files(model, paths, config,
            **options)` returns a `(caption, log_probability)` tuple per
            image file, for `cnnrnn caption`.
        search_space: dict. The default search space of `cnnrnn tune` (see
            `cnnrnn.tuning.space`): factory argument -> hyperparameter spec,
            whose defaults are the factory's, so a first trial is the template.
        backends: tuple of str. Keras backends that can train and run the
            application's model from the CLI (the data come through tf.data,
            which every backend reads).
    """

    name: str
    summary: str
    build_model: Callable
    load_data: Callable
    write_demo_data: Callable
    predict: Callable
    defaults: dict
    demo: dict = dataclasses.field(default_factory=dict)
    data_loaders: tuple[Callable, ...] = ()
    model_from_data: tuple[str, ...] = ()
    demo_source: str = ""
    small_demo: dict = dataclasses.field(default_factory=dict)
    reports: tuple[Callable, ...] = ()
    prepare_fine_tuning: Callable | None = None
    evaluation_options: Callable = class_names_option
    feature_models: Callable | None = None
    sampler: Callable | None = None
    evaluation_metrics: Callable | None = None
    model_info: Callable | None = None
    input_kind: str = "text"
    caption_files: Callable | None = None
    search_space: dict = dataclasses.field(default_factory=lambda: dict(COMMON_SPACE))
    backends: tuple[str, ...] = ("tensorflow", "jax", "torch")
