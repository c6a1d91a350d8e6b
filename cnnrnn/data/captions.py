"""Image-captioning data: a captions file with its images, a folder holding one,
or `tfds:NAME`.

A captions file is a CSV/TSV table (`image,caption[,split]`), a Flickr8k token
file (`name.jpg#0<TAB>caption`) or a COCO captions JSON file. Every caption
becomes token ids in a fixed layout shared with the captioning model: id 0 is
padding, 1 unknown, 2 `<start>`, 3 `<end>` (`SPECIAL_TOKENS`), then the words.
Splits are made by image, so all the captions of an image stay together.
"""

import dataclasses
import io
import json
import os
import pathlib
import re
from typing import Any

import numpy as np
import tensorflow as tf

from cnnrnn.data.common import DataSplits, stratified_split
from cnnrnn.data.images import (
    AUTO_IMAGE_SIZE_RANGE,
    IMAGE_EXTENSIONS,
    _image_size,
    auto_image_size,
    check_image_files,
    image_decoder,
)
from cnnrnn.data.options import (
    STANDARDIZE,
    STANDARDIZE_CHOICES,
    check_choice,
    check_max_tokens,
    check_positive_int,
    check_split_fractions,
)
from cnnrnn.data.text import (
    _REPLACEMENT,
    _decode,
    adapt_vocabulary,
    read_table_rows,
    tokenize,
)
from cnnrnn.errors import DataError
from cnnrnn.tokens import SPECIAL_TOKENS

PAD_ID, UNK_ID, START_ID, END_ID = 0, 1, 2, 3

_SPLITS = ("train", "validation", "test")
_ON_BAD_FILE = ("skip", "error")
_IMAGE_COLUMNS = ("image", "filename", "file", "image_name", "file_name")
_CAPTION_COLUMNS = ("caption", "text", "sentence")
_SPLIT_COLUMN = "split"
_SPLIT_VALUES = {
    "train": "train",
    "validation": "validation",
    "val": "validation",
    "dev": "validation",
    "test": "test",
}
# A Flickr8k token line: `name.jpg#0<TAB>caption`.
_TOKEN_LINE = re.compile(r"([^\t]+)#(\d+)\t")
# At most this many names are listed in `info["missing_images"]`,
# `info["outside_images"]` and `info["skipped_files"]`.
_MAX_LISTED = 20
# Image batch size while decoding every image once.
_DECODE_BATCH = 256
_LAYOUTS = (
    "a captions file (a CSV/TSV table with image and caption columns, a Flickr8k "
    "token file or a COCO captions JSON), a folder holding one, or 'tfds:NAME'"
)


@dataclasses.dataclass
class CaptionReferences:
    """One split's images, each once, with all their reference captions (for BLEU).

    Args:
        images: `tf.data.Dataset` of float32 image batches
            `(batch, height, width, 3)` with raw pixel values in [0, 255], in
            `names` order, `batch_size` images a batch.
        names: list of str. The image names as the source gives them.
        references: list, one entry per image: the list of its reference
            captions, each a list of standardized tokens (from `tokenize`; not
            truncated, without `<start>` and `<end>`).
    """

    images: Any
    names: list
    references: list


@dataclasses.dataclass
class _Image:
    """One image and its captions while loading."""

    name: str
    # A file path, or a row of the decoded TensorFlow Datasets images.
    key: Any
    split: str | None = None
    where: str = ""
    texts: list = dataclasses.field(default_factory=list)
    tokens: list = dataclasses.field(default_factory=list)
    tf_decodable: bool = True
    size: tuple | None = None


