"""The measured CNN vs RNN comparison behind `cnnrnn compare`.

A CNN (`build_plant_classifier`) and recurrent models that read the image
one row at a time (`build_row_rnn_classifier` with an LSTM or a GRU) are
trained on the same images with the same recipe, then measured: test
accuracy, parameters, FLOPs and peak activation memory per example,
training time per epoch and inference latency per example.

The choices, the same for every model so the comparison is fair:

- Data: scikit-learn's bundled handwritten digits (`load_digits`, 1797 8x8
  grayscale images, 10 classes, no network), pixels scaled from 0-16 to
  0-255, upscaled bilinearly to 16x16 (so the CNN can pool twice and the
  RNNs read 16 rows of 48 values) and repeated to 3 channels: the raw-pixel
  input every image model of the package takes. Or any folder with one
  sub-folder per class, read by `cnnrnn.data.images.load_image_folder`
  (32x32 by default) and held in memory.
- Split: stratified per class with the seed (`stratified_split`): 20% test,
  10% validation (only for the learning curves), 70% training.
- Models: the CNN has 2 convolution blocks of 32 and 64 filters and global
  average pooling; the RNNs have 2 layers of 128 units, reading top to
  bottom. All end with dropout 0.3 and a softmax.
- Training: 30 epochs, batch 32, Adam with a learning rate of 3e-3 decayed
  to 0 along a cosine over all steps, random rotations (up to 0.03 turn,
  about 11 degrees) and zooms (up to 10%) of the training images, no flips
  (they would turn digits into other shapes; the CNN's own flipping
  augmentation is off). In trials with seeds 0 and 2 the augmentation
  raised the RNNs' test accuracy by 0 to 2 points, the CNN's by 0 to 0.3.
  `keras.utils.set_random_seed(seed)` runs before each model is built, so a
  model's numbers do not depend on the others being run, and reruns give
  the same accuracies.
- Measurements: test accuracy after the last epoch; training time per epoch
  is the median over the epochs of the wall time of the training steps
  (augmentation included, validation excluded; the first epoch also traces
  the graph); the rest comes from `cnnrnn.profiling.profile_model` on one
  test image: FLOPs and peak activation memory of one example's forward
  pass, and the median milliseconds per example of `predict_on_batch` at
  batch 1 and batch 256.
"""

import dataclasses
import datetime
import functools
import os
import pathlib
import platform
import statistics
import time
from contextlib import nullcontext

import keras
import numpy as np

from cnnrnn.data.common import stratified_split
from cnnrnn.data.images import load_image_folder
from cnnrnn.devices import list_accelerators
from cnnrnn.errors import CnnrnnError, DataError
from cnnrnn.models import build_plant_classifier, build_row_rnn_classifier
from cnnrnn.models.checks import check_int, is_int
from cnnrnn.models.layers import ImageAugmentation
from cnnrnn.plots import plot_accuracy_scatter, plot_learning_curves
from cnnrnn.profiling import format_bytes, format_count, profile_model
from cnnrnn.progress import RichProgress
from cnnrnn.runs import PLOTS_DIR, atomic_path, write_json

DEFAULT_EPOCHS = 30
DIGITS_IMAGE_SIZE = 16
FOLDER_IMAGE_SIZE = 32
# The CNN halves the image size twice.
MIN_IMAGE_SIZE = 4
BATCH_SIZE = 32
LEARNING_RATE = 3e-3
DROPOUT = 0.3
# Of the training images only, by `ImageAugmentation`: no flips (a flipped
# digit is another shape), rotations up to 0.03 turn, zooms up to 10%.
AUGMENTATION = {"flip": None, "rotation": 0.03, "zoom": 0.1, "contrast": 0.0}
VALIDATION_SPLIT = 0.1
TEST_SPLIT = 0.2
LATENCY_BATCH_SIZES = (1, 256)

