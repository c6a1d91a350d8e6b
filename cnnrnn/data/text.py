"""Text classification data: a CSV/TSV file, a folder of class sub-folders, or
`tfds:NAME`; plus tokenisation helpers shared with other text pipelines."""

import csv
import io
import numbers
import pathlib
import re

import numpy as np
import tensorflow as tf

from cnnrnn.data.common import (
    DataSplits,
    class_folders,
    classes_not_scored,
    stratified_split,
    tfds_classification_builder,
)
from cnnrnn.data.options import (
    STANDARDIZE,
    STANDARDIZE_CHOICES,
    check_choice,
    check_max_tokens,
    check_positive_int,
    check_split_fractions,
)
from cnnrnn.errors import DataError

TEXT_EXTENSION = ".txt"

_DELIMITERS = {"auto": None, "tab": "\t", "\t": "\t", ",": ","}
_HEADER_CHOICES = ("auto", True, False)
# Bucketed batching uses at most this many length buckets.
_MAX_BUCKETS = 8
_INT_LABEL = re.compile(r"[+-]?[0-9]+")
_NUMBER_LABEL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
# At most this many labels of each kind are named in a message.
_MAX_NAMED_LABELS = 5
_REPLACEMENT = "\ufffd"


def load_text_classification(
    source,
    *,
    text_column=0,
    label_column=-1,
    delimiter="auto",
    header="auto",
    batch_size=32,
    validation_split=0.15,
    test_split=0.15,
    seed=1337,
    max_tokens=20000,
    standardize=STANDARDIZE,
    bucketing=True,
    class_names=None,
):
    """Loads labelled texts from a CSV/TSV file, a class folder or TensorFlow Datasets.

    The examples are split class by class (`stratified_split`), the vocabulary
    is adapted on the training texts only, and each split becomes a `tf.data`
    pipeline of raw strings: the model vectorizes them itself, with the
    vocabulary in `model_args`. Empty or whitespace-only texts are skipped and
    bytes that are not UTF-8 are replaced by U+FFFD; both are counted in `info`.

    Labels are read as strings. When every label is an integer (`0`, `1`,
    `-1`), they are written in canonical form and sorted numerically
    (`["0", "1"]`); otherwise the class names are the sorted distinct labels.
    A file whose labels mix numbers and words (`1`, `pos`), or spell one
    number two ways without all being integers (`1`, `1.0`), is refused.
    Class folders are sorted the same way, and a TensorFlow Datasets set keeps
    the order of its `ClassLabel` names.

    Args:
        source: str or path. One of:
            - a CSV or TSV file, one example a row (`text_column`,
              `label_column`, `delimiter` and `header` say how to read it);
            - a folder with one sub-folder per class holding `.txt` files, one
              text a file (the `keras.utils.text_dataset_from_directory`
              layout; nested folders are included, hidden files ignored);
            - `"tfds:NAME"`, a TensorFlow Datasets text-classification set
              such as `"tfds:imdb_reviews"`. Its own `validation` and `test`
              splits are used when it has them; the missing ones are cut from
              its `train` split, class by class. The first call downloads the
              set, which needs network access.
        text_column: int or str. Position (negative counts from the end) or
            header name of the text column. Defaults to `0`.
        label_column: int or str. Position or header name of the label column.
            Defaults to `-1` (the last field of each row).
        delimiter: `"auto"`, `"tab"` (or `"\\t"`) or `","`. `"auto"` reads
            `.tsv` files and files whose first line holds a tab as
            tab-separated, others as comma-separated. Tab-separated fields are
            taken literally (quotes are plain characters); comma-separated
            files follow the usual CSV quoting. Defaults to `"auto"`.
        header: `"auto"`, `True` or `False`. Whether the first row holds
            column names. `"auto"` says yes when a column is given by name, or
            when the first row's label is not a label of any other row.
            Defaults to `"auto"`.
        batch_size: int. Examples per batch. Defaults to `32`.
        validation_split: float. Fraction of each class for validation.
            Defaults to `0.15`.
        test_split: float. Fraction of each class for testing; `1.0` puts every
            example in the test split. Defaults to `0.15`.
        seed: int. Seed of the split and of the training shuffle. Defaults to
            `1337`.
        max_tokens: int or None. Largest vocabulary, counting the padding and
            out-of-vocabulary tokens; None means no limit. Defaults to `20000`.
        standardize: `"lower_and_strip_punctuation"`, `"lower"`,
            `"strip_punctuation"` or None. Standardization of
            `keras.layers.TextVectorization`. Defaults to
            `"lower_and_strip_punctuation"`.
        bucketing: bool. Batch texts of similar length (in whitespace tokens)
            together, so that padding each batch to its longest text wastes
            little; `False` batches them in order. Defaults to `True`.
        class_names: list of str, or None. The classes of a trained model, when
            evaluating it on new data: every label must be among them (one
            class is then enough) and class ids follow this order. Defaults to
            None (the data's classes).

    Returns:
        A `DataSplits` whose datasets yield `(texts, labels)` batches: a
        `tf.string` tensor `(batch,)` of raw texts and int32 class ids. A split
        without examples is None. `model_args` holds `vocabulary` (the adapted
        tokens without `""` and `"[UNK]"`, for
        `TextVectorization(vocabulary=...)`), `num_classes` and `standardize`.
        `info` holds `source`, `class_names`, `num_examples` per split,
        `num_skipped_empty`, `num_replaced` (texts with undecodable bytes),
        `vocabulary_size` (the `TextVectorization.vocabulary_size()` it
        gives: the tokens plus padding and out-of-vocabulary), and
        `max_length` and `median_length` of the training texts in whitespace
        tokens (of all texts when there is no training split; the vocabulary
        is then empty).

    Raises:
        DataError: if the source is missing, empty or malformed (a row without
            its text or label, with the line number), has a single class, has
            labels that mix numbers and words, has labels not in
            `class_names`, is an unknown or unsuitable TensorFlow Datasets
            set, or an option is invalid.

    Example:

    >>> data = load_text_classification("reviews.csv", batch_size=64)
    >>> data.info["class_names"]
    ['negative', 'positive']
    >>> texts, labels = next(iter(data.train))
    >>> data = load_text_classification("tfds:imdb_reviews")
    """
    for name, column in (("text_column", text_column), ("label_column", label_column)):
        if isinstance(column, bool) or not isinstance(column, numbers.Integral | str):
            raise DataError(
                f"Received: {name}={column!r}. Expected a column position (int) "
                "or a column name (str)."
            )
    check_choice("delimiter", delimiter, tuple(_DELIMITERS))
    check_choice("header", header, _HEADER_CHOICES)
    check_positive_int("batch_size", batch_size)
    check_split_fractions(validation_split, test_split)
    check_max_tokens(max_tokens, reserved=("", "[UNK]"))
    check_choice("standardize", standardize, STANDARDIZE_CHOICES)
    if not isinstance(bucketing, bool):
        raise DataError(f"Received: bucketing={bucketing!r}. Expected True or False.")
    class_names = _check_class_names(class_names)
    options = {
        "batch_size": batch_size,
        "seed": seed,
        "max_tokens": max_tokens,
        "standardize": standardize,
        "bucketing": bucketing,
    }

    if isinstance(source, str) and source.startswith("tfds:"):
        name = source.removeprefix("tfds:")
        splits, names, counts = _read_tfds(
            name, validation_split, test_split, seed, class_names
        )
        return _finish(
            splits, source=source, class_names=names, counts=counts, **options
        )

    path = pathlib.Path(source)
    if path.is_dir():
        texts, labels, counts = _read_folder(path)
        what = f"Text folder '{path}'"
    elif path.is_file():
        texts, labels, counts = _read_table(
            path, text_column, label_column, _DELIMITERS[delimiter], header
        )
        labels = _canonical_labels(labels, f"Text file '{path}'")
        what = f"Text file '{path}'"
    else:
        raise DataError(
            f"Text data '{path}' does not exist: pass a CSV/TSV file, a folder "
            "with one sub-folder of .txt files per class, or 'tfds:NAME'."
        )
    if not texts:
        raise DataError(
            f"{what} holds no texts (all {counts['num_skipped_empty']} were empty): "
            "add labelled texts."
        )
    names = _class_order(what, labels, class_names)
    class_ids = {name: index for index, name in enumerate(names)}
    ids = np.array([class_ids[label] for label in labels], np.int32)
    indices = stratified_split(
        ids, validation_split=validation_split, test_split=test_split, seed=seed
    )
    texts = np.array(texts, dtype=object)
    splits = {
        split: (texts[index].tolist(), ids[index])
        for split, index in zip(("train", "validation", "test"), indices, strict=True)
    }
    return _finish(
        splits, source=str(path), class_names=names, counts=counts, **options
    )