def load_captions(
    source,
    *,
    image_dir=None,
    image_size=(64, 64),
    batch_size=32,
    validation_split=0.1,
    test_split=0.1,
    seed=1337,
    max_tokens=10000,
    max_length=None,
    standardize=STANDARDIZE,
    vocabulary=None,
    on_bad_file="skip",
    cache=True,
):
    """Loads images with their captions as `((images, input_ids), target_ids)` batches.

    Each (image, caption) pair is one example. A caption is standardized and
    split as `keras.layers.TextVectorization` does (`tokenize`), cut to
    `max_length` words, and becomes the ids `[<start>, w1, ..., wn, <end>]`:
    `input_ids` are all but the last and `target_ids` all but the first
    (teacher forcing), both padded with 0 to `max_length + 1`.

    The data is split by image: all the captions of an image are in the same
    split. Splits given by the source (a CSV `split` column, a TensorFlow
    Datasets set's own splits) are kept, and a missing validation or test
    split is cut from the training images by its fraction; otherwise the
    images are shuffled with `seed` and cut by `validation_split` and
    `test_split` (at least one image each when there are 3 or more).

    Problems are counted in `info`, never ignored silently: captions naming
    missing images are skipped, images that no caption names are counted,
    empty captions (also after standardization) are skipped, captions with
    bytes that are not UTF-8 are kept with U+FFFD in their place, unreadable
    images and image names that leave `image_dir` (absolute paths elsewhere,
    `../`) are skipped with all their captions (or rejected, see
    `on_bad_file`), and images that are not RGB are converted.

    Args:
        source: str or path. One of:
            - a captions file, several captions per image allowed: a CSV or
              TSV table (`.csv`, `.tsv`, or a first line holding a tab) with
              a header naming an `image` column (or `filename`, `file`,
              `image_name`, `file_name`), a `caption` column (or `text`,
              `sentence`) and optionally a `split` column (`train`,
              `validation`/`val`/`dev`, `test`); without such a header, the
              first column is the image and the second the caption (commas
              after the first are kept in an unquoted caption); a Flickr8k
              token file (`name.jpg#0<TAB>caption` lines); or a COCO captions
              JSON file (`images` with `id` and `file_name`, `annotations`
              with `image_id` and `caption`);
            - a folder holding exactly one captions file at its top level
              (`*.csv`, `*.tsv`, `*.json`, `*token*.txt` or `captions.txt`);
            - `"tfds:NAME"`, a TensorFlow Datasets captioning set such as
              `"tfds:coco_captions"`: its images and caption texts, its own
              `validation` (or `val`) and `test` splits when it has them
              (`restval` joins `train`). The first call downloads the set,
              which needs network access.
        image_dir: str, path or None. Folder the image names are relative to.
            A name not found there is looked up by file name anywhere below
            it (hidden files ignored, linked folders followed), so images may
            sit in a sub-folder. A name that leaves the folder is refused.
            Defaults to None (the captions file's folder). Not allowed with
            `"tfds:NAME"`.
        image_size: int, tuple `(height, width)` or `"auto"`. Size every
            image is resized to; `"auto"` chooses a square size from the
            images' files (see `cnnrnn.data.images.auto_image_size`; the
            largest such size for a TensorFlow Datasets set) and names it in
            `info["chosen"]`. Defaults to `(64, 64)`.
        batch_size: int. Examples per batch. Defaults to `32`.
        validation_split: float. Fraction of the images for validation.
            Defaults to `0.1`.
        test_split: float. Fraction of the images for testing; `1.0` (with
            `validation_split=0.0`) puts every image in the test split, to
            evaluate a trained model on other data. Defaults to `0.1`.
        seed: int. Seed of the split and of the training shuffle. Defaults to
            `1337`.
        max_tokens: int or None. Largest vocabulary, counting the 4 special
            tokens; the most frequent words of the training captions fill the
            rest. None means no limit; ignored when `vocabulary` is given.
            Defaults to `10000`.
        max_length: int or None. Most words of a caption, without `<start>`
            and `<end>`; longer captions are cut (`<end>` kept) and counted.
            Defaults to None (the longest training caption, or the longest
            caption when there is no training split).
        standardize: `"lower_and_strip_punctuation"`, `"lower"`,
            `"strip_punctuation"` or None. Standardization of
            `keras.layers.TextVectorization`. Defaults to
            `"lower_and_strip_punctuation"`.
        vocabulary: list of str, or None. A trained model's vocabulary (its
            id -> token list, starting with `SPECIAL_TOKENS`), when
            evaluating it on new data; other words become id 1. Defaults to
            None (learned from the training captions).
        on_bad_file: `"skip"` skips unreadable images, and image names that
            leave `image_dir`, with their captions, counting them in `info`;
            `"error"` raises on the first one.
            Images that are not RGB are converted either way. Defaults to
            `"skip"`.
        cache: bool. `True` decodes every image once, up front, and keeps the
            decoded images in memory as 8-bit pixels (`height * width * 3`
            bytes an image);
            `False` decodes an image each time an example needs it, using
            little memory. TensorFlow Datasets images are always decoded once
            and kept in memory. Defaults to `True`.

    Returns:
        A `DataSplits` whose datasets yield `((images, input_ids),
        target_ids)` batches: float32 images `(batch, height, width, 3)` with
        raw pixel values in [0, 255], and int32 ids `(batch, max_length + 1)`.
        The training split is shuffled each epoch; a split without images is
        None. `model_args` holds `vocabulary` (the full id -> token list),
        `image_shape` (`[height, width, 3]`) and `max_length`. `extras` holds
        `"validation"` and `"test"`: a `CaptionReferences` (each image once
        with all its reference captions), or None. `info` holds `source`,
        `num_examples` and `num_images` per split, `vocabulary_size`,
        `max_length`, `standardize`, `splits` (`"from the source"` or
        `"random by image"`), `num_missing_images` with `missing_images` (the
        first 20 names), `num_outside_images` with `outside_images` (image
        names that leave `image_dir`, the first 20), `num_uncaptioned_images`,
        `num_empty_captions`, `num_replaced` (captions with undecodable
        bytes), `num_truncated`, `num_skipped` with `skipped_files` (the first
        20, as `"path: reason"`) and `num_converted`; for files also
        `captions_file` and `image_dir`, for TensorFlow Datasets
        `tfds_splits` (the set's splits read for each split, None where cut
        from the training images).

    Raises:
        DataError: if the source is missing or malformed (with the line), a
            folder holds no or several captions files, no usable (image,
            caption) pair remains, a TensorFlow Datasets set is unknown or not
            a captioning set, there are no training captions to learn a
            vocabulary from, an option is invalid, or (with
            `on_bad_file="error"`) an image is unreadable or an image name
            leaves `image_dir`.

    Example:

    >>> data = load_captions("flickr8k/captions.txt", image_size=128)
    >>> (images, input_ids), target_ids = next(iter(data.train))
    >>> model = build_image_captioner(**data.model_args)
    >>> model.fit(data.train, validation_data=data.validation, epochs=10)
    """
    auto = image_size == "auto"
    height, width = (1, 1) if auto else _image_size(image_size)
    check_positive_int("batch_size", batch_size)
    check_split_fractions(validation_split, test_split)
    check_max_tokens(max_tokens, reserved=SPECIAL_TOKENS)
    if max_length is not None:
        check_positive_int("max_length", max_length)
    check_choice("standardize", standardize, STANDARDIZE_CHOICES)
    vocabulary = _check_vocabulary(vocabulary)
    check_choice("on_bad_file", on_bad_file, _ON_BAD_FILE)
    if not isinstance(cache, bool):
        raise DataError(f"Received: cache={cache!r}. Expected True or False.")
    counts = {
        "num_missing_images": 0,
        "missing_images": [],
        "num_outside_images": 0,
        "outside_images": [],
        "num_uncaptioned_images": 0,
        "num_empty_captions": 0,
        "num_replaced": 0,
        "num_skipped": 0,
        "skipped_files": [],
        "num_converted": 0,
    }

    if not isinstance(source, str | os.PathLike):
        raise DataError(f"Received: source={source!r}. Expected {_LAYOUTS}.")
    if isinstance(source, str) and source.startswith("tfds:"):
        if image_dir is not None:
            raise DataError(
                f"Received: image_dir={str(image_dir)!r} with source={source!r}. "
                "Expected image_dir=None: TensorFlow Datasets sets hold their "
                "images."
            )
        what = f"TensorFlow Datasets set {source.removeprefix('tfds:')!r}"
        if auto:
            height = width = AUTO_IMAGE_SIZE_RANGE[1]
        images, pixels, extra = _read_tfds(
            source.removeprefix("tfds:"), (height, width), counts
        )
        images = _drop_empty_captions(images, standardize, counts)
    else:
        captions_file, image_dir = _find_captions_file(source, image_dir)
        what = f"Captions file '{captions_file}'"
        rows = _read_captions_file(captions_file, counts)
        images = _group_rows(
            captions_file, rows, _ImageFolder(image_dir), on_bad_file, counts
        )
        images = _drop_empty_captions(images, standardize, counts)
        images = _drop_bad_images(images, on_bad_file, counts)
        if auto and images:
            height = width = auto_image_size([image.size for image in images])
        pixels = None
        extra = {"captions_file": str(captions_file), "image_dir": str(image_dir)}
    if not images:
        raise DataError(_nothing_usable(what, counts))

    split_images, splits_from = _assign_splits(
        images, validation_split=validation_split, test_split=test_split, seed=seed
    )
    for split, fraction in (("validation", validation_split), ("test", test_split)):
        if fraction > 0 and not split_images[split].size:
            raise DataError(
                f"'{source}' has {len(images)} usable image(s), too few to put any "
                f"in the {split} split (data.{split}_split={fraction}): give more "
                f"images, or set data.{split}_split=0."
            )
    if pixels is None and cache:
        pixels = _decode_files(images, (height, width))
    return _finish(
        images,
        split_images,
        pixels,
        source=str(source),
        image_size=(height, width),
        batch_size=batch_size,
        seed=seed,
        max_tokens=max_tokens,
        max_length=max_length,
        standardize=standardize,
        vocabulary=vocabulary,
        info={
            **extra,
            **counts,
            "splits": splits_from,
            **({"chosen": {"image_size": [height, width]}} if auto else {}),
        },
    )


