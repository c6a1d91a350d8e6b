import json
import pathlib

import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from cnnrnn.data.text import (
    STANDARDIZE,
    adapt_vocabulary,
    batch_by_length,
    bucket_boundaries,
    count_tokens,
    load_text_classification,
    read_texts,
)
from cnnrnn.errors import DataError

SENTIMENT_DIR = pathlib.Path(__file__).parents[2] / ".." / "shared" / "data"
SENTIMENT_DIR = SENTIMENT_DIR.resolve() / "sentiment"


def write(path, content):
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        content = content.encode("utf-8")
    path.write_bytes(content)
    return path


def rows_file(tmp_path, rows, name="data.tsv", delimiter="\t", header=None):
    lines = [header] if header else []
    lines += [f"{text}{delimiter}{label}" for text, label in rows]
    return write(tmp_path / name, "\n".join(lines) + "\n")


def collect(dataset):
    """All `(texts, labels)` of a dataset, texts decoded."""
    texts, labels = [], []
    for batch_texts, batch_labels in dataset.as_numpy_iterator():
        texts += [text.decode("utf-8") for text in batch_texts]
        labels += batch_labels.tolist()
    return texts, labels


def all_examples(data):
    texts, labels = [], []
    for split in (data.train, data.validation, data.test):
        if split is not None:
            split_texts, split_labels = collect(split)
            texts += split_texts
            labels += split_labels
    return texts, labels


def balanced_rows(count, labels=("negative", "positive")):
    return [
        (f"review number {i} is here", labels[i % len(labels)]) for i in range(count)
    ]


def test_csv_with_header_and_column_names(tmp_path):
    lines = ["id,review,sentiment"]
    for i in range(20):
        label = ["neg", "pos"][i % 2]
        lines.append(f'{i},"Text {i}, with a comma and ""quotes""!",{label}')
    path = write(tmp_path / "reviews.csv", "\n".join(lines))
    data = load_text_classification(
        path, text_column="review", label_column="sentiment", batch_size=4
    )
    texts, labels = collect(data.train)
    assert 'Text 0, with a comma and "quotes"!' in all_examples(data)[0]
    assert data.info["class_names"] == ["neg", "pos"]
    assert data.info["num_examples"] == {"train": 14, "validation": 2, "test": 4}
    assert sum(len(collect(split)[0]) for split in (data.validation, data.test)) == 6
    batch_texts, batch_labels = next(iter(data.train))
    assert batch_texts.dtype == tf.string and batch_texts.shape.rank == 1
    assert batch_labels.dtype == tf.int32
    assert set(labels) == {0, 1}
    assert data.model_args["num_classes"] == 2
    assert data.model_args["standardize"] == STANDARDIZE
    assert "quotes" in data.model_args["vocabulary"]
    assert data.info["vocabulary_size"] == len(data.model_args["vocabulary"]) + 2
    assert data.info["num_skipped_empty"] == 0 and data.info["num_replaced"] == 0
    assert data.info["max_length"] == 7 and data.info["median_length"] == 7.0
    json.dumps(data.info)
    json.dumps(data.model_args)


def test_tsv_without_header_by_positions_keeps_stray_quotes(tmp_path):
    rows = [(f'He said "great {i}', i % 2) for i in range(10)]
    path = rows_file(tmp_path, rows, name="data.txt")
    data = load_text_classification(path, validation_split=0, test_split=0)
    texts, labels = collect(data.train)
    assert len(texts) == 10 and 'He said "great 0' in texts
    assert data.info["class_names"] == ["0", "1"]
    assert data.validation is None and data.test is None
    swapped = write(
        tmp_path / "swapped.tsv", "".join(f"{i % 2}\ttext {i}\n" for i in range(10))
    )
    data = load_text_classification(
        swapped, text_column=1, label_column=0, header=False, delimiter="tab"
    )
    assert sorted(all_examples(data)[0]) == sorted(f"text {i}" for i in range(10))


@pytest.mark.parametrize(
    "name", ["amazon_cells_labelled.txt", "imdb_labelled.txt"], ids=["amazon", "imdb"]
)
def test_real_sentiment_file_loads(name):
    path = SENTIMENT_DIR / name
    if not path.exists():
        pytest.skip(f"{path} is absent")
    data = load_text_classification(path)
    assert sum(data.info["num_examples"].values()) == 1000
    assert data.info["class_names"] == ["0", "1"]
    assert data.info["num_skipped_empty"] == 0
    texts, labels = all_examples(data)
    assert len(texts) == 1000 and np.bincount(labels).tolist() == [500, 500]


