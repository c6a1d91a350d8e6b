"""Video classification data: a folder of class sub-folders of clips, or `tfds:NAME`.

A clip is a video file, decoded with PyAV (the maintained Python bindings of
FFmpeg, installed as binary wheels, with exact frame-by-frame decoding), a
folder of frame images, or a `.npy` array. Every clip becomes `num_frames`
frames picked evenly across the whole clip, resized and centre-cropped, plus
a mask that marks the padding of clips shorter than `num_frames`.
"""

import concurrent.futures
import contextlib
import dataclasses
import hashlib
import json
import numbers
import os
import pathlib
import re
import tempfile

import av
import numpy as np
import tensorflow as tf
from PIL import Image, ImageOps

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
from cnnrnn.data.images import (
    AUTO_IMAGE_SIZE_RANGE,
    IMAGE_EXTENSIONS,
    auto_image_size,
)
from cnnrnn.data.options import check_choice, check_positive_int, check_split_fractions
from cnnrnn.errors import DataError

VIDEO_EXTENSIONS = (".mp4", ".avi", ".webm", ".mkv", ".mov")
ARRAY_EXTENSION = ".npy"

_ON_BAD_FILE = ("skip", "error")
_SPLITS = ("train", "validation", "test")
_LAYOUT = "DIR/<class>/<clip>.mp4"
_CLIP_KINDS = (
    f"a readable video file ({', '.join(VIDEO_EXTENSIONS)}), a folder of frame images "
    "or a .npy array"
)
# Frames must be at least this many pixels high and wide.
_MIN_FRAME_SIDE = 8
# Clips whose frame sizes `image_size="auto"` looks at, spread over the folder.
_AUTO_SIZE_SAMPLE = 32
# At most this many skipped clips are listed in `info["skipped_files"]`.
_MAX_LISTED_SKIPS = 20
# Bump when the decoding changes, so that old disk caches are not reused.
_CACHE_VERSION = 1
# A TensorFlow Datasets split is cached in memory when its decoded clips fit.
_CACHE_BUDGET_BYTES = 1 << 30
# Shuffle buffer, in still-encoded clips, of a TensorFlow Datasets training
# split that is not cached (encoded clips can be megabytes each).
_SHUFFLE_BUFFER = 256


def read_clip(path, *, num_frames=16, image_size=(64, 64)):
    """Reads one clip as `num_frames` frames picked evenly across the whole clip.

    A clip is one of:
    - a video file, decoded with PyAV (any format FFmpeg reads, e.g. `.mp4`,
      `.avi`, `.webm`, `.mkv`, `.mov`);
    - a folder of frame images (JPEG, PNG, BMP or GIF), in file-name order,
      numbers compared by value (`frame_2.png` before `frame_10.png`); hidden
      files are ignored;
    - a `.npy` array of shape `(frames, height, width, 3)` or
      `(frames, height, width)` (grayscale), of uint8 or float pixel values in
      [0, 255] (floats are rounded, and values outside are clipped).

    A clip of `n >= num_frames` frames keeps frames
    `round(i * (n - 1) / (num_frames - 1))` for `i = 0 .. num_frames - 1`, so
    the first and the last frame are always kept; a shorter clip keeps all its
    frames, followed by black padding frames. Each kept frame is converted to
    RGB, resized (aspect ratio kept) until it covers `image_size`, and
    centre-cropped to it. Only the kept frames of a video are converted and
    resized; a video whose frame count is not in its header is decoded once,
    keeping every frame resized.

    Args:
        path: str or path. The clip.
        num_frames: int. Frames per clip. Defaults to `16`.
        image_size: int or tuple `(height, width)`, each at least 8. Size of
            the returned frames. Defaults to `(64, 64)`.

    Returns:
        A tuple `(frames, mask)`: uint8 frames `(num_frames, height, width, 3)`
        and a bool mask `(num_frames,)`, False for padding frames.

    Raises:
        DataError: if the clip is missing, unreadable, corrupt or empty, or an
            option is invalid.

    Example:

    >>> frames, mask = read_clip("jump.mp4", num_frames=8, image_size=112)
    >>> frames.shape, mask.sum()
    ((8, 112, 112, 3), 8)
    """
    check_positive_int("num_frames", num_frames)
    size = _frame_size(image_size)
    path = pathlib.Path(path)
    try:
        return _load_clip(path, num_frames, size)
    except _BadClip as error:
        raise DataError(f"Clip '{path}' {error}: pass {_CLIP_KINDS}.") from None


