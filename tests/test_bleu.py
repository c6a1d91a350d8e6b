"""`cnnrnn.captioning.bleu_scores` against BLEU worked out by hand."""

import math

import pytest

from cnnrnn.captioning import bleu_scores

# Two images. The first caption differs from its first reference in its last
# word; the second repeats a word its references hold once and is shorter
# than its closest reference.
REFERENCES = [
    [
        "a red circle is on the left".split(),
        "the red circle".split(),
    ],
    [
        "a blue square".split(),
        "one big blue square here".split(),
    ],
]
CAPTIONS = ["a red circle is on the right", "square square"]

# Modified n-gram precisions, counts summed over the corpus (clipped by the
# most times any one reference of that image holds the n-gram):
#   n  caption 1 (7 words)               caption 2 (2 words)       corpus
#   1  6/7 ("right" is in no reference)  1/2 ("square" clipped to 1)  7/9
#   2  5/6 ("the right")                 0/1 ("square square")        5/7
#   3  4/5 ("on the right")              0/0                          4/5
#   4  3/4 ("is on the right")           0/0                          3/4
P = [7 / 9, 5 / 7, 4 / 5, 3 / 4]
# Brevity penalty: candidate length c = 7 + 2 = 9; the effective reference
# length takes each caption's closest reference: 7 (not 3) and 3 (not 5),
# r = 10 > c, so BP = exp(1 - r / c).
BP = math.exp(1 - 10 / 9)


def test_bleu_matches_a_hand_computation():
    expected = {
        "bleu_1": BP * P[0],
        "bleu_2": BP * math.sqrt(5 / 9),  # (7/9 * 5/7) ** (1/2)
        "bleu_3": BP * (4 / 9) ** (1 / 3),  # (7/9 * 5/7 * 4/5) ** (1/3)
        "bleu_4": BP * (1 / 3) ** (1 / 4),  # (7/9 * 5/7 * 4/5 * 3/4) ** (1/4)
    }
    for n, key in enumerate(expected, start=1):
        geometric_mean = math.prod(P[:n]) ** (1 / n)
        assert expected[key] == pytest.approx(BP * geometric_mean, rel=1e-12)
    scores = bleu_scores(REFERENCES, CAPTIONS)
    assert scores == pytest.approx(expected, rel=1e-9)
    assert scores["bleu_1"] == pytest.approx(0.6960, abs=1e-4)


def test_bleu_is_pooled_over_the_corpus_not_averaged_per_caption():
    alone = [bleu_scores([refs], [caption]) for refs, caption in zip(
        REFERENCES, CAPTIONS, strict=True)]  # fmt: skip
    # Caption 1 alone: its length equals its closest reference, so BP = 1.
    assert alone[0]["bleu_1"] == pytest.approx(6 / 7)
    # Caption 2 alone: c = 2, r = 3.
    assert alone[1]["bleu_1"] == pytest.approx(math.exp(1 - 3 / 2) / 2)
    mean = (alone[0]["bleu_1"] + alone[1]["bleu_1"]) / 2
    assert bleu_scores(REFERENCES, CAPTIONS)["bleu_1"] != pytest.approx(mean)


def test_no_matching_four_gram_gives_zero_bleu_4_without_smoothing():
    scores = bleu_scores([["a red circle is here".split()]], ["a red circle is there"])
    # p1 = 4/5, p2 = 3/4, p3 = 2/3, p4 = 1/2: one 4-gram of two matches.
    assert scores["bleu_4"] == pytest.approx((4 / 5 * 3 / 4 * 2 / 3 * 1 / 2) ** 0.25)
    scores = bleu_scores([["a red circle is here".split()]], ["a red circle here"])
    # BP = exp(1 - 5/4); words 4/4, bigrams 2/3, trigrams 1/2 ("a red circle"),
    # 4-grams 0/1: no smoothing, so BLEU-4 is 0.
    bp = math.exp(1 - 5 / 4)
    assert scores["bleu_1"] == pytest.approx(bp)
    assert scores["bleu_2"] == pytest.approx(bp * (2 / 3) ** (1 / 2))
    assert scores["bleu_3"] == pytest.approx(bp * (2 / 3 * 1 / 2) ** (1 / 3))
    assert scores["bleu_4"] == 0.0


def test_a_caption_shorter_than_n_adds_no_n_gram():
    """nltk's `corpus_bleu` counted one unmatched n-gram for it instead."""
    references = [["a red circle is here".split()], ["a blue square".split()]]
    scores = bleu_scores(references, ["a red circle is here", "blue square"])
    # Caption 2 has 2 words: its bigram matches, it has no trigram nor 4-gram.
    bp = math.exp(1 - 8 / 7)
    assert scores["bleu_2"] == pytest.approx(bp)  # 7/7 words, 5/5 bigrams
    assert scores["bleu_3"] == pytest.approx(bp)  # 3/3 trigrams
    assert scores["bleu_4"] == pytest.approx(bp)  # 2/2 4-grams


def test_captions_and_references_must_pair_up():
    with pytest.raises(ValueError, match="2 lists of references and 1 captions"):
        bleu_scores([[["a"]], [["b"]]], ["a"])


def test_a_perfect_caption_scores_one():
    scores = bleu_scores([["a red circle is here".split()]], ["a red circle is here"])
    assert scores == pytest.approx({f"bleu_{n}": 1.0 for n in (1, 2, 3, 4)})