def test_comma_delimiter_and_tsv_suffix(tmp_path):
    rows = [(f"a b {i}", i % 2) for i in range(8)]
    tsv = rows_file(tmp_path, rows, name="data.tsv", header="text\tlabel")
    assert load_text_classification(tsv).info["num_examples"]["train"] == 4
    csv_path = rows_file(tmp_path, rows, name="data.csv", delimiter=",")
    data = load_text_classification(csv_path, delimiter=",", header=False)
    assert sorted(all_examples(data)[0]) == sorted(text for text, _ in rows)


def test_folder_of_class_folders(tmp_path):
    root = tmp_path / "texts"
    for name in ("pos", "neg"):
        for i in range(5):
            write(root / name / f"{i}.txt", f"  {name} text number {i}\n")
        write(root / name / "nested" / "deep.txt", f"{name} nested")
        write(root / name / "notes.md", "ignored")
        write(root / name / ".hidden.txt", "ignored")
    write(root / "README.txt", "ignored: next to the class folders")
    write(root / ".git" / "x" / "y.txt", "ignored")
    write(root / "pos" / "empty.txt", " \n")
    data = load_text_classification(root, validation_split=0.2, test_split=0.2)
    texts, labels = all_examples(data)
    assert data.info["class_names"] == ["neg", "pos"]
    assert sorted(texts) == sorted(
        [f"{n} text number {i}" for n in ("pos", "neg") for i in range(5)]
        + ["pos nested", "neg nested"]
    )
    assert all(
        label == int(text.startswith("pos"))
        for text, label in zip(texts, labels, strict=True)
    )
    assert data.info["num_skipped_empty"] == 1
    assert data.info["source"] == str(root)


def test_tfds_mock_imdb_reviews():
    with tfds.testing.mock_data(num_examples=20):
        data = load_text_classification("tfds:imdb_reviews", batch_size=4)
        texts, labels = all_examples(data)
        relabelled = load_text_classification(
            "tfds:imdb_reviews", class_names=["pos", "neg", "other"], bucketing=False
        )
        relabels = all_examples(relabelled)[1]
    assert data.info["source"] == "tfds:imdb_reviews"
    assert data.info["class_names"] == ["neg", "pos"]
    assert data.info["num_examples"] == {"train": 14, "validation": 2, "test": 4}
    assert len(texts) == 20 and all(isinstance(text, str) for text in texts)
    assert set(labels) <= {0, 1} and data.model_args["vocabulary"]
    assert relabelled.info["class_names"] == ["pos", "neg", "other"]
    assert sorted(relabels) == sorted(1 - label for label in labels)


def test_tfds_errors():
    with tfds.testing.mock_data(num_examples=2):
        with pytest.raises(DataError, match="Unknown TensorFlow Datasets name"):
            load_text_classification("tfds:no_such_dataset")
        with pytest.raises(DataError, match="not a text-classification set"):
            load_text_classification("tfds:mnist")
        with pytest.raises(DataError, match="Received: delimiter=';'"):
            load_text_classification("tfds:imdb_reviews", delimiter=";")


def test_integer_labels_sort_numerically_in_canonical_form(tmp_path):
    labels = ["10", "9", "+1", "01", "2"] * 4
    rows = [(f"text {i}", label) for i, label in enumerate(labels)]
    data = load_text_classification(rows_file(tmp_path, rows))
    assert data.info["class_names"] == ["1", "2", "9", "10"]
    texts, ids = all_examples(data)
    by_text = dict(zip(texts, ids, strict=True))
    assert by_text["text 0"] == 3 and by_text["text 2"] == 0 and by_text["text 3"] == 0


