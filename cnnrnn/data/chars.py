"""Character-level text data: a corpus read from a file, a folder or `tfds:NAME`,
character ids, and windows of next-character targets for a char-RNN."""

import pathlib

import numpy as np
import tensorflow as tf

from cnnrnn.data.common import DataSplits
from cnnrnn.data.options import check_positive_int, check_split_fractions
from cnnrnn.data.text import TEXT_EXTENSION
from cnnrnn.errors import DataError
from cnnrnn.tokens import OOV_ID

"""Id of characters outside the vocabulary; `vocabulary[i]` has id `i + 1`."""

_REPLACEMENT = "\ufffd"
# The parts of a corpus, in corpus order; also the TensorFlow Datasets splits
# read first, in this order.
_SPLITS = ("train", "validation", "test")


def read_corpus(source, *, lowercase=False):
    """Reads a whole text corpus into one string.

    Line endings `"\\r\\n"` and `"\\r"` become `"\\n"`, and a UTF-8 byte order
    mark at the start of a file is dropped.

    Args:
        source: str or path. One of:
            - a plain-text UTF-8 file (any extension), read as is;
            - a folder: all its `.txt` files, searched recursively (hidden
              files and folders skipped), sorted by relative path and
              concatenated, each followed by `"\\n"` unless it ends with one;
            - `"tfds:NAME"`, a TensorFlow Datasets text corpus such as
              `"tfds:tiny_shakespeare"`: the examples of its `train`,
              `validation` and `test` splits, then of any others, each
              followed by `"\\n"` unless it ends with one. The first call
              downloads the set, which needs network access.
        lowercase: bool. Lowercase the corpus. Defaults to `False`.

    Returns:
        A tuple `(text, info)`: the corpus as a str, and a JSON-serialisable
        dict with `num_files` (files read; for TensorFlow Datasets, examples
        read) and `num_characters` (the length of `text`).

    Raises:
        DataError: if the source is missing, a folder without `.txt` files, a
            file that is not UTF-8 text, an unknown or non-text TensorFlow
            Datasets set, or holds only whitespace.

    Example:

    >>> text, info = read_corpus("shakespeare.txt")
    >>> info
    {'num_files': 1, 'num_characters': 1115394}
    """
    if not isinstance(lowercase, bool):
        raise DataError(f"Received: lowercase={lowercase!r}. Expected True or False.")
    if isinstance(source, str) and source.startswith("tfds:"):
        pieces = _read_tfds(source.removeprefix("tfds:"))
        text = "".join(_ending_with_newline(_normalise(piece)) for piece in pieces)
    else:
        path = pathlib.Path(source)
        if path.is_dir():
            files = _text_files(path)
            if not files:
                raise DataError(
                    f"Text folder '{path}' holds no .txt files: add some, or pass "
                    "a text file."
                )
            pieces = [_read_text_file(file) for file in files]
            text = "".join(_ending_with_newline(piece) for piece in pieces)
        elif path.is_file():
            pieces = [_read_text_file(path)]
            text = pieces[0]
        else:
            raise DataError(
                f"Text corpus '{path}' does not exist: pass a text file, a folder "
                "of .txt files, or 'tfds:NAME'."
            )
    if not text.strip():
        raise DataError(
            f"Text corpus '{source}' holds no text (it is empty or only "
            "whitespace): pass a longer text."
        )
    if lowercase:
        text = text.lower()
    return text, {"num_files": len(pieces), "num_characters": len(text)}


def build_vocabulary(text):
    """Returns the sorted distinct characters of `text`.

    Args:
        text: str. The training text.

    Returns:
        A list of single-character strings, sorted by code point. Character
        `vocabulary[i]` gets id `i + 1`; id `OOV_ID` (0) is kept for characters
        outside the vocabulary.

    Example:

    >>> build_vocabulary("hello")
    ['e', 'h', 'l', 'o']
    """
    return sorted(set(text))