def _check_vocabulary(vocabulary):
    if vocabulary is None:
        return None
    if (
        isinstance(vocabulary, str)
        or not isinstance(vocabulary, list | tuple)
        or tuple(vocabulary[: len(SPECIAL_TOKENS)]) != SPECIAL_TOKENS
        or not all(isinstance(token, str) for token in vocabulary)
        or len(set(vocabulary)) != len(vocabulary)
    ):
        shown = repr(vocabulary)
        if isinstance(vocabulary, list | tuple) and len(vocabulary) > 6:
            shown = repr(list(vocabulary[:6]))[:-1] + ", ...]"
        raise DataError(
            f"Received: vocabulary={shown}. Expected a trained model's vocabulary: "
            f"a list of distinct str tokens starting with {list(SPECIAL_TOKENS)!r}."
        )
    return list(vocabulary)


def _find_captions_file(source, image_dir):
    """Returns `(captions_file, image_dir)` for a file or folder source."""
    path = pathlib.Path(source)
    if path.is_dir():
        found = sorted(
            entry
            for entry in path.iterdir()
            if entry.is_file()
            and not entry.name.startswith(".")
            and _is_captions_file_name(entry.name)
        )
        if len(found) != 1:
            raise DataError(_captions_file_problem(path, found))
        captions_file = found[0]
    elif path.is_file():
        captions_file = path
    else:
        raise DataError(f"Caption data '{path}' does not exist: pass {_LAYOUTS}.")
    if image_dir is None:
        return captions_file, captions_file.parent
    image_dir = pathlib.Path(image_dir)
    if not image_dir.is_dir():
        raise DataError(
            f"Received: image_dir='{image_dir}', which is not a folder. Expected "
            "the folder of the images that the captions file names."
        )
    return captions_file, image_dir


