"""Image classification data: a folder of class sub-folders, or `tfds:NAME`."""

import concurrent.futures
import dataclasses
import functools
import io
import numbers
import os
import pathlib

import numpy as np
import tensorflow as tf
from PIL import Image, UnidentifiedImageError

from cnnrnn.data.common import (
    DataSplits,
    check_no_tfds_options,
    class_folders,
    classes_not_scored,
    label_order,
    prepare_tfds_classification,
    stratified_split,
    tfds_classification_builder,
)
from cnnrnn.data.options import check_choice, check_positive_int, check_split_fractions
from cnnrnn.errors import DataError

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif")

_ON_BAD_FILE = ("skip", "error")
# Smallest and largest side that `image_size="auto"` chooses.
AUTO_IMAGE_SIZE_RANGE = (32, 64)
# Images of a TensorFlow Datasets set whose sizes `"auto"` looks at.
_AUTO_SIZE_SAMPLE = 64

# A split is cached in memory when its decoded float32 images fit in this budget.
_CACHE_BUDGET_BYTES = 1 << 30
# Shuffle buffer (in undecoded examples) of a training split too big to cache.
_SHUFFLE_BUFFER = 10_000
# At most this many skipped files are listed in `info["skipped_files"]`.
_MAX_LISTED_SKIPS = 20
_SPLITS = ("train", "validation", "test")
# Formats that `tf.io.decode_image` turns into correct RGB pixels in any mode;
# other files (palette or 1-bit BMP, TIFF or WebP under an image extension) are
# decoded by PIL inside the pipeline.
_TF_FORMATS = ("JPEG", "PNG", "GIF")
_TF_BMP_MODES = ("RGB", "RGBA", "L")


def load_images(source, **kwargs):
    """Loads image classification data from a class folder or TensorFlow Datasets.

    Args:
        source: str or path. `"tfds:NAME"` loads the TensorFlow Datasets set
            `NAME` with `load_tfds_images`; anything else is a folder with one
            sub-folder per class, loaded with `load_image_folder`.
        **kwargs: keyword arguments of the chosen loader. `on_bad_file` only
            concerns folders; it is checked, then ignored for `"tfds:NAME"`, so
            one set of options serves both kinds of source.

    Returns:
        A `DataSplits` of `(images, labels)` batches.

    Raises:
        DataError: see `load_image_folder` and `load_tfds_images`.

    Example:

    >>> data = load_images("tfds:tf_flowers", image_size=128)
    >>> data = load_images("photos/", validation_split=0.2)
    """
    if isinstance(source, str) and source.startswith("tfds:"):
        check_choice("on_bad_file", kwargs.pop("on_bad_file", "skip"), _ON_BAD_FILE)
        return load_tfds_images(source.removeprefix("tfds:"), **kwargs)
    check_no_tfds_options(source, kwargs)
    return load_image_folder(source, **kwargs)