@pytest.mark.parametrize(
    "labels, message",
    [
        (
            ["1", "01", "pos"],
            r"labels that mix numbers \('1', '01'\) and words \('pos'\): give "
            "every row one kind of label",
        ),
        (["0", "1", "neutral"], r"mix numbers \('0', '1'\) and words \('neutral'\)"),
        (["1", "1.0", "2"], r"spell one number two ways \('1', '1.0'\)"),
    ],
    ids=["int-and-word", "ints-and-word", "one-number-two-ways"],
)
def test_labels_mixing_numbers_and_words_are_refused(tmp_path, labels, message):
    rows = [(f"text {i}", label) for i, label in enumerate(labels * 4)]
    with pytest.raises(DataError, match=message):
        load_text_classification(rows_file(tmp_path, rows))
    decimals = [(f"text {i}", ("0.5", "1.5")[i % 2]) for i in range(8)]
    data = load_text_classification(rows_file(tmp_path, decimals, name="d.tsv"))
    assert data.info["class_names"] == ["0.5", "1.5"]


def test_multiclass_string_labels(tmp_path):
    rows = balanced_rows(30, labels=("sad", "happy", "angry"))
    data = load_text_classification(rows_file(tmp_path, rows), batch_size=5)
    assert data.info["class_names"] == ["angry", "happy", "sad"]
    assert data.model_args["num_classes"] == 3
    texts, labels = all_examples(data)
    assert np.bincount(labels).tolist() == [10, 10, 10]
    assert min(data.info["num_examples"].values()) >= 3


def test_class_names_mapping_one_class_and_unknown_labels(tmp_path):
    rows = balanced_rows(10)
    path = rows_file(tmp_path, rows)
    data = load_text_classification(path, class_names=["positive", "negative"])
    texts, labels = all_examples(data)
    for text, label in zip(texts, labels, strict=True):
        number = int(text.split()[2])
        assert label == (0 if number % 2 else 1)
    positive_only = rows_file(tmp_path, rows[1::2], name="positive.tsv")
    data = load_text_classification(
        positive_only,
        class_names=["negative", "positive"],
        validation_split=0,
        test_split=1.0,
    )
    assert data.train is None and data.validation is None
    assert set(all_examples(data)[1]) == {1}
    assert data.model_args["vocabulary"] == []
    with pytest.raises(DataError, match="labels the model does not know: 'positive'"):
        load_text_classification(path, class_names=["negative", "neutral"])
    with pytest.raises(DataError, match="Received: class_names='negative'"):
        load_text_classification(path, class_names="negative")


def test_empty_texts_are_skipped_and_counted(tmp_path):
    rows = balanced_rows(10) + [("   ", "positive"), ("", "negative")]
    data = load_text_classification(rows_file(tmp_path, rows))
    assert data.info["num_skipped_empty"] == 2
    assert sum(data.info["num_examples"].values()) == 10
    blank_lines = write(tmp_path / "blank.tsv", "a\t0\n\n   \nb\t1\n\nc\t0\n\n")
    data = load_text_classification(blank_lines, validation_split=0, test_split=0)
    assert data.info["num_skipped_empty"] == 0
    assert sorted(all_examples(data)[0]) == ["a", "b", "c"]


def test_undecodable_bytes_are_replaced_and_counted(tmp_path):
    content = b"caf\xe9 ok\t0\ngood \xff\xfe text\t1\nplain\t0\nfine\t1\n"
    data = load_text_classification(
        write(tmp_path / "latin1.tsv", content), validation_split=0, test_split=0
    )
    texts, _ = all_examples(data)
    assert data.info["num_replaced"] == 2
    assert "caf\ufffd ok" in texts and "plain" in texts
    root = tmp_path / "folder"
    write(root / "a" / "1.txt", b"bad \xff byte")
    write(root / "a" / "2.txt", "fine")
    write(root / "b" / "1.txt", "\ufeffbom is dropped")
    data = load_text_classification(root, validation_split=0, test_split=0)
    assert data.info["num_replaced"] == 1
    assert "bom is dropped" in all_examples(data)[0]


@pytest.mark.parametrize(
    "content, options, message",
    [
        (b"", {}, "is empty"),
        (b" \n\n", {}, "is empty"),
        (b"text\tlabel\n", {"header": True}, "holds a header row but no examples"),
        (b"x\t1\n", {"header": False}, "has only one class \\('1'\\)"),
        (b"a\t0\nb\nc\t1\nd\t0\n", {}, "line 2: expected the text in column 0"),
        (b"a\t0\nb\t\nc\t1\nd\t0\n", {}, "line 2: the label .* is empty"),
        (b"a\t0\nb\t0\n", {}, "has only one class \\('0'\\)"),
        (b" \t0\n\t1\n\t0\n", {}, "holds no texts \\(all 3 were empty\\)"),
    ],
    ids=[
        "empty",
        "blank",
        "header",
        "one-row",
        "missing",
        "no-label",
        "one-class",
        "no-text",
    ],
)
def test_bad_file_contents(tmp_path, content, options, message):
    with pytest.raises(DataError, match=message):
        load_text_classification(write(tmp_path / "data.tsv", content), **options)