def encode(text, vocabulary):
    """Maps each character of `text` to its id.

    Args:
        text: str. Text to encode.
        vocabulary: list of str. Distinct single characters, in any order;
            `vocabulary[i]` gets id `i + 1`.

    Returns:
        An int32 NumPy array with one id per character of `text`; characters
        not in `vocabulary` get `OOV_ID` (0).

    Raises:
        DataError: if `vocabulary` is not a non-empty list of distinct single
            characters.

    Example:

    >>> encode("hello!", ["e", "h", "l", "o"]).tolist()
    [2, 1, 3, 3, 4, 0]
    """
    codes, order = _vocabulary_codes(vocabulary)
    points = np.frombuffer(text.encode("utf-32-le", errors="surrogatepass"), np.uint32)
    if points.size == 0:
        return np.zeros(0, np.int32)
    sorted_codes = codes[order]
    positions = np.searchsorted(sorted_codes, points).clip(max=len(codes) - 1)
    found = sorted_codes[positions] == points
    return np.where(found, order[positions] + 1, OOV_ID).astype(np.int32)


def decode(ids, vocabulary):
    """Maps ids back to text; `OOV_ID` becomes U+FFFD, the replacement character.

    Args:
        ids: 1-D sequence of int (a list, NumPy array or tensor). Ids from
            `encode` or from a model's predictions.
        vocabulary: list of str. The vocabulary that `ids` refer to.

    Returns:
        The text, a str with one character per id.

    Raises:
        DataError: if `vocabulary` is invalid, or `ids` is not a 1-D sequence
            of integers between 0 and `len(vocabulary)`.

    Example:

    >>> decode([2, 1, 3, 3, 4, 0], ["e", "h", "l", "o"])
    'hello\\ufffd'
    """
    codes, _ = _vocabulary_codes(vocabulary)
    ids = np.asarray(ids)
    if ids.size == 0:
        return ""
    if ids.ndim > 1 or not np.issubdtype(ids.dtype, np.integer):
        raise DataError(
            f"Received: ids of shape {ids.shape} and dtype {ids.dtype}. Expected "
            "a 1-D sequence of integer character ids."
        )
    ids = ids.reshape(-1)
    if ids.min() < 0 or ids.max() > len(codes):
        raise DataError(
            f"Received: ids between {ids.min()} and {ids.max()}. Expected ids "
            f"between 0 and {len(codes)}, the size of the vocabulary."
        )
    table = np.concatenate([[ord(_REPLACEMENT)], codes]).astype(np.uint32)
    return table[ids].tobytes().decode("utf-32-le", errors="surrogatepass")