def _captions_file_problem(path, found):
    """The message for a folder with no captions file or several."""
    if found:
        names = ", ".join(f"'{entry.name}'" for entry in found)
        return (
            f"Caption folder '{path}' holds several captions files ({names}): "
            "keep one there, or pass the captions file itself as source."
        )
    visible = sorted(entry.name for entry in path.iterdir() if entry.name[0] != ".")
    shown = ", ".join(f"'{name}'" for name in visible[:5])
    shown += ", ..." if len(visible) > 5 else ""
    state = f"it holds {shown}" if visible else "it is empty"
    return (
        f"Caption folder '{path}' holds no captions file ({state}): add one "
        "(*.csv, *.tsv, *.json, *token*.txt or captions.txt) at its top level, "
        "or pass the captions file itself as source."
    )


def _is_captions_file_name(name):
    name = name.lower()
    return (
        name.endswith((".csv", ".tsv", ".json"))
        or (name.endswith(".txt") and "token" in name)
        or name == "captions.txt"
    )


def _read_captions_file(path, counts):
    """Reads `(name, caption, split, where)` rows from any captions file.

    Bytes that are not UTF-8 become U+FFFD; the rows holding one are counted
    in `counts["num_replaced"]`.
    """
    content, replaced = _decode(path.read_bytes())
    rows = _parse_captions(path, content)
    if replaced:
        counts["num_replaced"] = sum(
            _REPLACEMENT in name or _REPLACEMENT in caption
            for name, caption, _, _ in rows
        )
    return rows


def _parse_captions(path, content):
    """Parses a captions file's text into `(name, caption, split, where)` rows."""
    if not content.strip():
        raise DataError(
            f"Captions file '{path}' is empty: write one captioned image per row, "
            "e.g. 'image,caption' then 'dog.jpg,a dog runs'."
        )
    first_line = content.lstrip().split("\n", 1)[0]
    if path.suffix.lower() == ".json":
        return _read_coco(path, content)
    if _TOKEN_LINE.match(first_line):
        return _read_tokens(path, content)
    return _read_table(path, content, tab=path.suffix.lower() == ".tsv")


def _read_tokens(path, content):
    """Reads a Flickr8k token file: `name.jpg#0<TAB>caption` a line."""
    rows = []
    for number, line in enumerate(io.StringIO(content, newline=None), start=1):
        if not line.strip():
            continue
        name, tab, caption = line.rstrip("\r\n").partition("\t")
        if not tab:
            raise DataError(
                f"Captions file '{path}', line {number}: expected "
                "'name.jpg#0<TAB>caption', found no tab: fix the line."
            )
        match = re.fullmatch(r"(.+)#\d+", name.strip())
        name = match.group(1) if match else name.strip()
        rows.append((name, caption, None, f"line {number}"))
    return rows


def _read_table(path, content, *, tab):
    """Reads a CSV/TSV table of image names and captions."""
    first_line = content.lstrip().split("\n", 1)[0]
    delimiter = "\t" if tab or "\t" in first_line else ","
    rows = read_table_rows(
        content,
        delimiter=delimiter,
        where=f"Captions file '{path}'",
        fix="fix the line",
    )

    if not rows:
        raise DataError(
            f"Captions file '{path}' holds no captions: write one captioned image "
            "per row, e.g. 'image,caption' then 'dog.jpg,a dog runs'."
        )
    header = [field.strip().lower() for field in rows[0][1]]
    image_column = _first_index(header, _IMAGE_COLUMNS)
    caption_column = _first_index(header, _CAPTION_COLUMNS)
    split_column = _first_index(header, (_SPLIT_COLUMN,))
    if image_column is not None and caption_column is not None:
        rows = rows[1:]
        num_columns = len(header)
    elif image_column is not None or caption_column is not None:
        raise DataError(
            f"Captions file '{path}' has a header ({', '.join(header)}) without "
            f"both an image column ({', '.join(_IMAGE_COLUMNS)}) and a caption "
            f"column ({', '.join(_CAPTION_COLUMNS)}): name its columns 'image' "
            "and 'caption'."
        )
    else:
        image_column, caption_column, split_column, num_columns = 0, 1, None, 2
    # An unquoted caption in the last column may hold the delimiter.
    join_rest = delimiter == "," and caption_column == num_columns - 1

    needed = max(
        c for c in (image_column, caption_column, split_column) if c is not None
    )
    fields = "an image name, a caption and a split"
    if split_column is None:
        fields = "an image name and a caption"
    result = []
    for line, row in rows:
        if len(row) <= needed:
            raise DataError(
                f"Captions file '{path}', line {line}: expected {fields} "
                f"({needed + 1} fields), found {len(row)}: fix the line."
            )
        if delimiter == "," and not join_rest and len(row) > num_columns:
            raise DataError(
                f"Captions file '{path}', line {line}: expected {num_columns} "
                f"fields as in the header, found {len(row)}: quote a caption "
                "that holds commas."
            )
        name = row[image_column].strip()
        if not name:
            raise DataError(
                f"Captions file '{path}', line {line}: the image name is empty: "
                "give every caption its image."
            )
        if join_rest:
            caption = delimiter.join(row[caption_column:])
        else:
            caption = row[caption_column]
        split = None
        if split_column is not None:
            value = row[split_column].strip()
            split = _SPLIT_VALUES.get(value.lower())
            if split is None:
                raise DataError(
                    f"Captions file '{path}', line {line}: split {value!r} is not "
                    "one of train, validation (or val, dev), test: fix the line."
                )
        result.append((name, caption, split, f"line {line}"))
    if not result:
        raise DataError(
            f"Captions file '{path}' holds a header row but no captions: add "
            "one captioned image per row."
        )
    return result