def test_missing_sources_and_bad_folders(tmp_path):
    with pytest.raises(DataError, match="'.*nowhere' does not exist"):
        load_text_classification(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="is empty, with no class sub-folders"):
        load_text_classification(tmp_path / "empty")
    write(tmp_path / "files" / "a.txt", "text")
    with pytest.raises(DataError, match="holds files but no class sub-folders"):
        load_text_classification(tmp_path / "files")
    write(tmp_path / "classes" / "a" / "1.txt", "text")
    write(tmp_path / "classes" / "b" / "1.md", "text")
    with pytest.raises(DataError, match="'.*b' holds no .txt files"):
        load_text_classification(tmp_path / "classes")
    write(tmp_path / "one" / "a" / "1.txt", "text")
    with pytest.raises(DataError, match="has only one class \\('a'\\)"):
        load_text_classification(tmp_path / "one")


def test_column_errors(tmp_path):
    path = rows_file(
        tmp_path, balanced_rows(6), name="d.csv", delimiter=",", header="review,label"
    )
    columns = "Expected one of its header's columns: 'review', 'label'"
    with pytest.raises(DataError, match=columns):
        load_text_classification(path, text_column="text")
    with pytest.raises(DataError, match="column names need a header row"):
        load_text_classification(path, text_column="review", header=False)
    with pytest.raises(DataError, match="Expected two different columns"):
        load_text_classification(path, text_column="label")
    with pytest.raises(DataError, match="Expected two different columns"):
        load_text_classification(path, text_column=1, label_column=1)
    one_field = write(tmp_path / "one.tsv", "a\t0\nb\t1\nlonely\n")
    with pytest.raises(DataError, match="line 3: .* found 1 field"):
        load_text_classification(one_field)


@pytest.mark.parametrize(
    "option, message",
    [
        ({"delimiter": "x"}, "Received: delimiter='x'. Expected one of 'auto', "),
        ({"header": "yes"}, "Received: header='yes'. Expected one of 'auto', True"),
        ({"standardize": "upper"}, "Received: standardize='upper'. Expected one of"),
        ({"bucketing": "yes"}, "Received: bucketing='yes'"),
        ({"max_tokens": 2}, "Received: max_tokens=2. Expected an integer >= 3"),
        ({"batch_size": 0}, "Received: batch_size=0"),
        ({"validation_split": 0.7, "test_split": 0.5}, "sum to at most 1"),
        ({"text_column": 1.5}, "Received: text_column=1.5. Expected a column"),
        ({"label_column": True}, "Received: label_column=True"),
    ],
)
def test_invalid_options(tmp_path, option, message):
    path = rows_file(tmp_path, balanced_rows(6))
    with pytest.raises(DataError, match=message):
        load_text_classification(path, **option)


def test_vocabulary_is_adapted_on_training_texts_only(tmp_path):
    rows = [(f"common words unique{i}", i % 2) for i in range(40)]
    data = load_text_classification(
        rows_file(tmp_path, rows), validation_split=0.25, test_split=0.25
    )
    vocabulary = set(data.model_args["vocabulary"])
    train_texts = collect(data.train)[0]
    held_out = collect(data.validation)[0] + collect(data.test)[0]
    assert {text.split()[-1] for text in train_texts} <= vocabulary
    assert not {text.split()[-1] for text in held_out} & vocabulary
    assert {"common", "words"} <= vocabulary


def test_max_tokens_and_standardize(tmp_path):
    rows = [("Aa aa bb", 0), ("aa cc", 1)] * 3
    path = rows_file(tmp_path, rows)
    data = load_text_classification(
        path, max_tokens=3, validation_split=0, test_split=0
    )
    assert data.model_args["vocabulary"] == ["aa"]
    data = load_text_classification(
        path, standardize=None, validation_split=0, test_split=0
    )
    assert data.model_args["standardize"] is None
    assert sorted(data.model_args["vocabulary"]) == ["Aa", "aa", "bb", "cc"]