def load_image_folder(
    directory,
    *,
    image_size=(64, 64),
    batch_size=32,
    validation_split=0.15,
    test_split=0.15,
    seed=1337,
    on_bad_file="skip",
    class_names=None,
    cache=True,
):
    """Loads a folder with one sub-folder of images per class.

    Sub-folders sorted by name are the classes (nested folders inside a class
    are included). Hidden files and folders are ignored, and so are files next
    to the class folders. Every file is checked once with PIL before the
    `tf.data` pipelines are built; files that are not readable JPEG, PNG, BMP or
    GIF images are skipped or rejected, as `on_bad_file` says, and images that
    are not RGB (grayscale, RGBA, palette, CMYK) are converted or rejected.

    Args:
        directory: str or path. The folder, laid out as `directory/<class>/<image>`.
        image_size: int, tuple `(height, width)` or `"auto"`. Size every
            image is resized to; `"auto"` chooses a square size from the
            images (see `auto_image_size`) and names it in `info["chosen"]`.
            Defaults to `(64, 64)`.
        batch_size: int. Examples per batch. Defaults to `32`.
        validation_split: float. Fraction of each class for validation.
            Defaults to `0.15`.
        test_split: float. Fraction of each class for testing; `1.0` puts every
            image in the test split. Defaults to `0.15`.
        seed: int. Seed of the split and of the training shuffle. Defaults to
            `1337`.
        on_bad_file: `"skip"` skips unreadable or non-image files and converts
            non-RGB images to RGB, counting both in `info`; `"error"` raises on
            the first such file. Defaults to `"skip"`.
        class_names: list of str, or None. The classes of a trained model, when
            evaluating it on new data: the folder's classes must be among them
            (one class is then enough) and labels follow this order. Defaults
            to None (the folder's classes).
        cache: bool. Keep the decoded images of each split in memory after the
            first epoch, when they fit in 1 GiB. Defaults to `True`.

    Returns:
        A `DataSplits` whose datasets yield `(images, labels)` batches: float32
        images `(batch, height, width, 3)` with raw pixel values in [0, 255] and
        int32 class ids. A split without examples is None. `model_args` holds
        `image_shape` and `num_classes`; `info` holds `source`, `class_names`,
        `num_examples` per split, `num_skipped`, `skipped_files` (the first 20,
        as `"path: reason"`) and `num_converted`.

    Raises:
        DataError: if the folder is missing or not laid out in class folders, a
            class folder holds no images, there is only one class, a class is
            not in `class_names`, an option is invalid, or (with
            `on_bad_file="error"`) a file is unreadable or not RGB.

    Example:

    >>> data = load_image_folder("flowers/", image_size=128, batch_size=64)
    >>> model.fit(data.train, validation_data=data.validation, epochs=5)
    """
    auto = image_size == "auto"
    height, width = (1, 1) if auto else _image_size(image_size)
    check_positive_int("batch_size", batch_size)
    check_split_fractions(validation_split, test_split)
    check_choice("on_bad_file", on_bad_file, _ON_BAD_FILE)
    directory = pathlib.Path(directory)
    class_dirs = class_folders(
        directory,
        what="Image folder",
        expected="one sub-folder per class, holding its images, e.g. "
        f"'{directory / 'rose' / '001.jpg'}', '{directory / 'tulip' / '002.jpg'}' "
        "(or pass 'tfds:NAME')",
    )
    class_names = label_order(f"Image folder '{directory}'", class_dirs, class_names)

    candidates = []
    for class_name, class_dir in class_dirs.items():
        files = _visible_files(class_dir)
        if not files:
            raise DataError(
                f"Class folder '{class_dir}' holds no images: "
                "add images or remove the folder."
            )
        candidates += [(path, class_names.index(class_name)) for path in files]
    checks = check_image_files([path for path, _ in candidates], extension_check=True)

    paths, labels, tf_decodable, skipped, num_converted = _apply_on_bad_file(
        candidates, checks, on_bad_file
    )
    labels_found = set(labels)
    for class_name, class_dir in class_dirs.items():
        if class_names.index(class_name) not in labels_found:
            raise DataError(
                f"Class folder '{class_dir}' holds no readable images (all were "
                "skipped): add images or remove the folder."
            )

    chosen = {}
    if auto:
        side = auto_image_size([check.size for check in checks if check.size])
        height = width = side
        chosen["image_size"] = [side, side]
    paths, labels = np.array(paths), np.array(labels, np.int32)
    tf_decodable = np.array(tf_decodable)
    indices = stratified_split(
        labels, validation_split=validation_split, test_split=test_split, seed=seed
    )
    splits = {
        split: (
            tf.data.Dataset.from_tensor_slices(
                (paths[index], tf_decodable[index], labels[index])
            ),
            len(index),
        )
        for split, index in zip(_SPLITS, indices, strict=True)
    }
    decode = image_decoder(height, width, use_pil=not tf_decodable.all())

    def to_example(path, decodable, label):
        return decode(tf.io.read_file(path), decodable), label

    return _finish(
        splits,
        to_example,
        source=str(directory),
        class_names=class_names,
        image_size=(height, width),
        batch_size=batch_size,
        seed=seed,
        cache=cache,
        extra_info={
            "num_skipped": len(skipped),
            "skipped_files": skipped[:_MAX_LISTED_SKIPS],
            "num_converted": num_converted,
            "classes_not_scored": classes_not_scored(
                dict(zip(_SPLITS, (labels[index] for index in indices), strict=True)),
                class_names,
            ),
            **({"chosen": chosen} if chosen else {}),
        },
    )