def _first_index(header, names):
    for name in names:
        if name in header:
            return header.index(name)
    return None


def _read_coco(path, content):
    """Reads a COCO captions JSON file."""
    try:
        data = json.loads(content)
    except json.JSONDecodeError as error:
        raise DataError(
            f"Captions file '{path}' is not valid JSON (line {error.lineno}: "
            f"{error.msg}): fix it, or pass a CSV/TSV captions file."
        ) from None
    layout = (
        "expected COCO captions: 'images' with 'id' and 'file_name', "
        "'annotations' with 'image_id' and 'caption'"
    )
    if not (
        isinstance(data, dict)
        and isinstance(data.get("images"), list)
        and isinstance(data.get("annotations"), list)
    ):
        raise DataError(
            f"Captions file '{path}' lacks 'images' or 'annotations' lists: {layout}."
        )
    names = {}
    for index, image in enumerate(data["images"]):
        if not isinstance(image, dict) or "id" not in image or "file_name" not in image:
            raise DataError(
                f"Captions file '{path}', images[{index}]: {layout}; fix the entry."
            )
        names[image["id"]] = str(image["file_name"])
    rows = []
    for index, annotation in enumerate(data["annotations"]):
        if (
            not isinstance(annotation, dict)
            or "image_id" not in annotation
            or not isinstance(annotation.get("caption"), str)
        ):
            raise DataError(
                f"Captions file '{path}', annotations[{index}]: {layout}; fix "
                "the entry."
            )
        image_id = annotation["image_id"]
        # An id without an image entry counts as a missing image.
        name = names.get(image_id, f"image_id {image_id}")
        rows.append((name, annotation["caption"], None, f"annotations[{index}]"))
    if not rows:
        raise DataError(
            f"Captions file '{path}' holds no annotations: add captions, {layout}."
        )
    return rows


class _ImageFolder:
    """Finds image names below a folder; walks it once, when first needed.

    Linked folders below it are followed (each real folder walked once).
    """

    def __init__(self, root):
        self.root = os.path.abspath(root)
        # The folder's real path, so that names through it are inside too.
        self.real_root = os.path.realpath(self.root)
        self._files = None
        self._by_name = None

    def files(self):
        """Normalised paths of the visible files below the folder."""
        if self._files is None:
            self._files, self._by_name = set(), {}
            walked = set()
            for folder, dirs, names in os.walk(self.root, followlinks=True):
                real = os.path.realpath(folder)
                if real in walked:  # A link back to a walked folder.
                    dirs[:] = []
                    continue
                walked.add(real)
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(names):
                    if name.startswith("."):
                        continue
                    path = os.path.join(folder, name)
                    self._files.add(path)
                    self._by_name.setdefault(name, []).append(path)
        return self._files

    def _inside(self, name):
        """The normalised path of `name` below the folder, or None if it leaves it.

        A name is read as the folder's own folders and files name it (`..`
        undone textually), so a linked folder below it stays inside; an
        absolute name may also go through the folder's real path.
        """
        path = os.path.normpath(os.path.join(self.root, name))
        for root in (self.root, self.real_root):
            if os.path.commonpath([path, root]) == root:
                return os.path.join(self.root, os.path.relpath(path, root))
        return None

    def leaves(self, name):
        """Whether the image name `name` leaves the folder (absolute, `../`)."""
        return self._inside(name) is None

    def find(self, name):
        """Path of the image `name` (relative to the folder, else by file name)."""
        path = os.path.normpath(self._inside(name))
        if path in self.files() or os.path.isfile(path):
            return path
        matches = self._by_name.get(os.path.basename(name), [])
        if len(matches) > 1:
            raise DataError(
                f"Image name {name!r} is not below '{self.root}', and several "
                f"files there have its file name ('{matches[0]}', "
                f"'{matches[1]}'): give its path relative to image_dir."
            )
        return matches[0] if matches else None

    def image_files(self):
        return {p for p in self.files() if p.lower().endswith(IMAGE_EXTENSIONS)}