def adapt_vocabulary(texts, *, max_tokens=20000, standardize=STANDARDIZE):
    """Learns a word vocabulary from texts with `keras.layers.TextVectorization`.

    Args:
        texts: list of str (or anything `TextVectorization.adapt` takes: an
            array or a `tf.data.Dataset` of strings).
        max_tokens: int or None. Largest vocabulary, counting the padding and
            out-of-vocabulary tokens; None means no limit. Defaults to `20000`.
        standardize: `"lower_and_strip_punctuation"`, `"lower"`,
            `"strip_punctuation"` or None. Defaults to
            `"lower_and_strip_punctuation"`.

    Returns:
        The tokens, most frequent first, without the padding `""` and
        out-of-vocabulary `"[UNK]"` entries, as a list of str: pass it back as
        `TextVectorization(vocabulary=..., standardize=...)`.

    Raises:
        DataError: if an option is invalid.

    Example:

    >>> adapt_vocabulary(["The film was good.", "the film was bad"])
    ['was', 'the', 'film', 'good', 'bad']
    """
    check_max_tokens(max_tokens, reserved=("", "[UNK]"))
    check_choice("standardize", standardize, STANDARDIZE_CHOICES)
    import keras  # Imported here: `cnnrnn.data` needs Keras only for this layer.

    if isinstance(texts, list | tuple):
        texts = tf.data.Dataset.from_tensor_slices(tf.constant(texts, tf.string))
        texts = texts.batch(1024)
    layer = keras.layers.TextVectorization(
        max_tokens=max_tokens, standardize=standardize
    )
    layer.adapt(texts)
    return [str(token) for token in layer.get_vocabulary(include_special_tokens=False)]