MODELS = {
    "cnn": (
        "plant-classifier CNN: 2 convolution blocks (32, 64 filters), global "
        "average pooling",
        functools.partial(
            build_plant_classifier, depth=2, base_filters=32, augment=False
        ),
    ),
    "lstm": (
        "2-layer LSTM (128 units), one step per image row",
        functools.partial(
            build_row_rnn_classifier, rnn_type="lstm", units=128, num_layers=2
        ),
    ),
    "gru": (
        "2-layer GRU (128 units), one step per image row",
        functools.partial(
            build_row_rnn_classifier, rnn_type="gru", units=128, num_layers=2
        ),
    ),
}
COLUMNS = (
    "model",
    "accuracy",
    "params",
    "FLOPs",
    "memory",
    "train s/epoch",
    "ms at batch 1",
    "ms at batch 256",
)
CAPTION = "Test accuracy; FLOPs, peak activation memory and latency (ms) per example"


def run_comparison(
    *,
    output,
    data=None,
    models=("cnn", "lstm", "gru"),
    epochs=None,
    image_size=None,
    seed=0,
    overwrite=False,
    console=None,
):
    """Trains and measures a CNN and row-by-row RNNs on the same images.

    Writes `comparison.md` (a table and the set-up), `comparison.json` (the
    returned dict), `plots/accuracy_vs_parameters.png`,
    `plots/accuracy_vs_latency.png` and `plots/learning_curves_<model>.png`
    into `output`. The recipe and the measurements are described in this
    module's docstring.

    Args:
        output: path-like. Folder to write; created if missing.
        data: path-like or None. A folder with one sub-folder of images per
            class, or None for scikit-learn's handwritten digits. Defaults to
            None.
        models: sequence of str. Models to compare, in order, among `"cnn"`,
            `"lstm"` and `"gru"`. Defaults to all three.
        epochs: int or None. Training epochs of every model. Defaults to None
            (30).
        image_size: int or None. Height and width every image is resized to,
            at least 4. Defaults to None (16 for the digits, 32 for a folder).
        seed: int. Seed of the split, the weights and the training shuffle.
            Defaults to 0.
        overwrite: bool. Whether to write into an existing non-empty `output`,
            replacing the files of a comparison there and keeping any other.
            Defaults to False.
        console: `rich.console.Console` or None. Where to show progress; None
            shows nothing. Defaults to None.

    Returns:
        dict. `{"setup": {...}, "models": [...]}` as written to
        `comparison.json`: for each model its `model` name, `description`,
        `test_accuracy`, `parameters`, `flops`, `activation_bytes`,
        `train_seconds_per_epoch`, `epochs`, `latency_ms` (`{"1": ...,
        "256": ...}`) and `history` (per-epoch `loss`, `accuracy`,
        `val_loss`, `val_accuracy`).

    Raises:
        ValueError: if an argument is out of range or names an unknown model.
        DataError: if the data folder cannot be used.
        CnnrnnError: if `output` is a file, or a non-empty folder without
            `overwrite`.

    Example:

    >>> result = run_comparison(output="runs/compare", epochs=5)
    >>> [(m["model"], m["test_accuracy"]) for m in result["models"]]
    """
    models = _check_models(models)
    epochs = DEFAULT_EPOCHS if epochs is None else epochs
    check_int("epochs", epochs)
    if image_size is None:
        image_size = DIGITS_IMAGE_SIZE if data is None else FOLDER_IMAGE_SIZE
    check_int("image_size", image_size, minimum=MIN_IMAGE_SIZE)
    if not is_int(seed) or seed < 0:
        raise ValueError(f"Argument `seed` must be an integer >= 0. Received: {seed=}")
    output = pathlib.Path(output)
    _check_output(output, overwrite)

    dataset = (
        _load_digits(image_size, seed)
        if data is None
        else _load_folder(data, image_size, seed)
    )
    comparison = {
        "setup": _setup(dataset, epochs=epochs, seed=seed),
        "models": [
            _run_model(name, dataset, epochs=epochs, seed=seed, console=console)
            for name in models
        ],
    }
    _write(comparison, output)
    return comparison