@pytest.fixture
def varied_lengths(tmp_path):
    """200 distinct texts of 1 to 60 tokens."""
    rng = np.random.default_rng(0)
    rows = []
    for i in range(200):
        length = int(rng.integers(1, 61))
        rows.append((" ".join([f"n{i}"] + ["w"] * (length - 1)), i % 2))
    return rows_file(tmp_path, rows)


def spread(dataset):
    """Mean difference between the longest and shortest text of the batches."""
    spreads = []
    for texts, _ in dataset.as_numpy_iterator():
        lengths = [len(text.split()) for text in texts]
        spreads.append(max(lengths) - min(lengths))
    return np.mean(spreads)


def test_bucketing_groups_similar_lengths_and_yields_each_example_once(
    varied_lengths,
):
    options = {"batch_size": 8, "validation_split": 0.1, "test_split": 0.1}
    bucketed = load_text_classification(varied_lengths, **options)
    plain = load_text_classification(varied_lengths, bucketing=False, **options)
    assert spread(bucketed.train) < spread(plain.train) / 3
    epochs = [collect(bucketed.train)[0] for _ in range(2)]
    assert sorted(epochs[0]) == sorted(epochs[1]) == sorted(collect(plain.train)[0])
    assert len(epochs[0]) == len(set(epochs[0])) == 160
    assert epochs[0] != epochs[1]  # reshuffled each epoch
    for split in ("train", "validation", "test"):
        dataset = getattr(bucketed, split)
        assert int(dataset.cardinality()) == len(list(dataset))
        assert sorted(collect(dataset)[0]) == sorted(collect(getattr(plain, split))[0])
    assert collect(bucketed.test) == collect(bucketed.test)


def test_same_seed_same_split_and_other_seed_differs(varied_lengths):
    def held_out(seed):
        return sorted(
            collect(load_text_classification(varied_lengths, seed=seed).test)[0]
        )

    assert held_out(1) == held_out(1)
    assert held_out(1) != held_out(2)


def test_adapt_vocabulary_round_trips_through_text_vectorization():
    texts = ["The film was good.", "the film was BAD", "good"]
    vocabulary = adapt_vocabulary(texts)
    assert vocabulary == ["was", "the", "good", "film", "bad"]
    assert all(type(token) is str for token in vocabulary)
    layer = keras.layers.TextVectorization(vocabulary=vocabulary)
    assert layer.get_vocabulary()[2:] == vocabulary
    ids = layer(tf.constant(["the film was awful"])).numpy()[0].tolist()
    assert ids == [3, 5, 2, 1]
    assert adapt_vocabulary(texts, max_tokens=4) == ["was", "the"]
    assert "BAD" in adapt_vocabulary(texts, standardize=None)
    dataset = tf.data.Dataset.from_tensor_slices(texts).batch(2)
    assert adapt_vocabulary(dataset) == vocabulary


def test_token_helpers():
    assert count_tokens(["a good  film", "", " bad "]).tolist() == [3, 0, 1]
    assert count_tokens([]).tolist() == []
    assert bucket_boundaries([1, 2, 3, 4, 5, 6, 7, 8], max_buckets=4) == [3, 5, 7]
    assert bucket_boundaries([5] * 10) == []
    assert bucket_boundaries([]) == []
    lengths = np.arange(1, 101)
    assert len(bucket_boundaries(lengths)) == 7
    dataset = tf.data.Dataset.from_tensor_slices((["a", "a b", "a b c d"], [0, 1, 2]))
    batches = batch_by_length(
        dataset, batch_size=2, boundaries=[2, 3], lengths=[1, 2, 4]
    )
    assert int(batches.cardinality()) == 3
    assert sorted(b[1].tolist() for b in batches.as_numpy_iterator()) == [[0], [1], [2]]


def test_read_texts(tmp_path):
    path = write(tmp_path / "in.txt", b"first text\r\n\r\n  second \xff\n   \nthird")
    assert read_texts(path) == ["first text", "second \ufffd", "third"]
    with pytest.raises(DataError, match="does not exist"):
        read_texts(tmp_path / "missing.txt")
    with pytest.raises(DataError, match="is a folder"):
        read_texts(tmp_path)
    with pytest.raises(DataError, match="holds no text"):
        read_texts(write(tmp_path / "blank.txt", "\n  \n"))
