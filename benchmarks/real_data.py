"""The applications against simple classical baselines on the shared real data.

Each application is trained with `cnnrnn`'s defaults for real data (what
`cnnrnn train APP --data ...` gives) and, where one applies, with the
shared ImageNet MobileNet v1 (alpha 0.25) weights; a classical baseline is
fitted on the same training files and both are scored on the same held-out
files:

- plant-classifier on `images/flowers` (3,483 photos, 5 classes): cnnrnn's
  own stratified split (its `data.seed`), from scratch with the defaults and
  with the shared MobileNet weights (the 128x128 photos upsampled to the
  weights' 224x224, the whole network trained); baseline: logistic
  regression on 16x16 pixels + HSV colour histograms.
- sentiment-rnn on the review sentences: in-domain (amazon + imdb, cnnrnn's
  split) and across domains (train on one file, test on the other whole);
  baseline: TF-IDF word 1-2-grams + logistic regression.
- video-classifier on `video/fight` (236 real surveillance clips, fight /
  no fight): cnnrnn's split, with the defaults and with the shared MobileNet
  frozen on 128x128 frames (features precomputed); baseline: logistic
  regression on frame-difference statistics (how much and where the pixels
  change from one frame to the next).
- image-captioner on `captions/flickr8k` (804 photos, 5 captions each):
  cnnrnn's split by photo, with the defaults and with the shared MobileNet
  frozen on 224x224 photos (grid features computed once); baseline: the one
  caption that scores best on the validation photos, given for every
  held-out photo. Metric: corpus BLEU-4 of beam-search captions.
- char-generator on `text/tinyshakespeare.txt`: the defaults trained for
  `CHAR_MINUTES` minutes on the first 90% of the characters, scored in nats
  per character on the last 10%; baseline: an interpolated Kneser-Ney
  character 5-gram model on the same split.

Writes JSON and a markdown table (accuracy, BLEU-4 or nats per character,
wall time of training on this machine, the baseline); applications not run
keep their last figures. Skips an application whose shared data is absent.

Usage:
    python benchmarks/real_data.py [--apps plant,sentiment,video,captions,char]
        [--seeds 1] [--output benchmarks/results/real_data.json]
"""

import argparse
import collections
import json
import math
import os
import pathlib
import statistics
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
from rich.console import Console  # noqa: E402
from timing import machine  # noqa: E402

from cnnrnn import apps, training  # noqa: E402
from cnnrnn.config import resolve_config  # noqa: E402

SHARED = pathlib.Path(__file__).resolve().parents[2] / "shared" / "data"
FLOWERS = SHARED / "images" / "flowers"
REVIEWS = {
    "amazon": SHARED / "sentiment" / "amazon_cells_labelled.txt",
    "imdb": SHARED / "sentiment" / "imdb_labelled.txt",
}
FIGHT = SHARED / "video" / "fight"
FLICKR = SHARED / "captions" / "flickr8k" / "captions.csv"
SHAKESPEARE = SHARED / "text" / "tinyshakespeare.txt"
# The char-generator's training time on real data, in minutes.
CHAR_MINUTES = 15
MOBILENET = SHARED / "weights" / "mobilenet_2_5_224_tf_no_top.h5"


def train_and_test(app_name, run_dir, *, data, seed, test_data=None, **sections):
    """Trains one run; returns its held-out metrics, wall time and config."""
    app = apps.get_app(app_name)
    overrides = {**sections, "data": data}
    overrides["training"] = {**sections.get("training", {}), "seed": seed}
    config = training.resolve_source(app, resolve_config(app, overrides=overrides))
    started = time.perf_counter()
    trained = training.train(
        app, config=config, run_dir=run_dir, console=Console(quiet=True)
    )
    seconds = time.perf_counter() - started
    config, _, metrics = training.evaluate_run(run_dir, data=test_data)
    return {
        "test": metrics,
        "seconds": round(seconds, 1),
        "epochs": trained["epochs"],
        "config": config,
    }