def auto_image_size(sizes):
    """A square image size for a set of images, within what a CPU trains well.

    The median shorter side of the images, rounded down to a multiple of 16,
    between `AUTO_IMAGE_SIZE_RANGE[0]` and `AUTO_IMAGE_SIZE_RANGE[1]`: photos
    are not enlarged beyond their own detail, nor kept so large that an epoch
    takes minutes.

    Args:
        sizes: list of `(height, width)` tuples.

    Returns:
        int. The side in pixels.

    Example:

    >>> auto_image_size([(128, 128), (240, 320), (100, 90)])
    64
    """
    smallest, largest = AUTO_IMAGE_SIZE_RANGE
    median = int(np.median([min(size) for size in sizes])) if sizes else largest
    return max(smallest, min(largest, median // 16 * 16))


def load_tfds_images(
    name,
    *,
    image_size=(64, 64),
    batch_size=32,
    validation_split=0.15,
    test_split=0.15,
    seed=1337,
    class_names=None,
    data_dir=None,
    cache=True,
):
    """Loads a TensorFlow Datasets image-classification set, such as `tf_flowers`.

    The set's own `validation` and `test` splits are used when it has them;
    a missing one is cut from the end of its `train` split by percent
    (`validation_split` and `test_split` are fractions of `train`). The first
    call downloads and prepares the data, which needs network access and can
    take long; later calls read it from `data_dir`.

    Args:
        name: str. TensorFlow Datasets name, e.g. `"tf_flowers"` or
            `"plant_village"`.
        image_size: int, tuple `(height, width)` or `"auto"` (chosen from
            the first training images, see `auto_image_size`). Size every
            image is resized to. Defaults to `(64, 64)`.
        batch_size: int. Examples per batch. Defaults to `32`.
        validation_split: float. Fraction of `train` used for validation when
            the set has no `validation` split. Defaults to `0.15`.
        test_split: float. Fraction of `train` used for testing when the set
            has no `test` split; `1.0` puts all of `train` there. Defaults to
            `0.15`.
        seed: int. Seed of the training shuffle. Defaults to `1337`.
        class_names: list of str, or None. The classes of a trained model: the
            set's classes must be among them and labels follow this order.
            Defaults to None (the set's classes).
        data_dir: str or None. Where TensorFlow Datasets keeps its data.
            Defaults to None (`~/tensorflow_datasets`).
        cache: bool. Keep the decoded images of each split in memory after the
            first epoch, when they fit in 1 GiB. Defaults to `True`.

    Returns:
        A `DataSplits` like `load_image_folder`'s, with `info["source"]` set to
        `"tfds:NAME"`, `info["splits"]` naming the TensorFlow Datasets split
        behind each split, and no skipped or converted files.

    Raises:
        DataError: if TensorFlow Datasets does not know `name`, the set is not
            an image-classification set, a class is not in `class_names`, or
            an option is invalid.

    Example:

    >>> data = load_tfds_images("tf_flowers", image_size=128)
    >>> data.info["class_names"]
    ['dandelion', 'daisy', 'tulips', 'sunflowers', 'roses']
    """
    # Imported here: importing TensorFlow Datasets takes seconds.
    import tensorflow_datasets as tfds

    auto = image_size == "auto"
    height, width = (1, 1) if auto else _image_size(image_size)
    check_positive_int("batch_size", batch_size)
    check_split_fractions(validation_split, test_split)
    builder, image_key, _, source_names = tfds_classification_builder(
        name,
        input_feature=tfds.features.Image,
        kind="an image",
        example="tf_flowers",
        data_dir=data_dir,
    )
    class_names, label_map, split_specs = prepare_tfds_classification(
        builder,
        name,
        source_names,
        class_names,
        validation_split=validation_split,
        test_split=test_split,
    )
    splits = {}
    for split, spec in split_specs.items():
        if spec is None:
            splits[split] = (None, 0)
            continue
        # Images stay encoded until after the shuffle; `to_example` decodes them.
        encoded = builder.as_dataset(
            split=spec,
            as_supervised=True,
            decoders={image_key: tfds.decode.SkipDecoding()},
            shuffle_files=split == "train",
            read_config=tfds.ReadConfig(shuffle_seed=seed),
        )
        splits[split] = (encoded, int(encoded.cardinality()))
    chosen = {}
    if auto:
        sample = splits["train"][0].take(_AUTO_SIZE_SAMPLE).as_numpy_iterator()
        side = auto_image_size(
            [tuple(tf.image.decode_image(contents).shape[:2]) for contents, _ in sample]
        )
        height = width = side
        chosen["image_size"] = [side, side]
    decode = image_decoder(height, width, use_pil=False)

    def to_example(contents, label):
        return decode(contents, True), tf.gather(label_map, label)

    return _finish(
        splits,
        to_example,
        source=f"tfds:{name}",
        class_names=class_names,
        image_size=(height, width),
        batch_size=batch_size,
        seed=seed,
        cache=cache,
        extra_info={
            "splits": split_specs,
            "num_skipped": 0,
            "skipped_files": [],
            "num_converted": 0,
            **({"chosen": chosen} if chosen else {}),
        },
    )


def load_image_files(paths, *, image_size=(64, 64)):
    """Reads image files for prediction, resized the same way as for training.

    Args:
        paths: list of str or paths (or a single one). JPEG, PNG, BMP or GIF
            files, in any mode; non-RGB images are converted to RGB.
        image_size: int or tuple `(height, width)`. Size every image is resized
            to; use the model's input size. Defaults to `(64, 64)`.

    Returns:
        A float32 NumPy array `(len(paths), height, width, 3)` of raw pixel
        values in [0, 255].

    Raises:
        DataError: if no path is given, or a file is missing or not a readable
            image.

    Example:

    >>> images = load_image_files(["rose.jpg", "tulip.png"], image_size=128)
    >>> model.predict(images).argmax(axis=-1)
    """
    height, width = _image_size(image_size)
    if isinstance(paths, str | os.PathLike):
        paths = [paths]
    paths = [str(path) for path in paths]
    if not paths:
        raise DataError("No image files given: pass at least one image path.")
    checks = check_image_files(paths, extension_check=False)
    for path, check in zip(paths, checks, strict=True):
        if check.problem is not None:
            raise DataError(
                f"Image file '{path}' {check.problem}: pass a readable JPEG, PNG, "
                "BMP or GIF file."
            )
    tf_decodable = [check.tf_decodable for check in checks]
    decode = _traced_decoder(height, width, use_pil=not all(tf_decodable))
    return np.stack(
        [
            decode(tf.io.read_file(path), decodable).numpy()
            for path, decodable in zip(paths, tf_decodable, strict=True)
        ]
    )


@functools.lru_cache(maxsize=16)
def _traced_decoder(height, width, *, use_pil):
    """The training pipeline's decoding as a `tf.function`, traced once per
    size: a `tf.data` pipeline per call would cost some 15 ms, ten images'
    worth, which is most of a served request."""
    return tf.function(
        image_decoder(height, width, use_pil=use_pil),
        input_signature=(
            tf.TensorSpec((), tf.string),
            tf.TensorSpec((), tf.bool),
        ),
    )


def _apply_on_bad_file(candidates, checks, on_bad_file):
    """Keeps the usable `(path, label)` candidates; raises or counts the others.

    Returns:
        Lists of the kept paths, labels and `tf_decodable` flags, the list of
        skipped files as `"path: reason"`, and the number of converted images.
    """
    paths, labels, tf_decodable, skipped, num_converted = [], [], [], [], 0
    for (path, label), check in zip(candidates, checks, strict=True):
        if check.problem is not None:
            if on_bad_file == "error":
                raise DataError(
                    f"Image file '{path}' {check.problem}: fix or remove it, or "
                    "pass on_bad_file='skip' to skip such files."
                )
            skipped.append(f"{path}: {check.problem}")
            continue
        if check.mode != "RGB":
            if on_bad_file == "error":
                raise DataError(
                    f"Image file '{path}' has mode '{check.mode}', not RGB: convert "
                    "it to RGB, or pass on_bad_file='skip' to convert such images."
                )
            num_converted += 1
        paths.append(str(path))
        labels.append(label)
        tf_decodable.append(check.tf_decodable)
    return paths, labels, tf_decodable, skipped, num_converted


@dataclasses.dataclass(frozen=True)
class _FileCheck:
    """What PIL found in one file: a problem (why it is unusable) or its mode."""

    problem: str | None = None
    mode: str | None = None
    tf_decodable: bool = True
    size: tuple[int, int] | None = None  # (height, width)


def _check_file(path, extension_check):
    if extension_check and path.suffix.lower() not in IMAGE_EXTENSIONS:
        extensions = ", ".join(IMAGE_EXTENSIONS)
        return _FileCheck(
            problem=f"is not an image file (expected one of {extensions})"
        )
    if not path.is_file():
        return _FileCheck(problem="is a folder" if path.is_dir() else "does not exist")
    try:
        with Image.open(path) as image:
            image.load()
            mode, image_format = image.mode, image.format
            width, height = image.size
    except UnidentifiedImageError:
        return _FileCheck(problem="is not an image PIL can read")
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as error:
        message = " ".join(str(error).split())
        return _FileCheck(problem=f"is a corrupt image ({message})")
    tf_decodable = image_format in _TF_FORMATS or (
        image_format == "BMP" and mode in _TF_BMP_MODES
    )
    return _FileCheck(mode=mode, tf_decodable=tf_decodable, size=(height, width))


def check_image_files(paths, *, extension_check):
    """Opens and decodes every file once with PIL, in threads.

    Args:
        paths: list of str or paths.
        extension_check: bool. Whether a file without one of the
            `IMAGE_EXTENSIONS` is a problem.

    Returns:
        One check per path, in order, with `problem` (None, or why the file is
        unusable, e.g. `"is a corrupt image (...)"`), `mode` (the PIL mode,
        e.g. `"RGB"`), `size` (`(height, width)`) and `tf_decodable` (whether
        `tf.io.decode_image` decodes it correctly; pass it to the
        `image_decoder` function).
    """
    paths = [pathlib.Path(path) for path in paths]
    if len(paths) == 1:  # no threads to start
        return [_check_file(paths[0], extension_check)]
    with concurrent.futures.ThreadPoolExecutor() as executor:
        return list(
            executor.map(lambda path: _check_file(path, extension_check), paths)
        )


def image_decoder(height, width, *, use_pil):
    """Returns `decode(contents, tf_decodable)`: float32 RGB, resized.

    The function decodes a file's bytes (a string tensor) inside a `tf.data`
    pipeline into float32 pixels `(height, width, 3)` in [0, 255].
    `tf_decodable` (a bool tensor, from `check_image_files`) says whether
    TensorFlow decodes the file correctly; with `use_pil`, the others are
    decoded by PIL (a Python call, so only when needed).
    """

    def decode(contents, tf_decodable):
        def decode_with_tf():
            return tf.io.decode_image(contents, channels=3, expand_animations=False)

        if use_pil:
            image = tf.cond(
                tf_decodable,
                decode_with_tf,
                lambda: tf.numpy_function(_decode_with_pil, [contents], tf.uint8),
            )
        else:
            image = decode_with_tf()
        image.set_shape((None, None, 3))
        return tf.image.resize(image, (height, width))

    return decode


def _decode_with_pil(contents):
    with Image.open(io.BytesIO(contents)) as image:
        return np.asarray(image.convert("RGB"))


def _finish(
    splits,
    to_example,
    *,
    source,
    class_names,
    image_size,
    batch_size,
    seed,
    cache,
    extra_info,
):
    """Builds the `DataSplits` from `{split: (raw_examples, count)}`.

    Each split is decoded by `to_example` in parallel, cached when it fits in
    memory, shuffled (train only: after the cache, or before decoding when not
    cached), batched and prefetched.
    """
    height, width = image_size
    example_bytes = height * width * 3 * 4
    datasets = {}
    for split, (examples, count) in splits.items():
        if count == 0:
            datasets[split] = None
            continue
        fits = cache and count * example_bytes <= _CACHE_BUDGET_BYTES
        if split == "train" and not fits:
            examples = examples.shuffle(
                min(count, _SHUFFLE_BUFFER), seed=seed, reshuffle_each_iteration=True
            )
        examples = examples.map(to_example, num_parallel_calls=tf.data.AUTOTUNE)
        if fits:
            examples = examples.cache()
            if split == "train":
                examples = examples.shuffle(
                    count, seed=seed, reshuffle_each_iteration=True
                )
        datasets[split] = examples.batch(batch_size).prefetch(tf.data.AUTOTUNE)
    info = {
        "source": source,
        "class_names": list(class_names),
        "num_examples": {split: count for split, (_, count) in splits.items()},
        **extra_info,
    }
    return DataSplits(
        train=datasets["train"],
        validation=datasets["validation"],
        test=datasets["test"],
        model_args={
            "image_shape": (height, width, 3),
            "num_classes": len(class_names),
        },
        info=info,
    )


def _image_size(image_size):
    if isinstance(image_size, numbers.Integral):
        size = (image_size, image_size)
    else:
        size = tuple(image_size) if isinstance(image_size, list | tuple) else ()
    if len(size) != 2 or not all(
        isinstance(n, numbers.Integral) and not isinstance(n, bool) and n >= 1
        for n in size
    ):
        raise DataError(
            f"Received: image_size={image_size!r}. Expected a positive int "
            "or a tuple (height, width) of positive ints."
        )
    return int(size[0]), int(size[1])


def _visible_files(folder):
    """Files under `folder`, sorted, without hidden files or hidden folders."""
    return sorted(
        path
        for path in folder.rglob("*")
        if path.is_file()
        and not any(part.startswith(".") for part in path.relative_to(folder).parts)
    )