def load_videos(source, **kwargs):
    """Loads video classification data from a class folder or TensorFlow Datasets.

    Args:
        source: str or path. `"tfds:NAME"` loads the TensorFlow Datasets set
            `NAME` with `load_tfds_videos`; anything else is a folder with one
            sub-folder of clips per class, loaded with `load_video_folder`.
        **kwargs: keyword arguments of the chosen loader. `on_bad_file` and
            `num_workers` only concern folders; they are checked, then ignored
            for `"tfds:NAME"`, so one set of options serves both sources.

    Returns:
        A `DataSplits` of `({"frames", "mask"}, labels)` batches.

    Raises:
        DataError: see `load_video_folder` and `load_tfds_videos`.

    Example:

    >>> data = load_videos("tfds:ucf101", num_frames=16, image_size=112)
    >>> data = load_videos("clips/", validation_split=0.2)
    """
    if isinstance(source, str) and source.startswith("tfds:"):
        check_choice("on_bad_file", kwargs.pop("on_bad_file", "skip"), _ON_BAD_FILE)
        _check_num_workers(kwargs.pop("num_workers", None))
        return load_tfds_videos(source.removeprefix("tfds:"), **kwargs)
    check_no_tfds_options(source, kwargs)
    return load_video_folder(source, **kwargs)


