import pathlib

import numpy as np
import pytest
import tensorflow_datasets as tfds

from cnnrnn.data.chars import (
    OOV_ID,
    build_vocabulary,
    decode,
    encode,
    load_char_corpus,
    read_corpus,
)
from cnnrnn.errors import DataError

SHAKESPEARE = (
    pathlib.Path(__file__).resolve().parents[3] / "shared/data/text/tinyshakespeare.txt"
)
# 3 * 26 + 2 * 11 = 100 characters, 37 distinct ones.
CORPUS = "abcdefghijklmnopqrstuvwxyz" * 3 + "0123456789\n" * 2


def write(path, content):
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8", newline="")
    return path


def windows(dataset):
    """All `(inputs, targets)` windows of a dataset, as two 2-D arrays."""
    inputs, targets = zip(*dataset.as_numpy_iterator(), strict=True)
    return np.concatenate(inputs), np.concatenate(targets)


def test_read_file_normalises_line_endings_and_lowercases(tmp_path):
    path = write(tmp_path / "play.dat", "\ufeffTo Be,\r\nor not\rto be")
    text, info = read_corpus(path)
    assert text == "To Be,\nor not\nto be"
    assert info == {"num_files": 1, "num_characters": len(text)}
    assert read_corpus(str(path), lowercase=True)[0] == "to be,\nor not\nto be"


def test_read_folder_sorted_joined_with_newlines(tmp_path):
    write(tmp_path / "b.txt", "second\n")
    write(tmp_path / "a.txt", "first")
    write(tmp_path / "c" / "a.txt", "third\r\n")
    write(tmp_path / "notes.md", "skipped")
    write(tmp_path / ".hidden" / "x.txt", "skipped")
    text, info = read_corpus(tmp_path)
    assert text == "first\nsecond\nthird\n"
    assert info == {"num_files": 3, "num_characters": len(text)}


