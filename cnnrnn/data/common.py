"""What every data loader returns, and helpers shared by the loaders."""

import dataclasses
from typing import Any

import numpy as np
import tensorflow as tf

from cnnrnn.data.options import check_split_fractions
from cnnrnn.errors import DataError


@dataclasses.dataclass
class DataSplits:
    """Batched train/validation/test datasets plus what the model needs to know.

    Args:
        train: `tf.data.Dataset` of `(inputs, targets)` batches, or None.
        validation: same, or None when there is no validation split.
        test: same, or None when there is no test split.
        model_args: factory arguments fixed by the data, for example
            `{"image_shape": (64, 64, 3), "num_classes": 4}`.
        info: JSON-serialisable facts about the data: `class_names`,
            `num_examples` per split, skipped files and other counts.
        extras: dict. Per-split data an application's evaluation needs beyond
            `(inputs, targets)` batches, e.g. the captioner's images with all
            their reference captions. Defaults to `{}`.
    """

    train: Any
    validation: Any
    test: Any
    model_args: dict
    info: dict
    extras: dict = dataclasses.field(default_factory=dict)


def class_folders(directory, *, what, expected):
    """Returns `{class_name: folder}` for the visible sub-folders, sorted.

    Args:
        directory: `pathlib.Path`. The data folder.
        what: str. What it is, for the messages, e.g. `"Image folder"`.
        expected: str. The layout it needs, for the messages, e.g. `"one
            sub-folder of images per class, e.g. 'DIR/rose/001.jpg'"`.

    Raises:
        DataError: when the folder is missing, a file, or has no sub-folders.
    """
    if not directory.exists():
        raise DataError(
            f"{what} '{directory}' does not exist: pass a folder with {expected}."
        )
    if not directory.is_dir():
        raise DataError(
            f"{what} '{directory}' is a file: pass a folder with {expected}."
        )
    entries = [e for e in sorted(directory.iterdir()) if not e.name.startswith(".")]
    class_dirs = {entry.name: entry for entry in entries if entry.is_dir()}
    if not class_dirs:
        state = "holds files but no" if entries else "is empty, with no"
        raise DataError(
            f"{what} '{directory}' {state} class sub-folders: the loader expects "
            f"{expected}."
        )
    return class_dirs


def check_no_tfds_options(source, options):
    """Raises `DataError` when a folder source is given `data_dir`.

    `data_dir` is where TensorFlow Datasets keeps a `"tfds:NAME"` set; a
    folder is read where it is.
    """
    if options.pop("data_dir", None) is not None:
        raise DataError(
            f"data.data_dir is where TensorFlow Datasets sets are kept, but "
            f"'{source}' is a folder: remove data.data_dir, or pass --data tfds:NAME."
        )


def stratified_split(labels, *, validation_split, test_split, seed):
    """Splits example indices into train, validation and test, class by class.

    Each class is shuffled with `seed` and cut in the given proportions, so every
    split keeps the class balance of the whole. A class with at least 3 examples
    puts at least one example in each split whose fraction is non-zero (and keeps
    one for training unless the fractions sum to 1).

    Args:
        labels: sequence of class labels (any hashable values), one per example.
        validation_split: float. Fraction of each class for validation.
        test_split: float. Fraction of each class for testing; 1.0 puts every
            example in the test split.
        seed: int. Seed of the shuffle; the same seed gives the same split.

    Returns:
        A tuple `(train, validation, test)` of shuffled int64 index arrays.

    Raises:
        DataError: if a fraction is outside [0, 1] or they sum to more than 1.

    Example:

    >>> train, val, test = stratified_split(
    ...     [0, 0, 0, 0, 1, 1, 1, 1], validation_split=0.25, test_split=0.25, seed=1
    ... )
    >>> len(train), len(val), len(test)
    (4, 2, 2)
    """
    check_split_fractions(validation_split, test_split)
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    parts = ([], [], [])
    for label in np.unique(labels):
        indices = np.flatnonzero(labels == label)
        rng.shuffle(indices)
        n_val, n_test = _split_counts(len(indices), validation_split, test_split)
        parts[2].append(indices[:n_test])
        parts[1].append(indices[n_test : n_test + n_val])
        parts[0].append(indices[n_test + n_val :])
    splits = []
    for part in parts:
        indices = np.concatenate(part) if part else np.zeros(0, np.int64)
        splits.append(rng.permutation(indices).astype(np.int64))
    return tuple(splits)


def classes_not_scored(labels_by_split, class_names):
    """Names of classes that a validation or test split with examples lacks.

    A class with fewer than 3 examples trains but cannot be in every split, so
    it is never scored; the loaders name such classes in
    `info["classes_not_scored"]`.

    Args:
        labels_by_split: dict of split name to its class ids.
        class_names: list of str, indexed by class id.

    Returns:
        A list of class names (empty when every class is in every split).
    """
    held = {
        split: set(np.asarray(labels).tolist())
        for split, labels in labels_by_split.items()
        if len(labels)
    }
    found = set().union(*held.values())
    scored = [ids for split, ids in held.items() if split != "train"]
    return [
        name
        for index, name in enumerate(class_names)
        if index in found and any(index not in ids for ids in scored)
    ]


def _split_counts(n, validation_split, test_split):
    """Numbers of validation and test examples for a class of `n` examples."""
    n_test = round(n * test_split)
    n_val = round(n * (test_split + validation_split)) - n_test
    if n < 3:
        return n_val, n_test
    n_test = max(n_test, int(test_split > 0))
    n_val = max(n_val, int(validation_split > 0))
    keep_for_train = int(validation_split + test_split < 1 - 1e-9)
    while n_val + n_test > n - keep_for_train:
        if n_val >= n_test:
            n_val -= 1
        else:
            n_test -= 1
    return n_val, n_test