def _group_rows(path, rows, folder, on_bad_file, counts):
    """Groups caption rows by image file; counts missing, outside and
    uncaptioned images."""
    images, found, missing, outside = {}, {}, {}, {}
    for name, caption, split, where in rows:
        if name in outside:
            continue
        if name not in found:
            if folder.leaves(name):
                if on_bad_file == "error":
                    raise DataError(
                        f"Captions file '{path}', {where}: image name {name!r} "
                        f"leaves the image folder '{folder.root}': give image "
                        "names relative to image_dir, or pass on_bad_file='skip' "
                        "to skip such captions."
                    )
                outside[name] = None
                continue
            found[name] = folder.find(name)
        image_path = found[name]
        if image_path is None:
            missing.setdefault(name, None)
            continue
        image = images.setdefault(
            image_path, _Image(name=name, key=image_path, split=split, where=where)
        )
        if image.split != split:
            raise DataError(
                f"Captions file '{path}', {where}: image {name!r} is in split "
                f"{split!r} here but in {image.split!r} at {image.where}: give "
                "all the captions of an image the same split."
            )
        image.texts.append(caption.strip())
    counts["num_missing_images"] = len(missing)
    counts["missing_images"] = list(missing)[:_MAX_LISTED]
    counts["num_outside_images"] = len(outside)
    counts["outside_images"] = list(outside)[:_MAX_LISTED]
    captioned = {p for p in found.values() if p is not None}
    counts["num_uncaptioned_images"] = len(folder.image_files() - captioned)
    return list(images.values())


def _drop_empty_captions(images, standardize, counts):
    """Tokenizes every caption; drops those without tokens and uncaptioned images."""
    texts = [text for image in images for text in image.texts]
    tokens = iter(tokenize(texts, standardize=standardize))
    kept = []
    for image in images:
        captions = [(text, next(tokens)) for text in image.texts]
        usable = [(text, words) for text, words in captions if words]
        counts["num_empty_captions"] += len(captions) - len(usable)
        if usable:
            image.texts = [text for text, _ in usable]
            image.tokens = [words for _, words in usable]
            kept.append(image)
    return kept


def _drop_bad_images(images, on_bad_file, counts):
    """Checks every image file once; skips or rejects unreadable ones."""
    checks = check_image_files([image.key for image in images], extension_check=False)
    kept, skipped = [], []
    for image, check in zip(images, checks, strict=True):
        if check.problem is not None:
            if on_bad_file == "error":
                raise DataError(
                    f"Image file '{image.key}' {check.problem}: fix or remove it, "
                    "or pass on_bad_file='skip' to skip such files."
                )
            skipped.append(f"{image.key}: {check.problem}")
            continue
        counts["num_converted"] += int(check.mode != "RGB")
        image.tf_decodable = check.tf_decodable
        image.size = check.size
        kept.append(image)
    counts["num_skipped"] = len(skipped)
    counts["skipped_files"] = skipped[:_MAX_LISTED]
    return kept


def _nothing_usable(what, counts):
    problems = []
    if counts["num_missing_images"]:
        example = counts["missing_images"][0]
        problems.append(
            f"{counts['num_missing_images']} missing image(s), e.g. {example!r}"
        )
    if counts["num_outside_images"]:
        example = counts["outside_images"][0]
        problems.append(
            f"{counts['num_outside_images']} image name(s) outside image_dir, "
            f"e.g. {example!r}"
        )
    if counts["num_empty_captions"]:
        problems.append(f"{counts['num_empty_captions']} empty caption(s)")
    if counts["num_skipped"]:
        problems.append(f"{counts['num_skipped']} unreadable image(s)")
    found = "; ".join(problems) if problems else "no captions"
    return (
        f"{what} gives no usable (image, caption) pair ({found}): check the "
        "image names and image_dir, or add captioned images."
    )


def _assign_splits(images, *, validation_split, test_split, seed):
    """Returns `({split: image indices in source order}, how)`, split by image."""
    given = np.array([image.split or "" for image in images], dtype=object)
    if all(given == ""):
        parts = stratified_split(
            np.zeros(len(images)),
            validation_split=validation_split,
            test_split=test_split,
            seed=seed,
        )
        split_images = dict(zip(_SPLITS, parts, strict=True))
        how = "random by image"
    else:
        split_images = {split: np.flatnonzero(given == split) for split in _SPLITS}
        missing = {
            split: fraction
            for split, fraction in (
                ("validation", validation_split),
                ("test", test_split),
            )
            if split_images[split].size == 0
        }
        if missing and split_images["train"].size:
            train = split_images["train"]
            parts = stratified_split(
                np.zeros(train.size),
                validation_split=missing.get("validation", 0.0),
                test_split=missing.get("test", 0.0),
                seed=seed,
            )
            for split, part in zip(_SPLITS, parts, strict=True):
                if split == "train" or split in missing:
                    split_images[split] = train[part]
        how = "from the source"
    return {split: np.sort(index) for split, index in split_images.items()}, how


