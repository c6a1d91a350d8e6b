"""Demo data of the sentiment RNN: reviews whose label depends on word order."""

import csv
import pathlib

import numpy as np

from cnnrnn.data.options import check_positive_int
from cnnrnn.demos.common import pick, staging_folder

SENTIMENT_CLASSES = ("negative", "positive")
SENTIMENT_DEMO_FILE = "reviews.csv"


def write_sentiment_demo(directory, *, num_reviews=3000, seed=0):
    """Writes a generated CSV of short reviews whose sentiment depends on word order.

    Most reviews (about 70%) join two clauses of opposite sentiment with a
    contrast word, as in "The food was not great, but the service was really
    good." (positive); the label is the sentiment of the clause after the
    contrast word. Swapping the clauses keeps the words and flips the label,
    so a bag-of-words model stays near chance on these, while a recurrent
    model can read them. The other reviews are single clauses, with or without
    a negation ("It was not at all bad."). Each clause's sentiment is its
    adjective's, flipped by a negator. Labels are balanced, and the same seed
    writes an identical file.

    The file is written in a temporary sibling folder which is then renamed,
    so `directory` is either complete or absent.

    Args:
        directory: str or path. Folder to create; it must be absent or empty.
        num_reviews: int. Number of reviews (rows). Defaults to `3000`.
        seed: int. Seed of the generator. Defaults to `0`.

    Returns:
        The folder as a `pathlib.Path`, holding `SENTIMENT_DEMO_FILE`
        (`reviews.csv`): a header row `text,label`, then one review a row,
        labelled `negative` or `positive` (`SENTIMENT_CLASSES`).

    Raises:
        DataError: if `directory` exists and is not an empty folder, or an
            option is invalid.

    Example:

    >>> path = write_sentiment_demo("reviews", num_reviews=500)
    >>> data = cnnrnn.data.text.load_text_classification(path / "reviews.csv")
    """
    check_positive_int("num_reviews", num_reviews)
    directory = pathlib.Path(directory)
    with staging_folder(directory) as staging:
        rng = np.random.default_rng(seed)
        labels = rng.permutation(np.arange(num_reviews) % 2)
        rows = [(_review(label, rng), SENTIMENT_CLASSES[label]) for label in labels]
        with open(
            staging / SENTIMENT_DEMO_FILE, "w", newline="", encoding="utf-8"
        ) as f:
            writer = csv.writer(f, lineterminator="\n")
            writer.writerow(["text", "label"])
            writer.writerows(rows)
    return directory


# Sentiment reviews. Every choice below is drawn independently of the label,
# except the adjective's polarity, which is set so that the clause has the
# sentiment wanted (flipped when the clause is negated). Both clauses of a
# two-clause review are drawn from the same templates, so a review and its
# swapped twin (same words, opposite label) are equally likely.

_ASPECTS = (
    "food", "service", "plot", "acting", "battery", "screen", "staff", "price",
    "sound", "camera", "delivery", "ending", "music", "room", "design", "keyboard",
)  # fmt: skip
_ADJECTIVES = (
    (
        "bad", "terrible", "awful", "poor", "disappointing",
        "boring", "dull", "horrible", "mediocre", "weak",
    ),
    (
        "good", "great", "excellent", "wonderful", "amazing",
        "pleasant", "solid", "impressive", "fantastic", "lovely",
    ),
)  # fmt: skip
_NEGATORS = ("not", "never", "hardly", "far from", "not at all")
_INTENSIFIERS = ("", "", "", "really", "very", "quite", "so", "truly", "rather")
_CLAUSES = (
    "the {aspect} was {predicate}",
    "the {aspect} is {predicate}",
    "the {aspect} felt {predicate}",
    "the {aspect} seemed {predicate}",
    "i found the {aspect} {predicate}",
    "the {aspect} turned out {predicate}",
)
_SINGLE_CLAUSES = _CLAUSES + (
    "it was {predicate}",
    "this one is {predicate}",
    "the whole thing was {predicate}",
)
_CONTRASTS = (
    ", but", " but", ", yet", "; yet", ", though in the end", ". however,",
    ", and yet", ". still,", ", although in the end", " - but then again,",
)  # fmt: skip
_OPENINGS = ("", "", "", "honestly, ", "to be fair, ", "well, ", "i must say ")
_ENDINGS = (".", ".", ".", "!", "...", " overall.", " to be honest.", "")
# Share of reviews with two clauses joined by a contrast word.
_TWO_CLAUSE_SHARE = 0.7


def _clause(sentiment, templates, rng):
    """A clause of the given sentiment (0 negative, 1 positive)."""
    negated = rng.random() < 0.5
    words = [pick(rng, _NEGATORS)] if negated else []
    words += [pick(rng, _INTENSIFIERS), pick(rng, _ADJECTIVES[sentiment ^ negated])]
    predicate = " ".join(word for word in words if word)
    return pick(rng, templates).format(aspect=pick(rng, _ASPECTS), predicate=predicate)


def _review(label, rng):
    """One review text whose sentiment is `label` (0 negative, 1 positive)."""
    if rng.random() < _TWO_CLAUSE_SHARE:
        first = _clause(1 - label, _CLAUSES, rng)
        body = f"{first}{pick(rng, _CONTRASTS)} {_clause(label, _CLAUSES, rng)}"
    else:
        body = _clause(label, _SINGLE_CLAUSES, rng)
    text = f"{pick(rng, _OPENINGS)}{body}{pick(rng, _ENDINGS)}"
    return text[0].upper() + text[1:]