def train_variants(app_name, tmp, seeds, variants, metric="accuracy"):
    """Trains and tests each variant (sections of options) on every seed.

    Returns:
        `({variant: summary}, config)`: the accuracy summaries, and the
        config of the first variant's last run, whose split every variant
        shares (the same `data.seed`) and the baseline uses.
    """
    rows, first_config = {}, None
    for number, (variant, sections) in enumerate(variants.items()):
        runs = [
            train_and_test(
                app_name, tmp / f"{app_name}-{number}-{seed}", seed=seed, **sections
            )
            for seed in seeds
        ]
        rows[variant] = summary(runs, metric)
        first_config = first_config or runs[-1]["config"]
    return rows, first_config


def arrays(dataset):
    """Every `(inputs, labels)` batch of a split, concatenated."""
    inputs, labels = [], []
    for batch_inputs, batch_labels in dataset.as_numpy_iterator():
        inputs.append(batch_inputs)
        labels.append(batch_labels)
    return np.concatenate(inputs), np.concatenate(labels)


def pixel_features(images):
    """16x16 pixels and 8-bin hue, saturation and value histograms."""
    from matplotlib.colors import rgb_to_hsv

    small = np.stack(
        [
            image.reshape(16, image.shape[0] // 16, 16, image.shape[1] // 16, 3).mean(
                axis=(1, 3)
            )
            for image in images
        ]
    )
    hsv = rgb_to_hsv(np.clip(images / 255.0, 0, 1))
    histograms = [
        np.stack(
            [np.histogram(h[..., c], bins=8, range=(0, 1))[0] for c in range(3)]
        ).ravel()
        / (h.shape[0] * h.shape[1])
        for h in hsv
    ]
    return np.concatenate([small.reshape(len(images), -1) / 255.0, histograms], axis=1)