def load_video_folder(
    directory,
    *,
    num_frames=16,
    image_size=(64, 64),
    batch_size=8,
    validation_split=0.15,
    test_split=0.15,
    seed=1337,
    cache=True,
    num_workers=None,
    on_bad_file="skip",
    class_names=None,
):
    """Loads a folder with one sub-folder of clips per class.

    The layout is `DIR/<class>/<clip>`, where a clip is a video file
    (`VIDEO_EXTENSIONS`), a `.npy` array or a sub-folder of frame images (see
    `read_clip`). Sub-folders of `DIR` sorted by name are the classes; hidden
    files and folders, and other files, are ignored.

    Every clip is decoded once, up front, by `read_clip` in a pool of
    `num_workers` threads (PyAV and PIL release the GIL while decoding), so
    unreadable clips are found before training and no epoch decodes again.
    The clips are split class by class with `stratified_split`, so every split
    keeps the class balance; the training split is shuffled at every epoch.

    Args:
        directory: str or path. The folder, laid out as `DIR/<class>/<clip>.mp4`.
        num_frames: int. Frames per clip. Defaults to `16`.
        image_size: int, tuple `(height, width)` (each at least 8) or
            `"auto"`. Size every frame is resized and centre-cropped to;
            `"auto"` chooses a square size from the frame sizes of up to 32
            clips (see `cnnrnn.data.images.auto_image_size`) and names it in
            `info["chosen"]`. Defaults to `(64, 64)`.
        batch_size: int. Clips per batch. Defaults to `8`.
        validation_split: float. Fraction of each class for validation.
            Defaults to `0.15`.
        test_split: float. Fraction of each class for testing; `1.0` puts every
            clip in the test split. Defaults to `0.15`.
        seed: int. Seed of the split and of the training shuffle. Defaults to
            `1337`.
        cache: bool, str or path. Where the decoded clips are kept. `True` or
            `False`: in memory, as one uint8 array (clips are always decoded
            up front, so `False` behaves like `True`). A folder: each decoded
            clip is saved there as a `.npy` file named after a hash of the
            clip's absolute path, size and modification time, `num_frames` and
            `image_size`, and the datasets read the clips from these files;
            later loads reuse them without decoding. Defaults to `True`.
        num_workers: int or None. Decoding threads. Defaults to None
            (`os.cpu_count()`).
        on_bad_file: `"skip"` skips unreadable, corrupt or empty clips,
            counting and naming them in `info`; `"error"` raises on the first.
            Defaults to `"skip"`.
        class_names: list of str, or None. The classes of a trained model, when
            evaluating it on new data: the folder's classes must be among them
            (one class is then enough) and labels follow this order. Defaults
            to None (the folder's classes, sorted).

    Returns:
        A `DataSplits` whose datasets yield `(inputs, labels)` batches:
        `inputs` is `{"frames": float32 (batch, num_frames, height, width, 3)
        raw pixel values in [0, 255], "mask": bool (batch, num_frames)}` and
        `labels` int32 class ids. A split without clips is None. `model_args`
        holds `num_frames`, `image_shape` `(height, width, 3)` and
        `num_classes`; `info` holds `source`, `class_names`, `num_examples` per
        split, `num_skipped`, `skipped_files` (the first 20, as
        `"path: reason"`), `num_short_clips` (clips padded to `num_frames`),
        `num_cached` (clips read from the disk cache instead of decoded) and
        `cache_dir` (the cache folder as a str, or None).

    Raises:
        DataError: if the folder is missing or not laid out in class folders,
            there is only one class, a class folder holds no readable clip, a
            class is not in `class_names`, the cache folder cannot be written,
            an option is invalid, or (with `on_bad_file="error"`) a clip is
            unreadable.

    Example:

    >>> data = load_video_folder("clips/", num_frames=16, cache="clip_cache/")
    >>> model.fit(data.train, validation_data=data.validation, epochs=5)
    """
    check_positive_int("num_frames", num_frames)
    auto = image_size == "auto"
    size = None if auto else _frame_size(image_size)
    check_positive_int("batch_size", batch_size)
    check_split_fractions(validation_split, test_split)
    check_choice("on_bad_file", on_bad_file, _ON_BAD_FILE)
    _check_num_workers(num_workers)
    cache_dir = _cache_folder(cache)
    directory = pathlib.Path(directory)
    class_dirs = class_folders(
        directory,
        what="Video folder",
        expected=f"{_LAYOUT} (one sub-folder of clips per class), e.g. "
        f"'{directory / 'jump' / '001.mp4'}' (or pass 'tfds:NAME')",
    )
    if class_names is None and len(class_dirs) < 2:
        raise DataError(
            f"Video folder '{directory}' has only one class ({next(iter(class_dirs))!r}"
            f"): a classifier needs at least two, laid out as {_LAYOUT}."
        )
    class_names = label_order(f"Video folder '{directory}'", class_dirs, class_names)

    clips, labels = [], []
    for class_name, class_dir in class_dirs.items():
        found = _clips_in(class_dir)
        if not found:
            raise DataError(
                f"Class folder '{class_dir}' holds no clips: add {_CLIP_KINDS} "
                f"(one sub-folder per clip), laid out as {_LAYOUT}, or remove it."
            )
        clips += found
        labels += [class_names.index(class_name)] * len(found)

    if auto:
        side = auto_image_size(_frame_sizes(clips))
        size = (side, side)
    if cache_dir is not None:
        _make_cache_folder(cache_dir)
    decoded = _decode_clips(
        clips,
        num_frames=num_frames,
        size=size,
        cache_dir=cache_dir,
        num_workers=num_workers or os.cpu_count() or 1,
        on_bad_file=on_bad_file,
    )
    labels = np.array(labels, np.int32)[decoded.kept]
    for class_name, class_dir in class_dirs.items():
        if class_names.index(class_name) not in labels:
            raise DataError(
                f"Class folder '{class_dir}' holds no readable clips (all were "
                "skipped, see the skipped files): fix them or remove the folder."
            )
    indices = stratified_split(
        labels, validation_split=validation_split, test_split=test_split, seed=seed
    )
    datasets = _folder_datasets(
        decoded, labels, indices, num_frames, size, batch_size, seed
    )
    info = {
        "source": str(directory),
        "class_names": list(class_names),
        "num_examples": {
            split: len(index) for split, index in zip(_SPLITS, indices, strict=True)
        },
        "num_skipped": len(decoded.skipped),
        "skipped_files": decoded.skipped[:_MAX_LISTED_SKIPS],
        "num_short_clips": int((decoded.lengths < num_frames).sum()),
        "classes_not_scored": classes_not_scored(
            dict(zip(_SPLITS, (labels[index] for index in indices), strict=True)),
            class_names,
        ),
        "num_cached": decoded.num_cached,
        "cache_dir": None if cache_dir is None else str(cache_dir),
        **({"chosen": {"image_size": list(size)}} if auto else {}),
    }
    return _splits(datasets, num_frames, size, class_names, info)