def tokenize(texts, *, standardize=STANDARDIZE):
    """Splits texts into tokens exactly as `keras.layers.TextVectorization` does.

    The texts are standardized and split on whitespace by a `TextVectorization`
    layer whose vocabulary holds every token of `texts` (`adapt_vocabulary`),
    so no token is lost to `"[UNK]"`.

    Args:
        texts: list of str.
        standardize: `"lower_and_strip_punctuation"`, `"lower"`,
            `"strip_punctuation"` or None. Defaults to
            `"lower_and_strip_punctuation"`.

    Returns:
        One list of str tokens per text, in order; an empty list for a text
        without tokens.

    Raises:
        DataError: if `standardize` is invalid.

    Example:

    >>> tokenize(["A dog, running!", "   "])
    [['a', 'dog', 'running'], []]
    """
    check_choice("standardize", standardize, STANDARDIZE_CHOICES)
    texts = list(texts)
    if not texts:
        return []
    vocabulary = adapt_vocabulary(texts, max_tokens=None, standardize=standardize)
    if not vocabulary:
        return [[] for _ in texts]
    import keras  # Imported here: `cnnrnn.data` needs Keras only for this layer.

    # Ragged ids need the TensorFlow backend; padded ids (0 is only padding)
    # give the same tokens on the others.
    ragged = keras.backend.backend() == "tensorflow"
    layer = keras.layers.TextVectorization(
        vocabulary=vocabulary, standardize=standardize, ragged=ragged
    )
    tokens = np.array(["", "[UNK]", *vocabulary], dtype=object)
    batches = tf.data.Dataset.from_tensor_slices(tf.constant(texts, tf.string))
    result = []
    for ids in batches.batch(4096).map(layer):
        if not isinstance(ids, tf.RaggedTensor):
            ids = tf.RaggedTensor.from_tensor(ids, padding=0)
        ends = np.cumsum(ids.row_lengths().numpy())[:-1]
        words = tokens[ids.flat_values.numpy()]
        result += [row.tolist() for row in np.split(words, ends)]
    return result