def pixel_baseline(config):
    """Logistic regression on `pixel_features`, on the run's own split."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    splits = training.load_splits(apps.get_app(config["app"]), config)
    train_x, train_y = arrays(splits.train.concatenate(splits.validation))
    test_x, test_y = arrays(splits.test)
    baseline = make_pipeline(
        StandardScaler(), LogisticRegression(C=0.05, max_iter=3000)
    )
    baseline.fit(pixel_features(train_x), train_y)
    return float(baseline.score(pixel_features(test_x), test_y))


def plant(tmp, seeds):
    variants = {"defaults": {"data": {"source": str(FLOWERS)}}}
    if MOBILENET.is_file():
        variants["mobilenet_v1_0.25 from ImageNet, trained whole, 224x224"] = {
            "data": {"source": str(FLOWERS), "image_size": [224, 224]},
            "model": {
                "backbone": "mobilenet_v1_0.25",
                "weights": str(MOBILENET),
                "train_backbone": True,
            },
            "training": {"epochs": 25, "early_stopping_patience": 25},
        }
    rows, config = train_variants("plant-classifier", tmp, seeds, variants)
    rows["baseline: pixels + HSV histograms, logistic regression"] = {
        "accuracy": pixel_baseline(config)
    }
    return rows


def tfidf_accuracy(train_texts, train_labels, test_texts, test_labels):
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    baseline = make_pipeline(
        TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True),
        LogisticRegression(max_iter=1000),
    )
    baseline.fit(train_texts, train_labels)
    return float(baseline.score(test_texts, test_labels))


def texts_and_labels(dataset):
    texts, labels = arrays(dataset)
    return [text.decode() for text in texts], labels


def sentiment(tmp, seeds):
    both = tmp / "amazon+imdb.tsv"
    both.write_bytes(b"".join(path.read_bytes() for path in REVIEWS.values()))
    tasks = {"in-domain, amazon + imdb": (both, None)}
    for train_name, test_name in (("amazon", "imdb"), ("imdb", "amazon")):
        tasks[f"{train_name} -> {test_name}"] = (
            REVIEWS[train_name],
            REVIEWS[test_name],
        )
    rows = {}
    for task, (train_file, test_file) in tasks.items():
        data = {"source": str(train_file), "header": False}
        if test_file is not None:
            data["test_split"] = 0.0
        runs = [
            train_and_test(
                "sentiment-rnn",
                tmp / f"sentiment-{len(rows)}-{seed}",
                data=data,
                seed=seed,
                test_data=test_file and str(test_file),
            )
            for seed in seeds
        ]
        config = runs[-1]["config"]
        app = apps.get_app("sentiment-rnn")
        splits = training.load_splits(app, config)
        train_texts, train_labels = texts_and_labels(
            splits.train.concatenate(splits.validation)
        )
        if test_file is None:
            held_out = splits.test
        else:
            held_out = training.load_splits(
                app, config, source=str(test_file), validation_split=0.0, test_split=1.0
            ).test
        rows[task] = {
            **summary(runs, "accuracy"),
            "baseline_tfidf_logistic_regression": tfidf_accuracy(
                train_texts, train_labels, *texts_and_labels(held_out)
            ),
        }
    return rows


def clip_arrays(dataset):
    """`(frames, masks, labels)` of every clip of a split."""
    frames, masks, labels = [], [], []
    for inputs, batch_labels in dataset.as_numpy_iterator():
        frames.append(inputs["frames"])
        masks.append(inputs["mask"])
        labels.append(batch_labels)
    return np.concatenate(frames), np.concatenate(masks), np.concatenate(labels)


def motion_features(frames, masks):
    """Frame-difference statistics of clips: per step the mean, spread, 90th
    percentile and moving fraction of |frame t+1 - frame t| (grey), their
    mean, spread and maximum over the clip, and the mean change on a 4x4 grid."""
    grey = frames.mean(axis=-1)
    changes = np.abs(np.diff(grey, axis=1))
    valid = (masks[:, 1:] & masks[:, :-1]).astype("float32")
    steps = valid.sum(axis=1, keepdims=True).clip(1)
    flat = changes.reshape(*changes.shape[:2], -1)
    per_step = np.stack(
        [
            flat.mean(-1),
            flat.std(-1),
            np.percentile(flat, 90, axis=-1),
            (flat > 20).mean(-1),
        ],
        axis=-1,
    )
    mean = (per_step * valid[..., None]).sum(1) / steps
    spread = np.sqrt(
        (((per_step - mean[:, None]) ** 2) * valid[..., None]).sum(1) / steps
    )
    largest = (per_step * valid[..., None]).max(1)
    height, width = (size // 4 * 4 for size in changes.shape[2:])
    grid = changes[:, :, :height, :width].reshape(
        *changes.shape[:2], 4, height // 4, 4, width // 4
    )
    grid = (grid.mean(axis=(3, 5)) * valid[..., None, None]).sum(1) / steps[..., None]
    return np.concatenate([mean, spread, largest, grid.reshape(len(grid), -1)], 1)


def motion_baseline(config):
    """Logistic regression on `motion_features`, on the run's own split."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    splits = training.load_splits(apps.get_app(config["app"]), config)
    train_frames, train_masks, train_y = clip_arrays(
        splits.train.concatenate(splits.validation)
    )
    test_frames, test_masks, test_y = clip_arrays(splits.test)
    baseline = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=3000))
    baseline.fit(motion_features(train_frames, train_masks), train_y)
    return float(baseline.score(motion_features(test_frames, test_masks), test_y))