def tfds_classification_builder(
    name, *, input_feature, kind, example, data_dir=None, infer_keys=False
):
    """Finds a TensorFlow Datasets classification set and checks its features.

    Args:
        name: str. TensorFlow Datasets name.
        input_feature: the `tfds.features` class the input must be, e.g.
            `tfds.features.Image`.
        kind: str. What the input must be, for messages: `"an image"` or
            `"a text"`.
        example: str. A suitable set's name, for messages.
        data_dir: str or None. Where TensorFlow Datasets keeps its data.
        infer_keys: bool. For a set without supervised keys (such as
            `ucf101`), use its only top-level `input_feature` and its only
            top-level `ClassLabel` feature. Such a set must then be read with
            `as_supervised=False`. Defaults to `False`.

    Returns:
        A tuple `(builder, input_key, label_key, class_names)`, the class
        names in the set's own order.

    Raises:
        DataError: for an unknown name or a set that is not a `kind`
            classification set.
    """
    # Imported here: importing TensorFlow Datasets takes seconds.
    import tensorflow_datasets as tfds

    try:
        builder = tfds.builder(name, data_dir=data_dir)
    except tfds.core.DatasetNotFoundError:
        raise DataError(
            f"Unknown TensorFlow Datasets name {name!r}: see "
            f"`tfds.list_builders()` for the names, e.g. 'tfds:{example}'."
        ) from None
    features = dict(builder.info.features.items())
    input_key, label_key = builder.info.supervised_keys or (None, None)
    if infer_keys and not builder.info.supervised_keys:
        inputs = [k for k, f in features.items() if isinstance(f, input_feature)]
        labels = [
            k for k, f in features.items() if isinstance(f, tfds.features.ClassLabel)
        ]
        if len(inputs) == 1 and len(labels) == 1:
            input_key, label_key = inputs[0], labels[0]
    if not (
        isinstance(features.get(input_key), input_feature)
        and isinstance(features.get(label_key), tfds.features.ClassLabel)
    ):
        raise DataError(
            f"TensorFlow Datasets set {name!r} is not {kind}-classification set "
            f"({kind} input and a class label): choose one such as '{example}'."
        )
    return builder, input_key, label_key, list(features[label_key].names)


def prepare_tfds_classification(
    builder, name, source_names, class_names, *, validation_split, test_split
):
    """Prepares a TensorFlow Datasets classification set for a loader.

    Downloads the set if needed, orders its classes (the set's own order, or
    a trained model's `class_names`) and plans the splits (see
    `tfds_split_specs`).

    Returns:
        A tuple `(class_names, label_map, split_specs)`: `label_map[i]` is
        the label id of the set's class `i`.
    """
    class_names = label_order(
        f"TensorFlow Datasets set {name!r}", source_names, class_names
    )
    label_map = np.array([class_names.index(n) for n in source_names], np.int32)
    builder.download_and_prepare()
    # A mocked set (`tfds.testing.mock_data`) has no split information.
    available = set(builder.info.splits) or {"train"}
    return (
        class_names,
        label_map,
        tfds_split_specs(name, available, validation_split, test_split),
    )


def label_order(what, source_classes, class_names):
    """Returns the class names whose order defines the labels.

    `what` names the data in messages, e.g. "Image folder 'photos'".
    """
    source_classes = list(source_classes)
    if class_names is None:
        if len(source_classes) < 2:
            raise DataError(
                f"{what} has only one class ({source_classes[0]!r}): a classifier "
                "needs at least two, so add a sub-folder of images per class."
            )
        return source_classes
    if isinstance(class_names, str) or len(set(class_names)) != len(class_names):
        raise DataError(
            f"Received: class_names={class_names!r}. Expected a list of distinct "
            "class names."
        )
    unknown = [name for name in source_classes if name not in class_names]
    if unknown:
        raise DataError(
            f"{what} has classes the model does not know: "
            f"{', '.join(map(repr, unknown))}. Expected only classes among "
            f"{', '.join(map(repr, class_names))}."
        )
    return list(class_names)


def tfds_split_specs(name, available, validation_split, test_split):
    """Maps train/validation/test to TensorFlow Datasets split strings or None.

    Splits the set lacks are cut from the end of `train`: `[train|val|test]`.
    """
    if "train" not in available:
        raise DataError(
            f"TensorFlow Datasets set {name!r} has no 'train' split "
            f"(it has {', '.join(sorted(available))}): choose another set."
        )
    specs = {}
    end = 100.0
    for split, fraction in (("test", test_split), ("validation", validation_split)):
        if split in available:
            specs[split] = split
            continue
        start = round(max(end - 100.0 * fraction, 0.0), 6)
        specs[split] = _train_slice(start, end)
        end = start
    specs["train"] = _train_slice(0.0, end)
    return {split: specs[split] for split in ("train", "validation", "test")}


def _train_slice(start, end):
    """`"train[start%:end%]"`, shortened, or None when the slice is empty."""
    if start >= end:
        return None
    if (start, end) == (0.0, 100.0):
        return "train"
    lower = f"{start:g}%" if start > 0 else ""
    upper = f"{end:g}%" if end < 100 else ""
    return f"train[{lower}:{upper}]"


def first_example(dataset):
    """The inputs of a dataset's first example, as a batch of one.

    Args:
        dataset: `tf.data.Dataset` of `(inputs, targets)` batches.

    Returns:
        The inputs (a NumPy array, or a nest of them, strings as bytes
        objects) of the first example, with a leading dimension of 1.
    """
    inputs, _ = next(iter(dataset.take(1)))
    return tf.nest.map_structure(lambda x: np.asarray(x)[:1], inputs)