def read_texts(path):
    """Reads texts to classify from a file, one text a line.

    Bytes that are not UTF-8 are replaced by U+FFFD. Surrounding whitespace is
    removed and empty lines are skipped. (Reading `-` as standard input is the
    caller's business.)

    Args:
        path: str or path. A text file.

    Returns:
        The texts, a list of str.

    Raises:
        DataError: if the file is missing, a folder, or holds no text.

    Example:

    >>> model.predict(tf.constant(read_texts("reviews.txt")))
    """
    path = pathlib.Path(path)
    if not path.is_file():
        state = "is a folder" if path.is_dir() else "does not exist"
        raise DataError(
            f"Text file '{path}' {state}: pass a text file with one text per line."
        )
    content, _ = _decode(path.read_bytes())
    texts = [line.strip() for line in io.StringIO(content, newline=None)]
    texts = [text for text in texts if text]
    if not texts:
        raise DataError(f"Text file '{path}' holds no text: write one text per line.")
    return texts


def count_tokens(texts):
    """Numbers of whitespace-separated tokens, as `tf.strings.split` counts them.

    Args:
        texts: list of str (or a 1-D string tensor).

    Returns:
        An int64 NumPy array, one count per text.

    Example:

    >>> count_tokens(["a good film", "", "bad"]).tolist()
    [3, 0, 1]
    """
    if len(texts) == 0:
        return np.zeros(0, np.int64)
    return tf.strings.split(tf.constant(texts, tf.string)).row_lengths().numpy()


def bucket_boundaries(lengths, *, max_buckets=_MAX_BUCKETS):
    """Length boundaries that cut `lengths` into up to `max_buckets` even buckets.

    Args:
        lengths: sequence of int. Lengths of the training examples.
        max_buckets: int. Most buckets. Defaults to `8`.

    Returns:
        Increasing list of int boundaries for
        `tf.data.Dataset.bucket_by_sequence_length` (bucket `i` holds lengths
        in `[boundaries[i - 1], boundaries[i])`); empty when the lengths are
        all alike.

    Example:

    >>> bucket_boundaries([1, 2, 3, 4, 5, 6, 7, 8], max_buckets=4)
    [3, 5, 7]
    """
    check_positive_int("max_buckets", max_buckets)
    lengths = np.asarray(lengths)
    if lengths.size == 0:
        return []
    quantiles = np.quantile(lengths, np.arange(1, max_buckets) / max_buckets)
    bounds = {int(np.floor(q)) + 1 for q in quantiles}
    return sorted(b for b in bounds if lengths.min() < b <= lengths.max())