def decoding_speed(num_frames, image_size):
    """Clips and frames per second of reading the fight clips (decoding, even
    frame sampling, resizing; no cache), one pass over every split."""
    from cnnrnn.data.video import load_video_folder

    started = time.perf_counter()
    splits = load_video_folder(
        FIGHT, num_frames=num_frames, image_size=image_size, cache=False
    )
    clips = sum(
        len(labels)
        for split in (splits.train, splits.validation, splits.test)
        for _, labels in split.as_numpy_iterator()
    )
    seconds = time.perf_counter() - started
    return {
        "clips": clips,
        "clips_per_second": round(clips / seconds, 1),
        "frames_per_second": round(clips * num_frames / seconds, 1),
    }


def video(tmp, seeds):
    variants = {"defaults": {"data": {"source": str(FIGHT)}}}
    if MOBILENET.is_file():
        variants["mobilenet_v1_0.25 from ImageNet, frozen, 128x128, differences"] = {
            "data": {"source": str(FIGHT), "image_size": [128, 128]},
            "model": {
                "backbone": "mobilenet_v1_0.25",
                "weights": str(MOBILENET),
                "train_backbone": False,
            },
            "training": {"precompute_features": True},
        }
    rows, config = train_variants("video-classifier", tmp, seeds, variants)
    rows["baseline: frame-difference statistics, logistic regression"] = {
        "accuracy": motion_baseline(config)
    }
    rows["defaults"]["decoding"] = decoding_speed(
        config["data"]["num_frames"], config["data"]["image_size"]
    )
    return rows


