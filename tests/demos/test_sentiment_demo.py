"""The demo data of `cnnrnn.demos.sentiment_rnn`."""

import csv
import re

import numpy as np
import pytest

from cnnrnn.data.text import load_text_classification
from cnnrnn.demos import sentiment_rnn as demo
from cnnrnn.demos.sentiment_rnn import (
    SENTIMENT_CLASSES,
    SENTIMENT_DEMO_FILE,
    write_sentiment_demo,
)
from cnnrnn.errors import DataError


def read_reviews(directory):
    with open(directory / SENTIMENT_DEMO_FILE, newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


def clause_sentiment(words):
    """The sentiment (0 or 1) of a clause: its adjective's, flipped by a negator."""
    adjectives = [w for w in words if w in demo._ADJECTIVES[0] + demo._ADJECTIVES[1]]
    assert len(adjectives) == 1, words
    negated = bool({"not", "never", "hardly", "far"} & set(words))
    return int(adjectives[0] in demo._ADJECTIVES[1]) ^ negated


def test_sentiment_demo_is_deterministic_balanced_and_labelled_by_last_clause(
    tmp_path,
):
    path = write_sentiment_demo(tmp_path / "reviews", num_reviews=400)
    assert path == tmp_path / "reviews"
    assert [p.name for p in path.iterdir()] == [SENTIMENT_DEMO_FILE]
    rows = read_reviews(path)
    assert rows[0] == ["text", "label"] and len(rows) == 401
    labels = [label for _, label in rows[1:]]
    assert labels.count("negative") == labels.count("positive") == 200
    again = write_sentiment_demo(tmp_path / "again", num_reviews=400)
    other = write_sentiment_demo(tmp_path / "other", num_reviews=400, seed=1)
    content = (path / SENTIMENT_DEMO_FILE).read_bytes()
    assert (again / SENTIMENT_DEMO_FILE).read_bytes() == content
    assert (other / SENTIMENT_DEMO_FILE).read_bytes() != content
    contrasts = {"but", "yet", "however", "still", "end"}
    two_clauses = 0
    for text, label in rows[1:]:
        words = re.findall(r"[a-z]+", text.lower())
        cuts = [i for i, word in enumerate(words) if word in contrasts]
        if cuts:
            two_clauses += 1
            first, last = words[: cuts[0]], words[cuts[-1] + 1 :]
            assert clause_sentiment(first) != clause_sentiment(last), text
        else:
            last = words
        assert SENTIMENT_CLASSES[clause_sentiment(last)] == label, text
    assert 0.6 < two_clauses / 400 < 0.8


def test_sentiment_demo_swapped_clauses_flip_the_label(tmp_path):
    """A bag of words cannot tell a two-clause review from its swapped twin."""
    rng = np.random.default_rng(0)
    flips = 0
    for _ in range(200):
        first = demo._clause(0, demo._CLAUSES, rng)
        second = demo._clause(1, demo._CLAUSES, rng)
        review = f"{first} but {second}"
        twin = f"{second} but {first}"
        assert sorted(review.split()) == sorted(twin.split())
        words = [review.split(), twin.split()]
        cut = [w.index("but") for w in words]
        labels = [clause_sentiment(w[c + 1 :]) for w, c in zip(words, cut, strict=True)]
        flips += labels == [1, 0]
    assert flips == 200


def test_sentiment_demo_default_size_refusal_and_cleanup(tmp_path, monkeypatch):
    rows = read_reviews(write_sentiment_demo(tmp_path / "default"))
    assert len(rows) == 3001
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    with pytest.raises(DataError, match="already exists and is not empty"):
        write_sentiment_demo(tmp_path / "full", num_reviews=2)
    with pytest.raises(DataError, match="Received: num_reviews=0"):
        write_sentiment_demo(tmp_path / "zero", num_reviews=0)

    def fail(*args):
        raise RuntimeError("disk full")

    monkeypatch.setattr(demo, "_review", fail)
    with pytest.raises(RuntimeError):
        write_sentiment_demo(tmp_path / "failed", num_reviews=2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["default", "full"]


def test_sentiment_demo_loads_as_text_classification(tmp_path):
    path = write_sentiment_demo(tmp_path / "reviews", num_reviews=200)
    data = load_text_classification(path / SENTIMENT_DEMO_FILE, batch_size=16)
    assert data.info["class_names"] == list(SENTIMENT_CLASSES)
    assert data.info["num_examples"] == {"train": 140, "validation": 30, "test": 30}
    assert data.info["num_skipped_empty"] == 0
    vocabulary = data.model_args["vocabulary"]
    assert {"but", "not", "good", "bad"} <= set(vocabulary)
    assert "label" not in vocabulary and "text" not in vocabulary
    texts, labels = next(data.train.as_numpy_iterator())
    assert texts.dtype == object and labels.dtype == np.int32