def load_char_corpus(
    source,
    *,
    sequence_length=100,
    stride=None,
    batch_size=64,
    validation_split=0.1,
    test_split=0.0,
    lowercase=False,
    vocabulary=None,
    seed=1337,
):
    """Loads a text corpus as windows of characters and their next characters.

    The corpus (see `read_corpus`) is cut into contiguous parts: training
    first, then validation, then test at the end. With `N` characters, the
    test part holds the last `round(N * test_split)` characters and the
    validation part the `round(N * validation_split)` before them; by default
    the last 10% is for validation.

    Characters are mapped to ids: `vocabulary[i]` has id `i + 1` and
    `OOV_ID` (0) stands for any character outside the vocabulary. The
    vocabulary is the given one (a trained model's, to evaluate it on new
    text) or else the sorted distinct characters of the training part, so
    characters seen only in the validation or test part become `OOV_ID`;
    they are counted in `info["num_oov"]`.

    Each example is a window of `sequence_length` ids and, as its target,
    the same window shifted by one character (the next character at every
    position). Windows are cut on the fly by `tf.data` from one id tensor per
    part, never stored. A part of `n` characters gives
    `(n - sequence_length - 1) // stride + 1` windows. Training windows start
    every `stride` characters, in an order shuffled with `seed` and
    reshuffled every epoch; validation and test windows start every
    `sequence_length` characters, in order.

    Args:
        source: str or path. A text file, a folder of `.txt` files, or
            `"tfds:NAME"` such as `"tfds:tiny_shakespeare"` (see
            `read_corpus`).
        sequence_length: int. Characters per window. Defaults to `100`.
        stride: int or None. Characters between the starts of consecutive
            training windows; None means `sequence_length` (windows that do not
            overlap). Defaults to None.
        batch_size: int. Windows per batch; the last batch can be smaller.
            Defaults to `64`.
        validation_split: float. Fraction of the characters, at the end of
            the corpus before the test part, for validation. Defaults to `0.1`.
        test_split: float. Fraction of the characters, at the very end, for
            testing; `1.0` (with `validation_split=0.0` and a `vocabulary`)
            evaluates on the whole text. Defaults to `0.0`.
        lowercase: bool. Lowercase the corpus. Defaults to `False`.
        vocabulary: list of str, or None. The characters of a trained model,
            in its id order; None builds it from the training part. Defaults
            to None.
        seed: int. Seed of the training shuffle. Defaults to `1337`.

    Returns:
        A `DataSplits` whose datasets yield `(inputs, targets)` batches, both
        int32 of shape `(batch, sequence_length)`: `targets[:, t]` is the
        (sparse) id of the character after `inputs[:, t]`. A part without
        characters gives None. `model_args` holds `vocabulary` and
        `lowercase`. `info` holds `source`, `num_files`, and per non-empty
        split `num_examples` (windows), `num_characters` and `num_oov`
        (characters mapped to `OOV_ID`), plus `vocabulary_size` (the
        vocabulary plus `OOV_ID`).

    Raises:
        DataError: if the corpus cannot be read (see `read_corpus`), a
            non-empty part holds no more than `sequence_length` characters,
            the training part is empty and no `vocabulary` is given, or an
            option is invalid.

    Example:

    >>> data = load_char_corpus("shakespeare.txt", sequence_length=100)
    >>> inputs, targets = next(iter(data.train))
    >>> inputs.shape, data.info["vocabulary_size"]
    (TensorShape([64, 100]), 66)
    >>> data = load_char_corpus(
    ...     "new.txt", validation_split=0.0, test_split=1.0,
    ...     vocabulary=data.model_args["vocabulary"],
    ... )
    """
    check_positive_int("sequence_length", sequence_length)
    if stride is not None:
        check_positive_int("stride", stride)
    check_positive_int("batch_size", batch_size)
    check_split_fractions(validation_split, test_split)
    if vocabulary is not None:
        _vocabulary_codes(vocabulary)
        vocabulary = list(vocabulary)
    text, corpus_info = read_corpus(source, lowercase=lowercase)

    total = len(text)
    n_test = round(total * test_split)
    n_val = min(round(total * validation_split), total - n_test)
    n_train = total - n_val - n_test
    bounds = {
        "train": (0, n_train),
        "validation": (n_train, n_train + n_val),
        "test": (n_train + n_val, total),
    }
    if vocabulary is None:
        if n_train == 0:
            raise DataError(
                f"Received: validation_split={validation_split!r}, "
                f"test_split={test_split!r}, which leave no training text: lower "
                "them, or pass a trained model's vocabulary to evaluate on it."
            )
        vocabulary = build_vocabulary(text[:n_train])
    ids = encode(text, vocabulary)

    fixes = {
        "train": "lower validation_split or test_split",
        "validation": "change validation_split (0.0 for none)",
        "test": "change test_split (0.0 for none)",
    }
    datasets = dict.fromkeys(_SPLITS)
    info = {"num_examples": {}, "num_characters": {}, "num_oov": {}}
    for split, (start, end) in bounds.items():
        if end == start:
            continue
        if end - start < sequence_length + 1:
            raise DataError(
                f"The {split} part of '{source}' holds {end - start} characters, "
                f"fewer than sequence_length + 1 = {sequence_length + 1}: lower "
                f"sequence_length, {fixes[split]}, or use a longer text."
            )
        part = ids[start:end]
        training = split == "train"
        step = (stride or sequence_length) if training else sequence_length
        datasets[split], num_windows = _windows(
            part,
            sequence_length=sequence_length,
            stride=step,
            batch_size=batch_size,
            seed=seed if training else None,
            shuffle=training,
        )
        info["num_examples"][split] = num_windows
        info["num_characters"][split] = end - start
        info["num_oov"][split] = int(np.count_nonzero(part == OOV_ID))
    info = {
        "source": str(source),
        "num_files": corpus_info["num_files"],
        **info,
        "vocabulary_size": len(vocabulary) + 1,
    }
    return DataSplits(
        train=datasets["train"],
        validation=datasets["validation"],
        test=datasets["test"],
        model_args={"vocabulary": vocabulary, "lowercase": lowercase},
        info=info,
    )