def constant_caption_bleu(config, candidates=300):
    """BLEU-4 on the held-out photos of the one caption that scores best on
    the validation photos (among `candidates` of their captions, evenly spread)."""
    from cnnrnn.captioning import bleu_scores

    splits = training.load_splits(apps.get_app(config["app"]), config)
    references = splits.extras["validation"].references
    pool = sorted({" ".join(caption) for image in references for caption in image})
    pool = pool[:: max(1, len(pool) // candidates)]
    best = max(
        pool,
        key=lambda text: bleu_scores(references, [text] * len(references))["bleu_4"],
    )
    held_out = splits.extras["test"].references
    return best, bleu_scores(held_out, [best] * len(held_out))["bleu_4"]


def captions(tmp, seeds):
    variants = {"defaults": {"data": {"source": str(FLICKR)}}}
    if MOBILENET.is_file():
        variants["mobilenet_v1_0.25 from ImageNet, frozen, 224x224, 256 units"] = {
            "data": {"source": str(FLICKR), "image_size": [224, 224]},
            "model": {
                "encoder": "mobilenet_v1_0.25",
                "weights": str(MOBILENET),
                "train_backbone": False,
                # A wider decoder, more dropout: test BLEU-4 0.071 -> 0.112.
                "units": 256,
                "embedding_dim": 128,
                "dropout": 0.5,
            },
            "training": {"precompute_features": True},
        }
    rows, config = train_variants("image-captioner", tmp, seeds, variants, "bleu_4")
    caption, bleu = constant_caption_bleu(config)
    rows[f"baseline: the best constant caption ({caption!r})"] = {"bleu_4": bleu}
    return rows


def kneser_ney_nats(train, test, order=5, discount=0.75):
    """Nats per character of an interpolated Kneser-Ney character n-gram model.

    Counts every n-gram of `train` up to `order` characters; lower orders use
    continuation counts (how many different characters precede them). Each
    character of `test` is predicted from the `order - 1` before it, backing
    off through the shorter histories down to a uniform distribution.
    """
    counts = [collections.Counter() for _ in range(order)]
    for n in range(order):  # n: the length of the history
        counts[n].update(train[i - n : i + 1] for i in range(n, len(train)))
    for n in range(order - 1):
        continuation = collections.Counter(gram[1:] for gram in counts[n + 1])
        counts[n] = continuation
    totals = [collections.Counter() for _ in range(order)]
    kinds = [collections.Counter() for _ in range(order)]
    for n in range(order):
        for gram, count in counts[n].items():
            totals[n][gram[:-1]] += count
            kinds[n][gram[:-1]] += 1
    uniform = 1.0 / (len(set(train)) + 1)
    nats = 0.0
    for i, char in enumerate(test):
        probability = uniform
        for n in range(min(order, i + 1)):
            history = test[i - n : i]
            total = totals[n][history]
            if not total:
                break
            probability = (
                max(counts[n][history + char] - discount, 0)
                + discount * kinds[n][history] * probability
            ) / total
        nats -= math.log(probability)
    return nats / len(test)


def char(tmp, seeds):
    """The char-generator's defaults for CHAR_MINUTES minutes on the first
    90% of tinyshakespeare, scored on the last 10%, against a 5-gram model."""
    text = SHAKESPEARE.read_text(encoding="utf-8")
    data = {"source": str(SHAKESPEARE)}
    runs = [
        train_and_test(
            "char-generator",
            tmp / f"char-{seed}",
            data=data,
            seed=seed,
            training={"max_minutes": CHAR_MINUTES},
        )
        for seed in seeds
    ]
    for run in runs:
        run["test"]["nats_per_char"] = run["test"]["loss"]
    validation_split = runs[-1]["config"]["data"]["validation_split"]
    cut = len(text) - round(len(text) * validation_split)
    return {
        f"defaults, {CHAR_MINUTES} minutes of training": summary(runs, "nats_per_char"),
        "baseline: interpolated Kneser-Ney character 5-gram": {
            "nats_per_char": kneser_ney_nats(text[:cut], text[cut:])
        },
    }


def summary(runs, metric):
    values = [run["test"][metric] for run in runs]
    return {
        metric: statistics.mean(values),
        "per_seed": values,
        "train_seconds": statistics.mean(run["seconds"] for run in runs),
        "epochs_run": [run["epochs"] for run in runs],
    }


BENCHMARKS = {
    "plant": (plant, FLOWERS),
    "sentiment": (sentiment, REVIEWS["amazon"]),
    "video": (video, FIGHT),
    "captions": (captions, FLICKR),
    "char": (char, SHAKESPEARE),
}


# The figure of each row: the first of these that it has.
METRICS = ("accuracy", "bleu_4", "nats_per_char")


def markdown(results):
    lines = ["| application | task | metric | cnnrnn | baseline | training time (s) |"]
    lines.append("| --- | --- | --- | --- | --- | --- |")
    for app_name, rows in results["applications"].items():
        if isinstance(rows, str):
            lines.append(f"| {app_name} | {rows} | | | | |")
            continue
        for task, row in rows.items():
            metric = next(name for name in METRICS if name in row)
            value = f"{row[metric]:.3f}"
            if task.startswith("baseline"):
                lines.append(f"| {app_name} | {task} | {metric} | | {value} | |")
                continue
            baseline = row.get("baseline_tfidf_logistic_regression")
            baseline = "" if baseline is None else f"{baseline:.3f}"
            lines.append(
                f"| {app_name} | {task} | {metric} | {value} | {baseline} | "
                f"{row['train_seconds']:.0f} |"
            )
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--apps", default=",".join(BENCHMARKS))
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument(
        "--output",
        type=pathlib.Path,
        default=pathlib.Path("benchmarks/results/real_data.json"),
    )
    args = parser.parse_args()
    seeds = range(1, args.seeds + 1)
    # Applications not run this time keep their figures from the last run.
    earlier = json.loads(args.output.read_text()) if args.output.is_file() else {}
    result = {
        "benchmark": "real_data",
        "machine": machine(),
        "applications": earlier.get("applications", {}),
    }
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        os.environ["CNNRNN_HOME"] = str(tmp / "home")
        for name in args.apps.split(","):
            run, needed = BENCHMARKS[name]
            result["applications"][name] = (
                run(tmp, seeds) if needed.exists() else f"skipped: {needed} not found"
            )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    args.output.with_suffix(".md").write_text(markdown(result))
    print(markdown(result))


if __name__ == "__main__":
    main()