def batch_by_length(
    dataset, *, batch_size, boundaries, element_length_func=None, lengths=None
):
    """Batches a dataset so that each batch holds examples of similar length.

    Args:
        dataset: `tf.data.Dataset` of `(text, ...)` tuples.
        batch_size: int. Examples per batch (the last batch of each bucket can
            be smaller).
        boundaries: list of int, from `bucket_boundaries`. An empty list
            batches in order.
        element_length_func: callable taking the components of an element and
            returning its length as an int32 tensor, or None to count the
            whitespace tokens of the first component. Defaults to None.
        lengths: sequence of int, or None. The lengths of all the elements, in
            any order. When given, the result's cardinality (its number of
            batches, which does not depend on the order) is set, so that Keras
            knows the number of steps per epoch. Defaults to None.

    Returns:
        The batched `tf.data.Dataset`.

    Example:

    >>> lengths = count_tokens(train_texts)
    >>> batches = batch_by_length(
    ...     dataset, batch_size=32, boundaries=bucket_boundaries(lengths)
    ... )
    """
    if not boundaries:
        return dataset.batch(batch_size)
    if element_length_func is None:

        def element_length_func(text, *rest):
            return tf.size(tf.strings.split(text))

    batches = dataset.bucket_by_sequence_length(
        element_length_func,
        bucket_boundaries=list(boundaries),
        bucket_batch_sizes=[batch_size] * (len(boundaries) + 1),
    )
    if lengths is not None:
        # Bucket i holds lengths in [boundaries[i - 1], boundaries[i]), and
        # ends with a smaller batch holding its remainder.
        buckets = np.searchsorted(boundaries, np.asarray(lengths), side="right")
        sizes = np.bincount(buckets, minlength=len(boundaries) + 1)
        num_batches = int(sum(-(-int(size) // batch_size) for size in sizes))
        batches = batches.apply(tf.data.experimental.assert_cardinality(num_batches))
    return batches


def _finish(
    splits,
    *,
    source,
    class_names,
    counts,
    batch_size,
    seed,
    max_tokens,
    standardize,
    bucketing,
):
    """Builds the `DataSplits` from `{split: (texts, label_ids)}`."""
    train_texts = splits["train"][0]
    vocabulary = []
    if train_texts:
        vocabulary = adapt_vocabulary(
            train_texts, max_tokens=max_tokens, standardize=standardize
        )
        if not vocabulary:
            raise DataError(
                f"The training texts of '{source}' hold no words after "
                f"standardize={standardize!r}: check text_column, or add texts."
            )
    reference = train_texts or [t for texts, _ in splits.values() for t in texts]
    lengths = count_tokens(reference)
    boundaries = bucket_boundaries(lengths) if bucketing else []
    datasets = {}
    for split, (texts, labels) in splits.items():
        if not texts:
            datasets[split] = None
            continue
        dataset = tf.data.Dataset.from_tensor_slices(
            (tf.constant(texts, tf.string), np.asarray(labels, np.int32))
        )
        if split == "train":
            dataset = dataset.shuffle(
                len(texts), seed=seed, reshuffle_each_iteration=True
            )
        dataset = batch_by_length(
            dataset,
            batch_size=batch_size,
            boundaries=boundaries,
            lengths=count_tokens(texts),
        )
        datasets[split] = dataset.prefetch(tf.data.AUTOTUNE)
    info = {
        "source": source,
        "class_names": list(class_names),
        "num_examples": {split: len(texts) for split, (texts, _) in splits.items()},
        **counts,
        "classes_not_scored": classes_not_scored(
            {split: labels for split, (_, labels) in splits.items()}, class_names
        ),
        "vocabulary_size": len(vocabulary) + 2 if vocabulary else 0,
        "max_length": int(lengths.max()) if lengths.size else 0,
        "median_length": float(np.median(lengths)) if lengths.size else 0.0,
    }
    return DataSplits(
        train=datasets["train"],
        validation=datasets["validation"],
        test=datasets["test"],
        model_args={
            "vocabulary": vocabulary,
            "num_classes": len(class_names),
            "standardize": standardize,
        },
        info=info,
    )


def _check_class_names(class_names):
    if class_names is None:
        return None
    if (
        isinstance(class_names, str)
        or not isinstance(class_names, list | tuple)
        or not class_names
        or len({str(name) for name in class_names}) != len(class_names)
    ):
        raise DataError(
            f"Received: class_names={class_names!r}. Expected a list of distinct "
            "class names."
        )
    return [str(name) for name in class_names]


def _decode(data):
    """UTF-8 text of `data` (a BOM dropped) and whether bytes were replaced."""
    try:
        return data.decode("utf-8-sig"), False
    except UnicodeDecodeError:
        return data.decode("utf-8-sig", errors="replace"), True


def _canonical_labels(labels, what):
    """Integer labels in canonical form (`"+1"`, `"01"` -> `"1"`), others as is.

    Raises:
        DataError: if the labels mix numbers and words, or (not all integers)
            spell one number two ways: each would silently be its own class.
    """
    if all(_INT_LABEL.fullmatch(label) for label in labels):
        return [str(int(label)) for label in labels]
    distinct = list(dict.fromkeys(labels))
    numbers = [label for label in distinct if _NUMBER_LABEL.fullmatch(label)]
    if numbers and len(numbers) < len(distinct):
        words = [label for label in distinct if not _NUMBER_LABEL.fullmatch(label)]
        raise DataError(
            f"{what} has labels that mix numbers ({_named(numbers)}) and words "
            f"({_named(words)}): give every row one kind of label (all numbers "
            "or all words), or check label_column and header."
        )
    spellings = {}
    for label in numbers:
        spellings.setdefault(float(label), []).append(label)
    for same in spellings.values():
        if len(same) > 1:
            raise DataError(
                f"{what} has labels that spell one number two ways "
                f"({_named(same)}): write each class one way."
            )
    return labels


def _named(labels):
    """The first labels, quoted, for a message."""
    named = ", ".join(map(repr, labels[:_MAX_NAMED_LABELS]))
    return named + (", ..." if len(labels) > _MAX_NAMED_LABELS else "")


def _sort_key(names):
    """Sorts integer names numerically, others as strings."""
    if all(_INT_LABEL.fullmatch(name) for name in names):
        return int
    return None


def _class_order(what, labels, class_names, *, keep_order=False):
    """Returns the class names whose order defines the class ids.

    The data's own classes are its distinct `labels`, sorted unless `keep_order`.
    """
    present = list(dict.fromkeys(labels))
    if not keep_order:
        present.sort(key=_sort_key(present))
    if class_names is None:
        if len(present) < 2:
            raise DataError(
                f"{what} has only one class ({present[0]!r}): a classifier needs "
                "at least two, so check the label column or add texts of another "
                "class."
            )
        return present
    unknown = [name for name in present if name not in class_names]
    if unknown:
        raise DataError(
            f"{what} has labels the model does not know: "
            f"{', '.join(map(repr, unknown))}. Expected only labels among "
            f"{', '.join(map(repr, class_names))}."
        )
    return class_names


def _read_table(path, text_column, label_column, delimiter, header):
    """Reads `(texts, labels, counts)` from a CSV or TSV file."""
    data = path.read_bytes()
    content, replaced = _decode(data)
    if not content.strip():
        raise DataError(
            f"Text file '{path}' is empty: write one labelled text per row, e.g. "
            "'text,label' then 'a fine film,positive'."
        )
    if delimiter is None:
        first_line = content.split("\n", 1)[0]
        tab = path.suffix.lower() == ".tsv" or "\t" in first_line
        delimiter = "\t" if tab else ","
    rows = read_table_rows(
        content,
        delimiter=delimiter,
        where=f"Text file '{path}'",
        fix="fix the line, or pass the right delimiter",
    )

    named = isinstance(text_column, str) or isinstance(label_column, str)
    if header == "auto":
        header = named or _looks_like_header(rows, label_column)
    if named and not header:
        raise DataError(
            f"Received: text_column={text_column!r}, label_column={label_column!r} "
            "with header=False: column names need a header row, so pass "
            "header=True or column positions."
        )
    if header:
        names = [field.strip() for field in rows[0][1]] if rows else []
        text_column = _column_index(path, "text_column", text_column, names)
        label_column = _column_index(path, "label_column", label_column, names)
        rows = rows[1:]
    if _same_column(text_column, label_column, len(names) if header else None):
        raise DataError(
            f"Received: text_column={text_column!r}, label_column="
            f"{label_column!r}. Expected two different columns."
        )

    width = len(names) if header else len(rows[0][1]) if rows else 0
    for line, row in rows:  # too few fields: named in the loop below
        if len(row) > width:
            raise DataError(
                f"Text file '{path}', line {line}: {len(row)} field(s) where the "
                f"{'header' if header else 'first row'} has {width}: fix the line "
                "(a text holding the delimiter must be quoted in a CSV), or pass "
                "the right delimiter."
            )
    texts, labels, num_skipped, num_replaced = [], [], 0, 0
    for line, row in rows:
        fields = len(row)
        positions = [c if c >= 0 else fields + c for c in (text_column, label_column)]
        if positions[0] == positions[1] or not all(0 <= p < fields for p in positions):
            raise DataError(
                f"Text file '{path}', line {line}: expected the text in column "
                f"{text_column} and the label in column {label_column}, found "
                f"{fields} field(s): fix the line, or pass the right delimiter "
                "or columns."
            )
        text, label = row[positions[0]].strip(), row[positions[1]].strip()
        if not text:
            num_skipped += 1
            continue
        if not label:
            raise DataError(
                f"Text file '{path}', line {line}: the label (column "
                f"{label_column}) is empty: give every text a label."
            )
        texts.append(text)
        labels.append(label)
        num_replaced += int(replaced and _REPLACEMENT in text)
    if not texts and not num_skipped:
        state = "a header row but no" if header else "no"
        raise DataError(
            f"Text file '{path}' holds {state} examples: add labelled texts, one "
            "per row."
        )
    counts = {"num_skipped_empty": num_skipped, "num_replaced": int(num_replaced)}
    return texts, labels, counts


def read_table_rows(content, *, delimiter, where, fix):
    """The non-blank rows of CSV or TSV text, as `(line number, fields)`.

    Tab-separated fields are taken literally (quotes are plain characters);
    comma-separated text follows the usual CSV quoting.

    Args:
        content: str. The table.
        delimiter: `","` or `"\\t"`.
        where: str. What the table is, for messages: `"Text file 'x.csv'"`.
        fix: str. What to do about a malformed line, for messages.

    Raises:
        DataError: for a malformed line, naming it.
    """
    if delimiter == "\t":
        reader = csv.reader(
            io.StringIO(content, newline=""), delimiter="\t", quoting=csv.QUOTE_NONE
        )
    else:
        reader = csv.reader(io.StringIO(content, newline=""))
    rows = []
    try:
        for row in reader:
            if any(field.strip() for field in row):
                rows.append((reader.line_num, row))
    except csv.Error as error:
        raise DataError(
            f"{where}, line {reader.line_num + 1}: {error}: {fix}."
        ) from None
    return rows


def _looks_like_header(rows, label_column):
    """Whether the first row's label is not a label of any other row."""
    if len(rows) < 2 or isinstance(label_column, str):
        return False

    def label(row):
        try:
            return row[label_column].strip()
        except IndexError:
            return None

    others = {label(row) for _, row in rows[1:]}
    first = label(rows[0][1])
    return first is not None and first not in others


def _same_column(first, second, num_columns):
    """Whether two positions name the same column (of `num_columns`, if known)."""
    if num_columns:
        first, second = (
            column + num_columns if -num_columns <= column < 0 else column
            for column in (first, second)
        )
    return first == second


def _column_index(path, name, column, header):
    """Position of `column` (a position or a header name)."""
    if not isinstance(column, str):
        return int(column)
    if column not in header:
        columns = ", ".join(map(repr, header))
        raise DataError(
            f"Received: {name}={column!r}, not a column of '{path}'. Expected one "
            f"of its header's columns: {columns}."
        )
    return header.index(column)


def _read_folder(directory):
    """Reads `(texts, labels, counts)` from `directory/<class>/*.txt`."""
    class_dirs = class_folders(
        directory,
        what="Text folder",
        expected="one sub-folder of .txt files per class, e.g. "
        f"'{directory / 'positive' / '001.txt'}', or pass a CSV/TSV file",
    ).values()
    texts, labels, num_skipped, num_replaced = [], [], 0, 0
    for class_dir in class_dirs:
        files = sorted(
            path
            for path in class_dir.rglob("*")
            if path.suffix.lower() == TEXT_EXTENSION
            and path.is_file()
            and not any(
                part.startswith(".") for part in path.relative_to(class_dir).parts
            )
        )
        if not files:
            raise DataError(
                f"Class folder '{class_dir}' holds no .txt files: add texts or "
                "remove the folder."
            )
        for path in files:
            text, replaced = _decode(path.read_bytes())
            text = text.strip()
            if not text:
                num_skipped += 1
                continue
            texts.append(text)
            labels.append(class_dir.name)
            num_replaced += replaced
    counts = {"num_skipped_empty": num_skipped, "num_replaced": num_replaced}
    return texts, labels, counts


def _read_tfds(name, validation_split, test_split, seed, class_names):
    """Reads a TensorFlow Datasets set into `{split: (texts, ids)}` lists."""
    # Imported here: importing TensorFlow Datasets takes seconds.
    import tensorflow_datasets as tfds

    builder, _, _, source_names = tfds_classification_builder(
        name, input_feature=tfds.features.Text, kind="a text", example="imdb_reviews"
    )
    what = f"TensorFlow Datasets set {name!r}"
    names = _class_order(what, source_names, class_names, keep_order=True)
    label_map = np.array([names.index(n) for n in source_names], np.int32)

    builder.download_and_prepare()
    # A mocked set (`tfds.testing.mock_data`) has no split information.
    available = set(builder.info.splits) or {"train"}
    if "train" not in available:
        raise DataError(
            f"{what} has no 'train' split (it has "
            f"{', '.join(sorted(available))}): choose another set."
        )
    counts = {"num_skipped_empty": 0, "num_replaced": 0}

    def read(split):
        texts, ids = [], []
        dataset = builder.as_dataset(split=split, as_supervised=True).batch(4096)
        for batch_texts, batch_labels in tfds.as_numpy(dataset):
            for data, label in zip(batch_texts, batch_labels, strict=True):
                text, replaced = _decode(data)
                text = text.strip()
                if not text:
                    counts["num_skipped_empty"] += 1
                    continue
                counts["num_replaced"] += replaced
                texts.append(text)
                ids.append(label_map[label])
        return texts, np.array(ids, np.int32)

    splits = {"train": read("train")}
    cut = {}
    for split, fraction in (("validation", validation_split), ("test", test_split)):
        if split in available:
            splits[split] = read(split)
        else:
            cut[split] = fraction
    if cut:
        texts, ids = splits["train"]
        indices = stratified_split(
            ids,
            validation_split=cut.get("validation", 0),
            test_split=cut.get("test", 0),
            seed=seed,
        )
        texts = np.array(texts, dtype=object)
        for split, index in zip(("train", "validation", "test"), indices, strict=True):
            if split == "train" or split in cut:
                splits[split] = (texts[index].tolist(), ids[index])
    splits = {split: splits[split] for split in ("train", "validation", "test")}
    if not any(texts for texts, _ in splits.values()):
        raise DataError(f"{what} holds no texts: choose another set.")
    return splits, names, counts