def table_rows(comparison):
    """Formats a comparison as the rows of a table with columns `COLUMNS`.

    Args:
        comparison: dict returned by `run_comparison`.

    Returns:
        A list of tuples of str, one per model.
    """
    return [
        (
            m["model"],
            f"{m['test_accuracy']:.2%}",
            f"{m['parameters']:,}",
            format_count(m["flops"]),
            format_bytes(m["activation_bytes"]),
            f"{m['train_seconds_per_epoch']:.2f}",
            *(f"{m['latency_ms'][str(b)]:.3f}" for b in LATENCY_BATCH_SIZES),
        )
        for m in comparison["models"]
    ]


@dataclasses.dataclass(frozen=True)
class _Dataset:
    """Images in memory: `splits[name]` is `(images, labels)` or None."""

    splits: dict
    class_names: list
    description: str


def _check_models(models):
    if not isinstance(models, (list, tuple)) or not all(
        isinstance(m, str) for m in models
    ):
        raise ValueError(
            "Argument `models` must be a list or tuple of model names. "
            f"Received: {models=}"
        )
    models = tuple(models)
    unknown = [m for m in models if m not in MODELS]
    if unknown:
        problem = f"Unknown model {unknown[0]!r}"
    elif not models:
        problem = "No model to compare"
    elif len(set(models)) != len(models):
        problem = "A model is named twice"
    else:
        return models
    expected = ", ".join(map(repr, MODELS))
    raise ValueError(
        f"{problem}. Received: models={list(models)}. Expected distinct names "
        f"among {expected}."
    )


def _check_output(output, overwrite):
    if output.exists() and not output.is_dir():
        raise CnnrnnError(f"Output '{output}' is a file: choose a folder path.")
    if output.is_dir() and any(output.iterdir()) and not overwrite:
        raise CnnrnnError(
            f"Output '{output}' is a non-empty folder: pass --overwrite to write "
            "the comparison there, or choose another --output."
        )


def _load_digits(image_size, seed):
    # Imported here: scikit-learn takes a second to import.
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = digits.images.astype("float32") * (255 / 16)
    images = np.repeat(images[..., None], 3, axis=-1)
    if image_size != 8:
        images = keras.ops.convert_to_numpy(
            keras.ops.image.resize(images, (image_size, image_size))
        )
    labels = digits.target.astype("int32")
    indices = stratified_split(
        labels, validation_split=VALIDATION_SPLIT, test_split=TEST_SPLIT, seed=seed
    )
    splits = {
        split: (images[index], labels[index])
        for split, index in zip(("train", "validation", "test"), indices, strict=True)
    }
    return _Dataset(
        splits=splits,
        class_names=[str(name) for name in digits.target_names],
        description=(
            "scikit-learn handwritten digits (sklearn.datasets.load_digits): 1797 "
            "8x8 grayscale images of 10 digits, pixels scaled from 0-16 to 0-255, "
            f"resized bilinearly to {image_size}x{image_size} and repeated to RGB"
        ),
    )


def _load_folder(directory, image_size, seed):
    loaded = load_image_folder(
        directory,
        image_size=image_size,
        batch_size=256,
        validation_split=VALIDATION_SPLIT,
        test_split=TEST_SPLIT,
        seed=seed,
    )
    if loaded.train is None or loaded.test is None:
        raise DataError(
            f"Image folder '{directory}' is too small to compare models: give every "
            "class at least 3 images (one to train, one to test)."
        )
    splits = {
        split: None if batches is None else _to_numpy(batches)
        for split, batches in (
            ("train", loaded.train),
            ("validation", loaded.validation),
            ("test", loaded.test),
        )
    }
    return _Dataset(
        splits=splits,
        class_names=loaded.info["class_names"],
        description=(
            f"image folder '{directory}' ({len(loaded.info['class_names'])} "
            f"classes), images resized to {image_size}x{image_size} RGB"
        ),
    )


def _to_numpy(batches):
    images, labels = zip(*batches.as_numpy_iterator(), strict=True)
    return np.concatenate(images), np.concatenate(labels)


