"""Held-out accuracy of sentiment-rnn against simple baselines, on demo and real data.

Two comparisons, each on one split shared by every model:

- demo: `cnnrnn train sentiment-rnn` with default settings on its generated
  demo data, against a bag-of-words model (a Dense network on multi-hot word
  input) trained on the same splits. The demo data is built so that word
  order matters; the bag of words should stay clearly below the RNN.
- real: the 2,000 labelled review sentences of `../shared/data/sentiment/`
  (both files together), a stratified 80/20 train/test split (10% of the
  whole taken from the 80% for early stopping), against TF-IDF word 1-2-grams
  + logistic regression (scikit-learn) fitted on the same 80%. The RNN is
  trained with several seeds; mean, min and max are reported. Skipped when
  the shared data is absent.

Usage:
    python benchmarks/sentiment_accuracy.py [--seeds 3]
        [--output benchmarks/results/sentiment_accuracy.json]
"""

import argparse
import json
import os
import pathlib
import statistics
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from rich.console import Console  # noqa: E402

from cnnrnn import apps, training  # noqa: E402
from cnnrnn.config import resolve_config  # noqa: E402

SHARED = pathlib.Path(__file__).resolve().parents[2] / "shared" / "data" / "sentiment"
REAL_FILES = ("amazon_cells_labelled.txt", "imdb_labelled.txt")
APP = apps.get_app("sentiment-rnn")


def train_rnn(data_options, run_dir, *, seed):
    overrides = {"data": data_options, "training": {"seed": seed}}
    config = training.resolve_source(APP, resolve_config(APP, overrides=overrides))
    metrics = training.train(
        APP, config=config, run_dir=run_dir, console=Console(quiet=True)
    )
    return metrics["accuracy"], config


def texts_and_labels(dataset):
    texts, labels = [], []
    for batch_texts, batch_labels in dataset.as_numpy_iterator():
        texts += [t.decode() for t in batch_texts]
        labels += batch_labels.tolist()
    return texts, np.array(labels)


def bag_of_words_accuracy(splits, *, seed):
    """A Dense network on multi-hot words, trained with early stopping."""
    keras.utils.set_random_seed(seed)
    vectorizer = keras.layers.TextVectorization(
        vocabulary=splits.model_args["vocabulary"],
        standardize=splits.model_args["standardize"],
        output_mode="multi_hot",
    )

    def multi_hot(dataset):
        return dataset.map(lambda texts, labels: (vectorizer(texts), labels))

    model = keras.Sequential(
        [
            keras.Input(shape=(vectorizer.vocabulary_size(),)),
            keras.layers.Dense(64, activation="relu"),
            keras.layers.Dropout(0.3),
            keras.layers.Dense(splits.model_args["num_classes"], "softmax"),
        ]
    )
    model.compile(
        optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    model.fit(
        multi_hot(splits.train),
        validation_data=multi_hot(splits.validation),
        epochs=50,
        callbacks=[
            keras.callbacks.EarlyStopping(patience=5, restore_best_weights=True)
        ],
        shuffle=False,
        verbose=0,
    )
    test = multi_hot(splits.test)
    return model.evaluate(test, verbose=0, return_dict=True)["accuracy"]


def tfidf_accuracy(splits):
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    train_texts, train_labels = texts_and_labels(splits.train)
    validation_texts, validation_labels = texts_and_labels(splits.validation)
    test_texts, test_labels = texts_and_labels(splits.test)
    baseline = make_pipeline(
        TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True),
        LogisticRegression(max_iter=1000),
    )
    baseline.fit(
        train_texts + validation_texts,
        np.concatenate([train_labels, validation_labels]),
    )
    return float(baseline.score(test_texts, test_labels))


def demo_comparison(tmp):
    rnn, config = train_rnn({}, tmp / "demo-run", seed=1337)
    splits = training.load_splits(APP, config)
    return {
        "rnn_test_accuracy": rnn,
        "bag_of_words_test_accuracy": bag_of_words_accuracy(splits, seed=1337),
        "num_examples": splits.info["num_examples"],
    }


def real_comparison(tmp, *, seeds):
    corpus = tmp / "reviews.tsv"
    corpus.write_bytes(b"".join((SHARED / name).read_bytes() for name in REAL_FILES))
    data = {
        "source": str(corpus),
        "header": False,
        "validation_split": 0.1,
        "test_split": 0.2,
    }
    accuracies = []
    for seed in seeds:
        accuracy, config = train_rnn(data, tmp / f"real-run-{seed}", seed=seed)
        accuracies.append(accuracy)
    splits = training.load_splits(APP, config)
    return {
        "files": list(REAL_FILES),
        "num_examples": splits.info["num_examples"],
        "rnn_test_accuracy": {
            "mean": statistics.mean(accuracies),
            "min": min(accuracies),
            "max": max(accuracies),
            "per_seed": dict(zip(map(str, seeds), accuracies, strict=True)),
        },
        "tfidf_logistic_regression_test_accuracy": tfidf_accuracy(splits),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument(
        "--output",
        type=pathlib.Path,
        default=pathlib.Path("benchmarks/results/sentiment_accuracy.json"),
    )
    args = parser.parse_args()
    result = {"benchmark": "sentiment_accuracy", "cpus": os.cpu_count()}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        os.environ["CNNRNN_HOME"] = str(tmp / "home")
        result["demo"] = demo_comparison(tmp)
        if SHARED.is_dir():
            result["real"] = real_comparison(tmp, seeds=range(1, args.seeds + 1))
        else:
            result["real"] = f"skipped: {SHARED} not found"
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
