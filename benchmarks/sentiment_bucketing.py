"""Length bucketing against padding every text to the longest one.

Builds a corpus with skewed lengths (most texts one or two sentences, a few
very long) from the sentiment demo generator, then trains the default
sentiment-rnn model on it twice, in one run:

- `bucketed`: `load_text_classification(bucketing=True)`; each batch holds
  texts of similar length and is padded only to its own longest text;
- `padded`: `bucketing=False` and a vectorizer that pads every text to the
  longest text of the corpus (what the official Keras example does).

Throughput is training examples per second (median over the timed epochs);
both models train for the same number of epochs and are scored on the same
held-out test split. Writes the figures and the ratio to JSON.

Usage:
    python benchmarks/sentiment_bucketing.py [--texts 3000] [--epochs 20]
        [--output benchmarks/results/sentiment_bucketing.json]
"""

import argparse
import csv
import json
import os
import pathlib
import statistics
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from cnnrnn.data.text import load_text_classification  # noqa: E402
from cnnrnn.demos.sentiment_rnn import SENTIMENT_DEMO_FILE, write_sentiment_demo  # noqa: E402
from cnnrnn.models import build_sentiment_rnn  # noqa: E402


class EpochTimer(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self.started)

    def on_train_begin(self, logs=None):
        self.seconds = []


NEUTRAL_WORDS = (
    "we went there on a monday with my family and then drove home after it "
    "the weather outside was cloudy so we took the train at noon and talked "
    "about work school friends plans for next week while waiting in line"
).split()


def skewed_corpus(path, *, texts, seed):
    """Demo reviews padded with neutral sentences to skewed lengths.

    Each text holds one demo review (which decides its label) at a random
    place among a log-normally distributed number of sentences made of
    neutral words, so most texts are short and a few are very long.
    """
    rng = np.random.default_rng(seed)
    with tempfile.TemporaryDirectory() as tmp:
        demo = write_sentiment_demo(pathlib.Path(tmp) / "demo", num_reviews=texts)
        with open(demo / SENTIMENT_DEMO_FILE, newline="") as handle:
            reviews = list(csv.DictReader(handle))
    rows = []
    for review in reviews:
        fillers = min(int(rng.lognormal(0.0, 1.3)), 40)
        sentences = [
            " ".join(rng.choice(NEUTRAL_WORDS, size=rng.integers(6, 12)))
            for _ in range(fillers)
        ]
        sentences.insert(int(rng.integers(fillers + 1)), review["text"])
        rows.append({"text": " . ".join(sentences), "label": review["label"]})
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["text", "label"])
        writer.writeheader()
        writer.writerows(rows)
    return [len(row["text"].split()) for row in rows]


def train_and_time(splits, *, epochs, vectorizer=None):
    keras.utils.set_random_seed(0)
    model_args = dict(splits.model_args)
    if vectorizer is not None:
        model_args.pop("vocabulary")
        model_args["vectorizer"] = vectorizer
    model = build_sentiment_rnn(**model_args)
    timer = EpochTimer()
    model.fit(splits.train, epochs=epochs, callbacks=[timer], shuffle=False, verbose=0)
    examples = splits.info["num_examples"]["train"]
    timed = timer.seconds[1:] or timer.seconds  # the first epoch also traces
    accuracy = model.evaluate(splits.test, verbose=0, return_dict=True)["accuracy"]
    return {
        "epoch_seconds": timer.seconds,
        "examples_per_second": examples / statistics.median(timed),
        "test_accuracy": accuracy,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=3000)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument(
        "--output",
        type=pathlib.Path,
        default=pathlib.Path("benchmarks/results/sentiment_bucketing.json"),
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        corpus = pathlib.Path(tmp) / "skewed.csv"
        lengths = skewed_corpus(corpus, texts=args.texts, seed=0)
        options = dict(validation_split=0.0, test_split=0.2, seed=0)
        bucketed_splits = load_text_classification(corpus, bucketing=True, **options)
        padded_splits = load_text_classification(corpus, bucketing=False, **options)
    longest = max(lengths)
    padded_vectorizer = keras.layers.TextVectorization(
        vocabulary=padded_splits.model_args["vocabulary"],
        standardize=padded_splits.model_args["standardize"],
        output_sequence_length=longest,
    )
    bucketed = train_and_time(bucketed_splits, epochs=args.epochs)
    padded = train_and_time(
        padded_splits, epochs=args.epochs, vectorizer=padded_vectorizer
    )
    result = {
        "benchmark": "sentiment_bucketing",
        "texts": args.texts,
        "length_tokens": {
            "median": statistics.median(lengths),
            "p90": float(np.percentile(lengths, 90)),
            "max": longest,
        },
        "epochs": args.epochs,
        "bucketed": bucketed,
        "padded_to_longest": padded,
        "throughput_ratio": round(
            bucketed["examples_per_second"] / padded["examples_per_second"], 2
        ),
        "cpus": os.cpu_count(),
        "keras_backend": keras.backend.backend(),
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