def load_tfds_videos(
    name,
    *,
    num_frames=16,
    image_size=(64, 64),
    batch_size=8,
    validation_split=0.15,
    test_split=0.15,
    seed=1337,
    class_names=None,
    data_dir=None,
    cache=True,
):
    """Loads a TensorFlow Datasets video-classification set, such as `ucf101`.

    The set needs a `tfds.features.Video` input and a `ClassLabel` label (its
    supervised keys, or its only such features). Its own `validation` and
    `test` splits are used when it has them; a missing one is cut from the end
    of its `train` split by percent (`validation_split` and `test_split` are
    fractions of `train`). Frames stay encoded until the clip's `num_frames`
    frames are picked (evenly across the whole clip, as in `read_clip`); only
    those are decoded, resized and centre-cropped. The first call downloads
    and prepares the data, which needs network access and can take long.

    Args:
        name: str. TensorFlow Datasets name, e.g. `"ucf101"` or
            `"ucf101/ucf101_1_256"`.
        num_frames: int. Frames per clip. Defaults to `16`.
        image_size: int or tuple `(height, width)`, each at least 8, or
            `"auto"` (the largest size `auto_image_size` chooses, named in
            `info["chosen"]`). Size every
            frame is resized and centre-cropped to. Defaults to `(64, 64)`.
        batch_size: int. Clips per batch. Defaults to `8`.
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
        cache: bool, str or path. `True` keeps the decoded clips of each split
            in memory after the first epoch, when they fit in 1 GiB; a folder
            keeps them in `tf.data` cache files there; `False` decodes at every
            epoch. Defaults to `True`.

    Returns:
        A `DataSplits` like `load_video_folder`'s, with `info["source"]` set to
        `"tfds:NAME"`, `info["splits"]` naming the TensorFlow Datasets split
        behind each split, and no skipped or short-clip counts.

    Raises:
        DataError: if TensorFlow Datasets does not know `name`, the set is not
            a video-classification set, a class is not in `class_names`, or an
            option is invalid.

    Example:

    >>> data = load_tfds_videos("ucf101", num_frames=16, image_size=112)
    >>> len(data.info["class_names"])
    101
    """
    # Imported here: importing TensorFlow Datasets takes seconds.
    import tensorflow_datasets as tfds

    check_positive_int("num_frames", num_frames)
    chosen = {}
    if image_size == "auto":
        image_size = AUTO_IMAGE_SIZE_RANGE[1]
        chosen["image_size"] = [image_size, image_size]
    size = _frame_size(image_size)
    check_positive_int("batch_size", batch_size)
    check_split_fractions(validation_split, test_split)
    cache_dir = _cache_folder(cache)
    builder, video_key, label_key, source_names = tfds_classification_builder(
        name,
        input_feature=tfds.features.Video,
        kind="a video",
        example="ucf101",
        data_dir=data_dir,
        infer_keys=True,
    )
    class_names, label_map, split_specs = prepare_tfds_classification(
        builder,
        name,
        source_names,
        class_names,
        validation_split=validation_split,
        test_split=test_split,
    )
    height, width = size
    clip_bytes = num_frames * height * width * 3
    if cache_dir is not None:
        _make_cache_folder(cache_dir)

    def to_example(example):
        frames, mask = _pick_encoded_frames(example[video_key], num_frames, size)
        return frames, mask, tf.gather(label_map, example[label_key])

    datasets, counts = {}, {}
    for split, spec in split_specs.items():
        counts[split] = 0
        datasets[split] = None
        if spec is None:
            continue
        # Frames stay encoded until `to_example` picks the ones it decodes.
        clips = builder.as_dataset(
            split=spec,
            decoders={video_key: tfds.decode.SkipDecoding()},
            shuffle_files=split == "train",
            read_config=tfds.ReadConfig(shuffle_seed=seed),
        )
        count = counts[split] = int(clips.cardinality())
        if count == 0:
            continue
        in_memory = cache_dir is None and cache
        fits = in_memory and count * clip_bytes <= _CACHE_BUDGET_BYTES
        cached = fits or cache_dir is not None
        if split == "train" and not cached:
            clips = clips.shuffle(
                min(count, _SHUFFLE_BUFFER), seed=seed, reshuffle_each_iteration=True
            )
        clips = clips.map(to_example, num_parallel_calls=tf.data.AUTOTUNE)
        if fits:
            clips = clips.cache()
        elif cache_dir is not None:
            key = re.sub(r"[^\w.-]+", "_", f"{name}-{spec}-{num_frames}-{size}")
            clips = clips.cache(str(cache_dir / f"tfds-{key}"))
        if split == "train" and cached:
            buffer = max(1, min(count, _CACHE_BUDGET_BYTES // clip_bytes))
            clips = clips.shuffle(buffer, seed=seed, reshuffle_each_iteration=True)
        datasets[split] = _batched(clips, batch_size)
    info = {
        "source": f"tfds:{name}",
        "class_names": list(class_names),
        "num_examples": counts,
        "splits": split_specs,
        "num_skipped": 0,
        "skipped_files": [],
        "num_short_clips": 0,
        "num_cached": 0,
        "cache_dir": None if cache_dir is None else str(cache_dir),
        **({"chosen": chosen} if chosen else {}),
    }
    return _splits(datasets, num_frames, size, class_names, info)


def load_clip_files(paths, *, num_frames=16, image_size=(64, 64)):
    """Reads clips for prediction, the same way as for training.

    Args:
        paths: list of str or paths (or a single one). Each a video file, a
            folder of frame images or a `.npy` array (see `read_clip`).
        num_frames: int. Frames per clip; use the model's. Defaults to `16`.
        image_size: int or tuple `(height, width)`. Size of the frames; use the
            model's. Defaults to `(64, 64)`.

    Returns:
        A dict of NumPy arrays: `"frames"`, float32
        `(len(paths), num_frames, height, width, 3)` raw pixel values in
        [0, 255], and `"mask"`, bool `(len(paths), num_frames)`.

    Raises:
        DataError: if no path is given, or a clip is missing or unreadable.

    Example:

    >>> inputs = load_clip_files(["jump.mp4", "run.avi"], num_frames=16)
    >>> model.predict(inputs).argmax(axis=-1)
    """
    check_positive_int("num_frames", num_frames)
    size = _frame_size(image_size)
    if isinstance(paths, str | os.PathLike):
        paths = [paths]
    paths = [pathlib.Path(path) for path in paths]
    if not paths:
        raise DataError(f"No clips given: pass at least one clip, {_CLIP_KINDS}.")

    def read(path):
        try:
            return _load_clip(path, num_frames, size)
        except _BadClip as error:
            return error

    with concurrent.futures.ThreadPoolExecutor() as executor:
        results = list(executor.map(read, paths))
    for path, result in zip(paths, results, strict=True):
        if isinstance(result, _BadClip):
            raise DataError(f"Clip '{path}' {result}: pass {_CLIP_KINDS}.")
    frames, masks = zip(*results, strict=True)
    return {
        "frames": np.stack(frames).astype(np.float32),
        "mask": np.stack(masks),
    }


class _BadClip(Exception):
    """A clip that cannot be used; `str(error)` says why, e.g. "does not exist"."""


def _load_clip(path, num_frames, size):
    """`read_clip` without option checks; raises `_BadClip`."""
    if path.is_dir():
        frames = _read_frame_folder(path, num_frames, size)
    elif not path.exists():
        raise _BadClip("does not exist")
    elif path.suffix.lower() == ARRAY_EXTENSION:
        frames = _read_array(path, num_frames, size)
    else:
        frames = _read_video(path, num_frames, size)
    clip = np.zeros((num_frames, *size, 3), np.uint8)
    clip[: len(frames)] = frames
    return clip, np.arange(num_frames) < len(frames)


def _frame_indices(count, num_frames):
    """Indices of the frames kept from a clip of `count` frames, evenly spread."""
    if count <= num_frames:
        return np.arange(count)
    steps = np.arange(num_frames) * (count - 1) / max(num_frames - 1, 1)
    return np.round(steps).astype(np.int64)


def _fit(image, size):
    """RGB uint8 array of `image` resized to cover `size`, centre-cropped to it."""
    height, width = size
    image = ImageOps.fit(
        image.convert("RGB"), (width, height), method=Image.Resampling.BILINEAR
    )
    return np.asarray(image)


def _read_video(path, num_frames, size):
    """The kept frames of a video file, fitted to `size`."""
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise _BadClip("holds no video stream")
            stream = container.streams.video[0]
            expected = stream.frames
            wanted = _frame_indices(expected, num_frames) if expected > 0 else None
            kept, count = _decode_video(container, stream, wanted, size)
        if wanted is not None and count != expected:
            # The header's frame count was wrong: decode again, keeping all frames.
            with av.open(str(path)) as container:
                stream = container.streams.video[0]
                kept, count = _decode_video(container, stream, None, size)
    except (av.FFmpegError, OSError, ValueError, EOFError) as error:
        raise _BadClip(
            f"is corrupt or not a video PyAV can decode ({_reason(error)})"
        ) from None
    if count == 0:
        raise _BadClip("holds no video frames")
    return [kept[index] for index in _frame_indices(count, num_frames)]


def _decode_video(container, stream, wanted, size):
    """Decodes every frame; fits those in `wanted` (all when None).

    Returns `({index: fitted frame}, number of frames decoded)`.
    """
    wanted = None if wanted is None else set(wanted.tolist())
    kept, count = {}, 0
    for frame in container.decode(stream):
        if wanted is None or count in wanted:
            kept[count] = _fit(frame.to_image(), size)
        count += 1
    return kept, count


def _natural_key(path):
    """Sort key comparing the numbers in a name by value: 2 before 10."""
    return [
        (0, int(part), "") if part.isdigit() else (1, 0, part)
        for part in re.split(r"(\d+)", path.name)
    ]


def _frame_files(folder):
    """The frame images of a frame folder, in order."""
    files = [
        path
        for path in folder.iterdir()
        if path.is_file()
        and not path.name.startswith(".")
        and path.suffix.lower() in IMAGE_EXTENSIONS
    ]
    return sorted(files, key=_natural_key)


def _read_frame_folder(folder, num_frames, size):
    """The kept frames of a folder of frame images, fitted to `size`."""
    files = _frame_files(folder)
    if not files:
        raise _BadClip(
            f"is a folder without frame images ({', '.join(IMAGE_EXTENSIONS)})"
        )
    frames = []
    for index in _frame_indices(len(files), num_frames):
        try:
            with Image.open(files[index]) as image:
                frames.append(_fit(image, size))
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as e:
            raise _BadClip(
                f"has an unreadable frame image '{files[index].name}' ({_reason(e)})"
            ) from None
    return frames


def _read_array(path, num_frames, size):
    """The kept frames of a `.npy` clip, fitted to `size`."""
    try:
        array = np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError, EOFError) as error:
        raise _BadClip(f"is not a readable .npy array ({_reason(error)})") from None
    shape = array.shape
    if not (array.ndim == 3 or (array.ndim == 4 and shape[-1] in (1, 3, 4))) or not all(
        shape[1:3]
    ):
        raise _BadClip(
            f"has shape {shape}: expected (frames, height, width, 3) or "
            "(frames, height, width)"
        )
    if array.dtype.kind not in "uif":
        raise _BadClip(
            f"has dtype {array.dtype}: expected uint8 or float pixel values in [0, 255]"
        )
    if shape[0] == 0:
        raise _BadClip("holds no frames")
    try:
        picked = np.asarray(array[_frame_indices(shape[0], num_frames)])
    except (OSError, ValueError) as error:
        raise _BadClip(f"is not a readable .npy array ({_reason(error)})") from None
    if picked.dtype.kind == "f":
        if not np.isfinite(picked).all():
            raise _BadClip("holds values that are not finite numbers")
        picked = np.round(picked)
    picked = np.clip(picked, 0, 255).astype(np.uint8)
    if picked.ndim == 4 and picked.shape[-1] == 1:
        picked = picked[..., 0]
    return [_fit(Image.fromarray(frame), size) for frame in picked]


def _reason(error):
    """A one-line reason from an exception, without PyAV's `[Errno N]` prefix."""
    message = getattr(error, "strerror", None) or str(error) or type(error).__name__
    return " ".join(str(message).split())


@dataclasses.dataclass
class _Decoded:
    """The readable clips of a folder, decoded once.

    `kept` indexes the clips that were read; `lengths` is each kept clip's
    number of real (not padding) frames. Kept clips are held either in memory
    (`frames`, `masks`) or as `.npy` files of their real frames (`files`).
    """

    kept: np.ndarray
    lengths: np.ndarray
    skipped: list
    num_cached: int
    frames: np.ndarray | None = None
    masks: np.ndarray | None = None
    files: list | None = None


def _decode_clips(clips, *, num_frames, size, cache_dir, num_workers, on_bad_file):
    """Reads every clip in a thread pool, through the disk cache when given."""

    def read(path):
        """`(frames or None, length, cache file, from cache)`, or a `_BadClip`."""
        cache_file = None
        if cache_dir is not None:
            try:
                cache_file = _cache_file(cache_dir, path, num_frames, size)
            except OSError as error:
                return _BadClip(f"cannot be read ({_reason(error)})")
            length = _cached_length(cache_file, num_frames, size)
            if length is not None:
                return None, length, cache_file, True
        try:
            frames, mask = _load_clip(path, num_frames, size)
        except _BadClip as error:
            return error
        length = int(mask.sum())
        if cache_file is None:
            return frames, length, None, False
        _write_cache(cache_file, frames[:length])
        return None, length, cache_file, False

    in_memory = cache_dir is None
    frames = (
        np.zeros((len(clips), num_frames, *size, 3), np.uint8) if in_memory else None
    )
    kept, lengths, files, skipped, num_cached = [], [], [], [], 0
    executor = concurrent.futures.ThreadPoolExecutor(num_workers)
    try:
        for index, (path, result) in enumerate(
            zip(clips, executor.map(read, clips), strict=True)
        ):
            if isinstance(result, _BadClip):
                if on_bad_file == "error":
                    raise DataError(
                        f"Clip '{path}' {result}: fix or remove it, or pass "
                        "on_bad_file='skip' to skip such clips."
                    )
                skipped.append(f"{path}: {result}")
                continue
            clip, length, cache_file, from_cache = result
            if in_memory:
                frames[len(kept)] = clip
            else:
                files.append(str(cache_file))
            kept.append(index)
            lengths.append(length)
            num_cached += from_cache
    finally:
        executor.shutdown(wait=True, cancel_futures=True)
    lengths = np.array(lengths, np.int64)
    return _Decoded(
        kept=np.array(kept, np.int64),
        lengths=lengths,
        skipped=skipped,
        num_cached=num_cached,
        frames=frames[: len(kept)] if in_memory else None,
        masks=np.arange(num_frames) < lengths[:, None] if in_memory else None,
        files=None if in_memory else files,
    )


def _cache_file(cache_dir, path, num_frames, size):
    """The cache file of a clip: a hash of its path, stamps and the options."""
    path = path.resolve()
    if path.is_dir():
        stamp = [
            (file.name, file.stat().st_size, file.stat().st_mtime_ns)
            for file in _frame_files(path)
        ]
    else:
        stat = path.stat()
        stamp = [stat.st_size, stat.st_mtime_ns]
    key = json.dumps([_CACHE_VERSION, str(path), stamp, num_frames, list(size)])
    return cache_dir / f"{hashlib.sha256(key.encode()).hexdigest()[:32]}.npy"


def _cached_length(cache_file, num_frames, size):
    """The number of frames in a valid cache file, or None to decode again."""
    try:
        frames = np.load(cache_file, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError, EOFError):
        return None
    if (
        frames.dtype != np.uint8
        or frames.shape[1:] != (*size, 3)
        or not 1 <= len(frames) <= num_frames
    ):
        return None
    return len(frames)


def _write_cache(cache_file, frames):
    """Saves `frames` to `cache_file` atomically (a temporary file, then renamed)."""
    try:
        handle, temporary = tempfile.mkstemp(
            dir=cache_file.parent, prefix=".", suffix=".tmp"
        )
        try:
            with os.fdopen(handle, "wb") as f:
                np.save(f, frames)
            os.replace(temporary, cache_file)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise
    except OSError as error:
        raise DataError(
            f"Cannot write the clip cache file '{cache_file}' ({_reason(error)}): "
            "pass a writable folder as cache, or cache=True."
        ) from None


def _folder_datasets(decoded, labels, indices, num_frames, size, batch_size, seed):
    """`{split: batched dataset or None}` reading the decoded clips by index."""
    if decoded.files is not None:
        files = decoded.files
        lengths = decoded.lengths

        def get(index):
            frames = np.zeros((num_frames, *size, 3), np.uint8)
            frames[: lengths[index]] = np.load(files[index], allow_pickle=False)
            return frames, np.arange(num_frames) < lengths[index]

    else:
        all_frames, all_masks = decoded.frames, decoded.masks

        def get(index):
            return all_frames[index], all_masks[index]

    label_tensor = tf.constant(labels, tf.int32)

    def to_example(index):
        frames, mask = tf.numpy_function(
            get, [index], (tf.uint8, tf.bool), stateful=False
        )
        frames.set_shape((num_frames, *size, 3))
        mask.set_shape((num_frames,))
        return frames, mask, tf.gather(label_tensor, index)

    datasets = {}
    for split, index in zip(_SPLITS, indices, strict=True):
        if len(index) == 0:
            datasets[split] = None
            continue
        clips = tf.data.Dataset.from_tensor_slices(index)
        if split == "train":
            clips = clips.shuffle(len(index), seed=seed, reshuffle_each_iteration=True)
        clips = clips.map(to_example, num_parallel_calls=tf.data.AUTOTUNE)
        datasets[split] = _batched(clips, batch_size)
    return datasets


def _batched(clips, batch_size):
    """Batches `(uint8 frames, mask, label)` clips into the model's inputs."""

    def to_inputs(frames, mask, label):
        return {"frames": tf.cast(frames, tf.float32), "mask": mask}, label

    clips = clips.batch(batch_size).map(to_inputs, num_parallel_calls=tf.data.AUTOTUNE)
    return clips.prefetch(tf.data.AUTOTUNE)


def _splits(datasets, num_frames, size, class_names, info):
    return DataSplits(
        train=datasets["train"],
        validation=datasets["validation"],
        test=datasets["test"],
        model_args={
            "num_frames": num_frames,
            "image_shape": (*size, 3),
            "num_classes": len(class_names),
        },
        info=info,
    )


def _pick_encoded_frames(encoded, num_frames, size):
    """Picks, decodes and fits the frames of a clip of encoded frames (tf ops).

    Returns uint8 frames `(num_frames, height, width, 3)`, zero-padded, and the
    bool mask `(num_frames,)`, like `read_clip`.
    """
    height, width = size
    count = tf.shape(encoded)[0]
    kept = tf.minimum(count, num_frames)
    steps = tf.cast(tf.range(kept), tf.float64) * tf.cast(count - 1, tf.float64)
    indices = tf.cast(
        tf.round(steps / tf.cast(tf.maximum(kept - 1, 1), tf.float64)), tf.int32
    )

    def decode(contents):
        image = tf.io.decode_image(contents, channels=3, expand_animations=False)
        image.set_shape((None, None, 3))
        shape = tf.cast(tf.shape(image)[:2], tf.float64)
        scale = tf.maximum(height / shape[0], width / shape[1])
        covering = tf.maximum(
            tf.cast(tf.round(shape * scale), tf.int32), [height, width]
        )
        image = tf.image.resize(image, covering, antialias=True)
        image = tf.image.resize_with_crop_or_pad(image, height, width)
        return tf.cast(tf.clip_by_value(tf.round(image), 0, 255), tf.uint8)

    frames = tf.map_fn(
        decode,
        tf.gather(encoded, indices),
        fn_output_signature=tf.TensorSpec((height, width, 3), tf.uint8),
    )
    frames = tf.pad(frames, [[0, num_frames - kept], [0, 0], [0, 0], [0, 0]])
    frames.set_shape((num_frames, height, width, 3))
    return frames, tf.range(num_frames) < kept


def _frame_sizes(clips):
    """`(height, width)` of the frames of up to `_AUTO_SIZE_SAMPLE` clips,
    spread over the list, from their headers; unreadable clips are left out."""
    step = max(1, len(clips) // _AUTO_SIZE_SAMPLE)
    sizes = []
    for clip in clips[::step][:_AUTO_SIZE_SAMPLE]:
        with contextlib.suppress(
            OSError, ValueError, EOFError, IndexError, av.FFmpegError
        ):
            if clip.is_dir():
                files = _frame_files(clip)
                if files:
                    with Image.open(files[0]) as image:
                        sizes.append(image.size[::-1])
            elif clip.suffix.lower() == ".npy":
                shape = np.load(clip, mmap_mode="r", allow_pickle=False).shape
                sizes.append(shape[1:3])
            else:
                with av.open(str(clip)) as container:
                    context = container.streams.video[0].codec_context
                    sizes.append((context.height, context.width))
    return sizes


def _frame_size(image_size):
    if isinstance(image_size, numbers.Integral):
        size = (image_size, image_size)
    else:
        size = tuple(image_size) if isinstance(image_size, list | tuple) else ()
    if len(size) != 2 or not all(
        isinstance(n, numbers.Integral)
        and not isinstance(n, bool)
        and n >= _MIN_FRAME_SIDE
        for n in size
    ):
        raise DataError(
            f"Received: image_size={image_size!r}. Expected an int >= "
            f"{_MIN_FRAME_SIDE} or a tuple (height, width) of ints >= "
            f"{_MIN_FRAME_SIDE}."
        )
    return int(size[0]), int(size[1])


def _check_num_workers(num_workers):
    if num_workers is not None:
        check_positive_int("num_workers", num_workers)


def _cache_folder(cache):
    """None for an in-memory cache (`True` or `False`), else the folder's path."""
    if isinstance(cache, bool):
        return None
    if isinstance(cache, str | os.PathLike) and str(cache):
        return pathlib.Path(cache)
    raise DataError(
        f"Received: cache={cache!r}. Expected True, False or a cache folder path."
    )


def _make_cache_folder(cache_dir):
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise DataError(
            f"Cannot create the clip cache folder '{cache_dir}' ({_reason(error)}): "
            "pass a writable folder as cache, or cache=True."
        ) from None


def _clips_in(class_dir):
    """The clips of a class folder, sorted: video files, arrays and folders."""
    return [
        entry
        for entry in sorted(class_dir.iterdir())
        if not entry.name.startswith(".")
        and (
            entry.is_dir()
            or (
                entry.is_file()
                and entry.suffix.lower() in (*VIDEO_EXTENSIONS, ARRAY_EXTENSION)
            )
        )
    ]