def test_read_errors_name_the_problem(tmp_path):
    with pytest.raises(DataError, match="'.*missing.txt' does not exist"):
        read_corpus(tmp_path / "missing.txt")
    write(tmp_path / "empty_dir" / "notes.md", "text")
    with pytest.raises(DataError, match="holds no .txt files"):
        read_corpus(tmp_path / "empty_dir")
    binary = write(tmp_path / "x.bin", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR")
    with pytest.raises(DataError, match=r"'.*x.bin' is not a UTF-8 text file \(it"):
        read_corpus(binary)
    write(tmp_path / "folder" / "a.txt", "fine")
    write(tmp_path / "folder" / "b.txt", "nul\0byte")
    with pytest.raises(DataError, match=r"b.txt' is not a UTF-8 .*looks binary"):
        read_corpus(tmp_path / "folder")
    latin = write(tmp_path / "latin.txt", "café".encode("latin-1"))
    with pytest.raises(DataError, match="latin.txt' .*byte 3 is not UTF-8"):
        read_corpus(latin)
    for name, content in (("empty.txt", ""), ("blank.txt", " \r\n\t\n")):
        with pytest.raises(DataError, match=f"'.*{name}' holds no text"):
            read_corpus(write(tmp_path / name, content))
    with pytest.raises(DataError, match="Received: lowercase='yes'"):
        read_corpus(latin, lowercase="yes")


def test_read_tfds_corpus_and_errors():
    with tfds.testing.mock_data(num_examples=5):
        text, info = read_corpus("tfds:tiny_shakespeare")
        data = load_char_corpus(
            "tfds:tiny_shakespeare", sequence_length=4, validation_split=0
        )
        with pytest.raises(DataError, match="Unknown .* e.g. 'tfds:tiny_shakespeare'"):
            read_corpus("tfds:no_such_corpus")
        with pytest.raises(DataError, match="'mnist' is not a text corpus"):
            read_corpus("tfds:mnist")
    assert info == {"num_files": 5, "num_characters": len(text)}
    assert text.strip() and text.count("\n") >= 5 and text.endswith("\n")
    assert data.info["num_files"] == 5 and data.info["num_examples"]["train"] > 0
    inputs, targets = windows(data.train)
    assert inputs.shape[1] == targets.shape[1] == 4


def test_vocabulary_encode_decode_round_trip_and_oov():
    vocabulary = build_vocabulary("hello, world")
    assert vocabulary == [" ", ",", "d", "e", "h", "l", "o", "r", "w"]
    ids = encode("hello, world", vocabulary)
    assert ids.dtype == np.int32 and ids[:2].tolist() == [5, 4]
    assert decode(ids, vocabulary) == "hello, world"
    assert encode("hey!", vocabulary).tolist() == [5, 4, OOV_ID, OOV_ID]
    assert decode([5, 4, OOV_ID], vocabulary) == "he\ufffd"
    unsorted = ["o", "é", "h", "\U0001f600"]
    ids = encode("hé😀o?", unsorted)
    assert ids.tolist() == [3, 2, 4, 1, OOV_ID]
    assert decode(ids, unsorted) == "hé😀o\ufffd"
    assert encode("", unsorted).shape == (0,) and decode([], unsorted) == ""


@pytest.mark.parametrize(
    "vocabulary", [[], "abc", ["a", "a"], ["ab"], ["a", 1], None, [""]]
)
def test_invalid_vocabulary(vocabulary):
    with pytest.raises(DataError, match="Expected a non-empty list of distinct"):
        encode("abc", vocabulary)


def test_decode_rejects_bad_ids():
    with pytest.raises(DataError, match="Expected ids between 0 and 2"):
        decode([0, 3], ["a", "b"])
    with pytest.raises(DataError, match="Expected a 1-D sequence of integer"):
        decode([[1, 2]], ["a", "b"])


def test_windows_are_shifted_corpus_slices(tmp_path):
    path = write(tmp_path / "c.txt", CORPUS)
    data = load_char_corpus(path, sequence_length=8, batch_size=3, validation_split=0)
    vocabulary = data.model_args["vocabulary"]
    assert vocabulary == build_vocabulary(CORPUS)
    assert data.model_args["lowercase"] is False
    assert data.validation is None and data.test is None
    inputs, targets = windows(data.train)
    assert inputs.dtype == targets.dtype == np.int32 and inputs.shape == (12, 8)
    assert (targets[:, :-1] == inputs[:, 1:]).all()
    ids = encode(CORPUS, vocabulary)
    got = sorted(tuple(x) + (y[-1],) for x, y in zip(inputs, targets, strict=True))
    assert got == sorted(tuple(ids[s : s + 9]) for s in range(0, 92, 8))
    assert data.info["num_examples"] == {"train": 12}
    assert data.info["vocabulary_size"] == len(vocabulary) + 1 == 38
    x, _ = next(data.train.as_numpy_iterator())
    assert x.shape == (3, 8)


@pytest.mark.parametrize(
    ("stride", "expected"), [(None, 12), (1, 92), (3, 31), (8, 12), (91, 2), (92, 1)]
)
def test_number_of_windows_for_a_stride(tmp_path, stride, expected):
    path = write(tmp_path / "c.txt", CORPUS)
    data = load_char_corpus(
        path, sequence_length=8, stride=stride, batch_size=16, validation_split=0
    )
    assert (
        data.info["num_examples"]["train"] == expected == (100 - 9) // (stride or 8) + 1
    )
    assert len(windows(data.train)[0]) == expected
    assert data.train.cardinality() == -(-expected // 16)


def test_validation_is_the_last_tenth_and_test_the_end(tmp_path):
    path = write(tmp_path / "c.txt", CORPUS)
    data = load_char_corpus(path, sequence_length=4, batch_size=2)
    vocabulary = data.model_args["vocabulary"]
    assert data.info["num_characters"] == {"train": 90, "validation": 10}
    inputs, targets = windows(data.validation)
    assert "".join(decode(x, vocabulary) for x in inputs) == CORPUS[90:98]
    assert "".join(decode(y, vocabulary) for y in targets) == CORPUS[91:99]
    assert data.info["num_examples"] == {"train": 22, "validation": 2}
    data = load_char_corpus(
        path, sequence_length=4, validation_split=0.2, test_split=0.3
    )
    assert data.info["num_characters"] == {"train": 50, "validation": 20, "test": 30}
    test_inputs = windows(data.test)[0]
    assert decode(test_inputs[0], data.model_args["vocabulary"]) == CORPUS[70:74]


def test_same_seed_same_order_other_seed_differs(tmp_path):
    path = write(tmp_path / "c.txt", CORPUS)

    def order(seed):
        data = load_char_corpus(
            path, sequence_length=4, stride=1, validation_split=0, seed=seed
        )
        first, second = (windows(data.train)[0][:, 0] for _ in range(2))
        return first.tolist(), second.tolist()

    first, second = order(1)
    assert sorted(first) == sorted(second) and first != second
    assert order(1) == (first, second)
    assert order(2)[0] != first


def test_given_vocabulary_maps_unseen_characters_to_oov(tmp_path):
    path = write(tmp_path / "c.txt", "ABab" * 20 + "abc!" * 5)
    data = load_char_corpus(path, sequence_length=4, validation_split=0.2)
    assert data.model_args["vocabulary"] == ["A", "B", "a", "b"]
    assert data.info["num_oov"] == {"train": 0, "validation": 10}
    data = load_char_corpus(
        path,
        sequence_length=4,
        validation_split=0.2,
        lowercase=True,
        vocabulary=("b", "a", "!"),
    )
    assert data.model_args == {"vocabulary": ["b", "a", "!"], "lowercase": True}
    assert data.info["num_oov"] == {"train": 0, "validation": 5}
    assert data.info["vocabulary_size"] == 4
    inputs, _ = windows(data.validation)
    assert decode(inputs[0], ["b", "a", "!"]) == "ab\ufffd!"


def test_evaluation_on_a_whole_text_with_a_vocabulary(tmp_path):
    path = write(tmp_path / "new.txt", "hello world, hello moon\n")
    vocabulary = build_vocabulary("helo wrd")
    data = load_char_corpus(
        path,
        sequence_length=5,
        validation_split=0.0,
        test_split=1.0,
        vocabulary=vocabulary,
    )
    assert data.train is None and data.validation is None
    assert data.info["num_examples"] == {"test": 4}
    assert data.info["num_characters"] == {"test": 24}
    assert data.info["num_oov"] == {"test": 4}  # ",", "m", "n" and "\n"
    inputs, targets = windows(data.test)
    assert decode(inputs[2], vocabulary) == "d\ufffd he"
    with pytest.raises(DataError, match="leave no training text: lower them, or"):
        load_char_corpus(path, sequence_length=5, validation_split=0, test_split=1)


def test_short_parts_and_invalid_options(tmp_path):
    path = write(tmp_path / "c.txt", CORPUS)
    with pytest.raises(
        DataError,
        match=r"validation part of '.*c.txt' holds 10 characters, fewer than "
        r"sequence_length \+ 1 = 11: lower sequence_length, change validation_split",
    ):
        load_char_corpus(path, sequence_length=10)
    with pytest.raises(DataError, match="train part .* holds 90 characters"):
        load_char_corpus(path, sequence_length=90)
    with pytest.raises(DataError, match="test part .* holds 5 .* change test_split"):
        load_char_corpus(path, sequence_length=8, test_split=0.05)
    for option, message in (
        ({"stride": 0}, "Received: stride=0. Expected an integer >= 1."),
        ({"sequence_length": 2.5}, "Received: sequence_length=2.5"),
        ({"batch_size": True}, "Received: batch_size=True"),
        ({"validation_split": 1.5}, "Received: validation_split=1.5"),
        ({"vocabulary": ["ab"]}, "Received: vocabulary=\\['ab'\\]"),
    ):
        with pytest.raises(DataError, match=message):
            load_char_corpus(path, **option)


@pytest.mark.skipif(not SHAKESPEARE.is_file(), reason="../shared/data is absent")
def test_tiny_shakespeare_from_shared_data():
    data = load_char_corpus(SHAKESPEARE)
    assert data.info["num_characters"] == {"train": 1003855, "validation": 111539}
    assert data.info["vocabulary_size"] == 66
    assert data.info["num_examples"] == {"train": 10038, "validation": 1115}
    inputs, targets = next(data.validation.as_numpy_iterator())
    text = SHAKESPEARE.read_text(encoding="utf-8")
    assert decode(inputs[0], data.model_args["vocabulary"]) == text[1003855:][:100]