def _decode_files(images, image_size):
    """Decodes every image file once into a uint8 array, in parallel."""
    decodable = [image.tf_decodable for image in images]
    decode = image_decoder(*image_size, use_pil=not all(decodable))
    files = tf.data.Dataset.from_tensor_slices(
        ([str(image.key) for image in images], decodable)
    )
    batches = files.map(
        lambda path, ok: decode(tf.io.read_file(path), ok),
        num_parallel_calls=tf.data.AUTOTUNE,
    ).batch(_DECODE_BATCH)
    pixels = np.empty((len(images), *image_size, 3), np.uint8)
    start = 0
    for batch in batches.prefetch(tf.data.AUTOTUNE).as_numpy_iterator():
        pixels[start : start + len(batch)] = _to_uint8(batch)
        start += len(batch)
    return pixels


def _to_uint8(pixels):
    """Resized float pixels, rounded to the 8-bit values they came from."""
    return np.clip(np.rint(pixels), 0, 255).astype(np.uint8)


def _read_tfds(name, image_size, counts):
    """Reads a TensorFlow Datasets captioning set, its images decoded and resized.

    Returns:
        A tuple `(images, pixels, extra_info)`: one `_Image` per example (its
        key a row of `pixels`, its split the set's own), the uint8 images.
    """
    # Imported here: importing TensorFlow Datasets takes seconds.
    import tensorflow_datasets as tfds

    try:
        builder = tfds.builder(name)
    except tfds.core.DatasetNotFoundError:
        raise DataError(
            f"Unknown TensorFlow Datasets name {name!r}: see "
            "`tfds.list_builders()` for the names, e.g. 'tfds:coco_captions'."
        ) from None
    image_key, caption_key, text_key, name_key = _caption_features(
        name, builder.info.features
    )
    channels = builder.info.features[image_key].shape[-1]
    builder.download_and_prepare()
    # A mocked set (`tfds.testing.mock_data`) has no split information.
    available = set(builder.info.splits) or {"train"}
    own = {
        "train": [s for s in ("train", "restval") if s in available],
        "validation": [s for s in ("validation", "val") if s in available][:1],
        "test": ["test"] if "test" in available else [],
    }
    specs = {split: "+".join(parts) or None for split, parts in own.items()}
    if not any(specs.values()):
        raise DataError(
            f"TensorFlow Datasets set {name!r} has none of the splits train, "
            f"validation (val), test (it has {', '.join(sorted(available))}): "
            "choose another set."
        )

    def prepare(example):
        image = example[image_key]
        if channels == 1:
            image = tf.image.grayscale_to_rgb(image)
        elif channels != 3:
            image = image[..., :3]
        image = tf.image.resize(image, image_size)
        captions = example[caption_key]
        if text_key is not None:
            captions = captions[text_key]
        captions = tf.reshape(captions, [-1])
        file_name = example[name_key] if name_key else tf.constant("")
        return image, captions, file_name

    images, batches = [], []
    for split, spec in specs.items():
        if spec is None:
            continue
        examples = builder.as_dataset(split=spec, shuffle_files=False)
        examples = examples.map(prepare, num_parallel_calls=tf.data.AUTOTUNE)
        examples = examples.ragged_batch(_DECODE_BATCH).prefetch(tf.data.AUTOTUNE)
        position = 0
        for pixels, captions, file_names in examples:
            batches.append(_to_uint8(pixels.numpy()))
            for texts, file_name in zip(
                captions.to_list(), file_names.numpy(), strict=True
            ):
                image_name = file_name.decode("utf-8", errors="replace")
                images.append(
                    _Image(
                        name=image_name or f"{spec}[{position}]",
                        key=len(images),
                        split=split,
                        texts=[
                            t.decode("utf-8", errors="replace").strip() for t in texts
                        ],
                    )
                )
                position += 1
    if channels != 3:
        counts["num_converted"] = len(images)
    pixels = (
        np.concatenate(batches) if batches else np.zeros((0, *image_size, 3), np.uint8)
    )
    if not images:
        raise DataError(
            f"TensorFlow Datasets set {name!r} holds no images: choose another set."
        )
    return images, pixels, {"tfds_splits": specs}


