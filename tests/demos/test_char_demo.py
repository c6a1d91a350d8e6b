"""The demo data of `cnnrnn.demos.char_generator`."""

import re

import pytest

from cnnrnn.data.chars import load_char_corpus
from cnnrnn.demos import char_generator as demo
from cnnrnn.demos.char_generator import CHAR_DEMO_FILE, write_char_demo
from cnnrnn.errors import DataError


def read_play(directory):
    return (directory / CHAR_DEMO_FILE).read_text(encoding="utf-8")


def test_char_demo_is_deterministic_play_of_speeches(tmp_path):
    path = write_char_demo(tmp_path / "play", num_speeches=300)
    assert path == tmp_path / "play"
    assert [p.name for p in path.iterdir()] == [CHAR_DEMO_FILE]
    content = (path / CHAR_DEMO_FILE).read_bytes()
    again = write_char_demo(tmp_path / "again", num_speeches=300)
    other = write_char_demo(tmp_path / "other", num_speeches=300, seed=1)
    assert (again / CHAR_DEMO_FILE).read_bytes() == content
    assert (other / CHAR_DEMO_FILE).read_bytes() != content
    text = read_play(path)
    assert text.endswith("\n") and not text.endswith("\n\n")
    speeches = text.split("\n\n")
    assert len(speeches) == 300
    speakers = []
    for speech in speeches:
        speaker, *lines = speech.strip("\n").split("\n")
        assert speaker.endswith(":") and speaker[:-1] in demo._SPEAKERS, speech
        assert 1 <= len(lines) <= 3, speech
        for line in lines:
            assert re.fullmatch(r"[A-Z][a-z ,]+[.!?]", line), line
        speakers.append(speaker)
    assert all(a != b for a, b in zip(speakers, speakers[1:], strict=False))
    assert set(speakers) == {f"{name}:" for name in demo._SPEAKERS}


def test_char_demo_default_size_refusal_and_cleanup(tmp_path, monkeypatch):
    size = len((write_char_demo(tmp_path / "default") / CHAR_DEMO_FILE).read_bytes())
    assert 100_000 < size < 150_000
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    with pytest.raises(DataError, match="already exists and is not empty"):
        write_char_demo(tmp_path / "full", num_speeches=2)
    with pytest.raises(DataError, match="Received: num_speeches=0"):
        write_char_demo(tmp_path / "zero", num_speeches=0)

    def fail(*args):
        raise RuntimeError("disk full")

    monkeypatch.setattr(demo, "_speech", fail)
    with pytest.raises(RuntimeError):
        write_char_demo(tmp_path / "failed", num_speeches=2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["default", "full"]


def test_char_demo_loads_as_char_corpus_with_small_vocabulary(tmp_path):
    path = write_char_demo(tmp_path / "play", num_speeches=200)
    data = load_char_corpus(path / CHAR_DEMO_FILE, sequence_length=50)
    vocabulary = data.model_args["vocabulary"]
    assert len(vocabulary) < 60 and {"\n", ":", " ", "R", "?"} <= set(vocabulary)
    assert data.info["num_files"] == 1 and data.info["num_examples"]["validation"]
    inputs, targets = next(data.train.as_numpy_iterator())
    assert inputs.shape == targets.shape == (64, 50)