def _run_model(name, dataset, *, epochs, seed, console):
    description, build = MODELS[name]
    x_train, y_train = dataset.splits["train"]
    x_test, y_test = dataset.splits["test"]
    keras.utils.set_random_seed(seed)
    model = build(
        image_shape=x_train.shape[1:],
        num_classes=len(dataset.class_names),
        dropout=DROPOUT,
        compile=False,
        name=name,
    )
    # The model itself holds no augmentation: it is trained inside `trainer`.
    trainer = keras.Sequential(
        [ImageAugmentation(seed=seed, name="augmentation", **AUGMENTATION), model],
        name=f"{name}_training",
    )
    steps = epochs * -(-len(x_train) // BATCH_SIZE)
    trainer.compile(
        optimizer=keras.optimizers.Adam(
            keras.optimizers.schedules.CosineDecay(LEARNING_RATE, steps)
        ),
        loss=keras.losses.SparseCategoricalCrossentropy(),
        metrics=["accuracy"],
    )
    timer = _EpochTimer()
    callbacks = [timer]
    if console is not None:
        console.print(f"[bold]{name}[/]: {description}", soft_wrap=True)
        callbacks.append(RichProgress(console, description=name))
    history = trainer.fit(
        x_train,
        y_train,
        batch_size=BATCH_SIZE,
        epochs=epochs,
        validation_data=dataset.splits["validation"],
        callbacks=callbacks,
        verbose=0,
    )
    predictions = model.predict(x_test, batch_size=256, verbose=0)
    accuracy = np.mean(predictions.argmax(axis=-1) == y_test)
    # A spinner only where it can be redrawn: elsewhere it leaves a blank line.
    spinning = console is not None and console.is_terminal
    with console.status(f"profiling {name}") if spinning else nullcontext():
        profile = profile_model(model, x_test[:1], batch_sizes=LATENCY_BATCH_SIZES)
    result = {
        "model": name,
        "description": description,
        "test_accuracy": float(accuracy),
        "parameters": int(profile.parameters),
        "flops": int(profile.flops),
        "activation_bytes": int(profile.activation_bytes),
        "train_seconds_per_epoch": statistics.median(timer.seconds),
        "epochs": epochs,
        "latency_ms": profile.as_dict()["latency_ms"],
        "history": {
            key: [float(value) for value in values]
            for key, values in history.history.items()
        },
    }
    if console is not None:
        console.print(
            f"{name}: test accuracy {accuracy:.2%}, {profile.parameters:,} "
            f"parameters, {result['train_seconds_per_epoch']:.2f} s per epoch",
            soft_wrap=True,
        )
    return result


class _EpochTimer(keras.callbacks.Callback):
    """Wall time of each epoch's training steps, validation excluded."""

    def __init__(self):
        super().__init__()
        self.seconds = []
        self._started = None

    def on_epoch_begin(self, epoch, logs=None):
        self._started = time.perf_counter()

    def on_test_begin(self, logs=None):
        self._stop()

    def on_epoch_end(self, epoch, logs=None):
        self._stop()

    def _stop(self):
        if self._started is not None:
            self.seconds.append(time.perf_counter() - self._started)
            self._started = None


def _setup(dataset, *, epochs, seed):
    sizes = {
        split: 0 if arrays is None else len(arrays[1])
        for split, arrays in dataset.splits.items()
    }
    backend = keras.backend.backend()
    return {
        "data": dataset.description,
        "classes": dataset.class_names,
        "image_shape": list(dataset.splits["train"][0].shape[1:]),
        "split": sizes,
        "split_method": (
            f"stratified per class with the seed: {TEST_SPLIT:.0%} test, "
            f"{VALIDATION_SPLIT:.0%} validation (for the learning curves only), "
            "the rest training"
        ),
        "seed": seed,
        "epochs": epochs,
        "batch_size": BATCH_SIZE,
        "optimizer": (
            f"Adam, learning rate {LEARNING_RATE:g} with cosine decay to 0 over "
            "all steps; sparse categorical cross-entropy"
        ),
        "dropout": DROPOUT,
        "augmentation": (
            f"random rotations up to {AUGMENTATION['rotation']:g} turn and zooms "
            f"up to {AUGMENTATION['zoom']:.0%} of the training images, no flips"
        ),
        "training_time": (
            "median over the epochs of the wall time of the training steps "
            "(augmentation included, validation excluded)"
        ),
        "latency": (
            "median milliseconds per example of predict_on_batch on copies of one "
            "test image"
        ),
        "keras": keras.__version__,
        "backend": f"{backend} {_version(backend)}",
        "device": _device(),
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
    }


def _version(package):
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return "(version unknown)"


def _device():
    accelerators = list_accelerators()
    if accelerators:
        return ", ".join(f"{a.kind} {a.name}" for a in accelerators)
    cores = (
        len(os.sched_getaffinity(0))
        if hasattr(os, "sched_getaffinity")
        else os.cpu_count()
    )
    return f"CPU {_cpu_name()} ({cores} cores available)"


def _cpu_name():
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _write(comparison, output):
    plots = output / PLOTS_DIR
    models = comparison["models"]
    names = [m["model"] for m in models]
    accuracies = [m["test_accuracy"] for m in models]
    plot_accuracy_scatter(
        names,
        accuracies,
        {"parameters": [m["parameters"] for m in models]},
        plots / "accuracy_vs_parameters.png",
        xlabel="parameters",
    )
    plot_accuracy_scatter(
        names,
        accuracies,
        {
            f"batch {b}": [m["latency_ms"][str(b)] for m in models]
            for b in LATENCY_BATCH_SIZES
        },
        plots / "accuracy_vs_latency.png",
        xlabel="latency, ms per example",
    )
    for m in models:
        plot_learning_curves(m["history"], plots / f"learning_curves_{m['model']}.png")
    for name in MODELS.keys() - set(names):  # Left by an overwritten comparison.
        (plots / f"learning_curves_{name}.png").unlink(missing_ok=True)
    with atomic_path(output / "comparison.md") as tmp:
        tmp.write_text(_markdown(comparison))
    write_json(output / "comparison.json", comparison)


def _markdown(comparison):
    setup = comparison["setup"]
    lines = [
        "# CNN vs RNN comparison",
        "",
        "| " + " | ".join(COLUMNS) + " |",
        "|" + "---|" + "---:|" * (len(COLUMNS) - 1),
        *("| " + " | ".join(row) + " |" for row in table_rows(comparison)),
        "",
        f"{CAPTION}.",
        "",
        "![accuracy vs parameters](plots/accuracy_vs_parameters.png)",
        "![accuracy vs latency](plots/accuracy_vs_latency.png)",
        "",
        "Learning curves: "
        + ", ".join(
            f"[{m['model']}](plots/learning_curves_{m['model']}.png)"
            for m in comparison["models"]
        )
        + ".",
        "",
        "## Set-up",
        "",
        f"- Data: {setup['data']}.",
        "- Split: "
        + ", ".join(f"{n} {split}" for split, n in setup["split"].items())
        + f" images; {setup['split_method']}; seed {setup['seed']}.",
        "- Models:",
        *(f"  - `{m['model']}`: {m['description']}" for m in comparison["models"]),
        f"- Training, the same for every model: {setup['epochs']} epochs, batch "
        f"{setup['batch_size']}, {setup['optimizer']}, dropout {setup['dropout']} "
        f"before the softmax, {setup['augmentation']}; "
        "`keras.utils.set_random_seed(seed)` before each model is built.",
        f"- Training time per epoch: {setup['training_time']}.",
        "- FLOPs and memory: one example's forward pass in inference mode, "
        "measured by `cnnrnn.profiling`: 2 FLOPs per multiply-accumulate, and "
        "the peak activation memory (the largest total size of the layer "
        "outputs alive at once; weights excluded).",
        f"- Latency (ms / example): {setup['latency']}, at batch "
        + " and ".join(map(str, LATENCY_BATCH_SIZES))
        + ".",
        f"- Keras {setup['keras']}, backend {setup['backend']}, "
        f"device {setup['device']}, {setup['date']}.",
        "",
    ]
    return "\n".join(lines)