def _caption_features(name, features):
    """Returns `(image_key, caption_key, text_key, name_key)` of a captioning set."""
    import tensorflow_datasets as tfds

    def is_text(feature):
        if isinstance(feature, tfds.features.Text):
            return True
        return (
            isinstance(feature, tfds.features.Tensor)
            and feature.shape == ()
            and feature.dtype == tf.string
        )

    features = dict(features.items())
    image_keys = [k for k, f in features.items() if isinstance(f, tfds.features.Image)]
    captions = []
    for key, feature in features.items():
        if not isinstance(feature, tfds.features.Sequence):
            continue
        inner = feature.feature
        if is_text(inner):
            captions.append((key, None))
        elif (
            isinstance(inner, tfds.features.FeaturesDict)
            and "text" in inner.keys()
            and is_text(inner["text"])
        ):
            captions.append((key, "text"))
    name_keys = [
        k
        for k, f in features.items()
        if is_text(f) and ("filename" in k or "file_name" in k)
    ]
    if not captions:
        captions = [
            (k, None) for k, f in features.items() if is_text(f) and k not in name_keys
        ]
    if len(image_keys) != 1 or len(captions) != 1:
        raise DataError(
            f"TensorFlow Datasets set {name!r} is not an image-captioning set (one "
            "image and its caption texts): choose one such as 'coco_captions'."
        )
    return image_keys[0], *captions[0], name_keys[0] if name_keys else None


def _finish(
    images,
    split_images,
    pixels,
    *,
    source,
    image_size,
    batch_size,
    seed,
    max_tokens,
    max_length,
    standardize,
    vocabulary,
    info,
):
    """Builds the `DataSplits` from the usable images and their split."""
    train_texts = [t for i in split_images["train"] for t in images[i].texts]
    if vocabulary is None:
        if not train_texts:
            raise DataError(
                f"'{source}' has no training captions to learn a vocabulary "
                "from: pass a trained model's vocabulary=..., or lower test_split "
                "and validation_split."
            )
        words = adapt_vocabulary(
            train_texts,
            max_tokens=None if max_tokens is None else max_tokens - 2,
            standardize=standardize,
        )
        vocabulary = [*SPECIAL_TOKENS, *(w for w in words if w not in SPECIAL_TOKENS)]
    if max_length is None:
        reference = split_images["train"] if train_texts else range(len(images))
        max_length = max(len(t) for i in reference for t in images[i].tokens)
    word_ids = {token: index for index, token in enumerate(vocabulary) if token}

    decode = None
    if pixels is not None:
        pixels = tf.convert_to_tensor(pixels)
    else:
        decodable = [image.tf_decodable for image in images]
        decode = image_decoder(*image_size, use_pil=not all(decodable))
        paths = tf.constant([str(image.key) for image in images])
        decodable = tf.constant(decodable)

    def with_images(dataset):
        """Turns `(image_index, *rest)` elements into `(image, *rest)` batches."""
        if decode is None:
            dataset = dataset.batch(batch_size)
            return dataset.map(
                lambda index, *rest: (
                    tf.cast(tf.gather(pixels, index), tf.float32),
                    *rest,
                ),
                num_parallel_calls=tf.data.AUTOTUNE,
            )

        def load(index, *rest):
            contents = tf.io.read_file(tf.gather(paths, index))
            return decode(contents, tf.gather(decodable, index)), *rest

        dataset = dataset.map(load, num_parallel_calls=tf.data.AUTOTUNE)
        return dataset.batch(batch_size)

    datasets, references = {}, {}
    num_examples, num_truncated = {}, 0
    for split, indices in split_images.items():
        pairs = [(i, tokens) for i in indices for tokens in images[i].tokens]
        num_examples[split] = len(pairs)
        if not pairs:
            datasets[split] = references[split] = None
            continue
        inputs = np.zeros((len(pairs), max_length + 1), np.int32)
        targets = np.zeros_like(inputs)
        for row, (_, tokens) in enumerate(pairs):
            num_truncated += len(tokens) > max_length
            ids = [word_ids.get(token, UNK_ID) for token in tokens[:max_length]]
            inputs[row, : len(ids) + 1] = [START_ID, *ids]
            targets[row, : len(ids) + 1] = [*ids, END_ID]
        image_index = np.array([i for i, _ in pairs], np.int32)
        dataset = tf.data.Dataset.from_tensor_slices((image_index, inputs, targets))
        if split == "train":
            dataset = dataset.shuffle(
                len(pairs), seed=seed, reshuffle_each_iteration=True
            )
        dataset = with_images(dataset).map(
            lambda image, inputs, targets: ((image, inputs), targets)
        )
        datasets[split] = dataset.prefetch(tf.data.AUTOTUNE)
        reference_images = tf.data.Dataset.from_tensor_slices(
            (indices.astype(np.int32),)
        )
        reference_images = with_images(reference_images).map(lambda image: image)
        references[split] = CaptionReferences(
            images=reference_images.prefetch(tf.data.AUTOTUNE),
            names=[images[i].name for i in indices],
            references=[list(images[i].tokens) for i in indices],
        )

    height, width = image_size
    info = {
        "source": source,
        "num_examples": num_examples,
        "num_images": {split: int(index.size) for split, index in split_images.items()},
        "vocabulary_size": len(vocabulary),
        "max_length": int(max_length),
        "standardize": standardize,
        **info,
        "num_truncated": int(num_truncated),
    }
    return DataSplits(
        train=datasets["train"],
        validation=datasets["validation"],
        test=datasets["test"],
        model_args={
            "vocabulary": list(vocabulary),
            "image_shape": [height, width, 3],
            "max_length": int(max_length),
        },
        info=info,
        extras={"validation": references["validation"], "test": references["test"]},
    )