def _windows(ids, *, sequence_length, stride, batch_size, seed, shuffle):
    """Batched `(inputs, targets)` windows of `ids`, and the number of windows."""
    num_windows = (len(ids) - sequence_length - 1) // stride + 1
    ids = tf.constant(ids, tf.int32)
    offsets = tf.range(sequence_length + 1, dtype=tf.int64)
    starts = tf.data.Dataset.range(0, num_windows * stride, stride)
    if shuffle:
        starts = starts.shuffle(num_windows, seed=seed, reshuffle_each_iteration=True)

    def cut(batch_starts):
        # One gather per batch: rows are ids[s : s + sequence_length + 1].
        windows = tf.gather(ids, batch_starts[:, None] + offsets)
        return windows[:, :-1], windows[:, 1:]

    dataset = starts.batch(batch_size).map(cut, num_parallel_calls=tf.data.AUTOTUNE)
    return dataset.prefetch(tf.data.AUTOTUNE), num_windows


def _vocabulary_codes(vocabulary):
    """Code points of a valid vocabulary, and the order that sorts them."""
    if (
        not isinstance(vocabulary, list | tuple)
        or not vocabulary
        or not all(isinstance(c, str) and len(c) == 1 for c in vocabulary)
        or len(set(vocabulary)) != len(vocabulary)
    ):
        shown = repr(vocabulary)
        shown = shown if len(shown) <= 60 else shown[:57] + "..."
        raise DataError(
            f"Received: vocabulary={shown}. Expected a non-empty list of distinct "
            "single-character strings."
        )
    codes = np.array([ord(c) for c in vocabulary], np.uint32)
    return codes, np.argsort(codes, kind="stable")


def _text_files(directory):
    """The `.txt` files under `directory`, sorted, hidden ones skipped."""
    return sorted(
        path
        for path in directory.rglob("*")
        if path.suffix.lower() == TEXT_EXTENSION
        and path.is_file()
        and not any(part.startswith(".") for part in path.relative_to(directory).parts)
    )


def _read_text_file(path):
    """The normalised UTF-8 text of `path`; DataError if it looks binary."""
    data = path.read_bytes()
    reason = "it looks binary" if b"\0" in data else None
    if reason is None:
        try:
            return _normalise(data.decode("utf-8-sig"))
        except UnicodeDecodeError as error:
            reason = f"byte {error.start} is not UTF-8"
    raise DataError(
        f"'{path}' is not a UTF-8 text file ({reason}): pass plain text, or a "
        "folder of .txt files."
    )


def _normalise(text):
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _ending_with_newline(text):
    return text if not text or text.endswith("\n") else text + "\n"


def _read_tfds(name):
    """The texts of every example of a TensorFlow Datasets text corpus."""
    # Imported here: importing TensorFlow Datasets takes seconds.
    import tensorflow_datasets as tfds

    try:
        builder = tfds.builder(name)
    except ValueError:  # tfds.core.DatasetNotFoundError, or a malformed name
        raise DataError(
            f"Unknown TensorFlow Datasets name {name!r}: see "
            "`tfds.list_builders()` for the names, e.g. 'tfds:tiny_shakespeare'."
        ) from None
    key = next(
        (
            key
            for key, feature in builder.info.features.items()
            if isinstance(feature, tfds.features.Text)
        ),
        None,
    )
    if key is None:
        raise DataError(
            f"TensorFlow Datasets set {name!r} is not a text corpus (it has no "
            "text feature): choose one such as 'tfds:tiny_shakespeare'."
        )
    builder.download_and_prepare()
    # A mocked set (`tfds.testing.mock_data`) has no split information.
    available = set(builder.info.splits) or {"train"}
    splits = [split for split in _SPLITS if split in available]
    splits += sorted(available - set(_SPLITS))
    texts = []
    for split in splits:
        dataset = builder.as_dataset(split=split).map(lambda example: example[key])
        for batch in tfds.as_numpy(dataset.batch(1024)):
            texts += [data.decode("utf-8", errors="replace") for data in batch]
    return texts
