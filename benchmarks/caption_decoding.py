"""Stepwise caption decoding against re-running the decoder over the prefix per token.

With the same trained weights, in one run, captions a batch of test images
greedily:

- `stepwise`: `CaptionDecoder`, which encodes the images once and then runs
  the decoder one step per token, carrying its state;
- `prefix`: encodes the images once too, but for every new token runs the
  decoder (embedding, attention RNN, logits) over the whole caption so far
  and keeps the last step's prediction, as a model without state access has
  to;
- `full_model`: re-runs the whole trained model (encoder too) on the images
  and the prefix for every token, the simplest loop one can write.

All three pick the most probable token, so they write the same captions
(checked). Also times beam search (width 3 by default) against greedy
stepwise decoding, and both greedy ways writing captions of fixed lengths
(`--fixed-lengths`, end token banned, image encoding excluded) to show how
the costs grow with length. Reports seconds (median of `--repeats`) and
ratios as JSON.

Usage:
    python benchmarks/caption_decoding.py [--run RUN_DIR] [--images 256]
        [--output benchmarks/results/caption_decoding.json]

Without `--run`, trains the default image-captioner for 2 epochs on the demo
scenes first.
"""

import argparse
import json
import os
import pathlib
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from rich.console import Console  # noqa: E402
from timing import timed  # noqa: E402

from cnnrnn import apps, training  # noqa: E402
from cnnrnn.config import resolve_config  # noqa: E402
from cnnrnn.models.image_captioner import (  # noqa: E402
    END_ID,
    START_ID,
    CaptionDecoder,
)

BANNED = [0, 1, START_ID]


def prefix_decoder(decoder):
    """A model `(ids (batch, steps), features, keys, *states) -> logits` per step."""
    step = decoder.step_model
    ids = keras.Input(shape=(None,), dtype="int32")
    features, keys, *states = (
        keras.Input(shape=tuple(x.shape[1:]), dtype=x.dtype) for x in step.inputs[1:]
    )
    x = decoder.embedding(ids)
    x, *_ = decoder.attention_decoder(x, features, keys, states)
    return keras.Model([ids, features, keys, *states], decoder.logits_layer(x))


def greedy_loop(next_logits, count, max_length, *, banned=BANNED):
    """Greedy decoding given `next_logits(ids so far) -> (count, vocab)` logits."""
    ids = np.full((count, 1), START_ID, np.int32)
    running = np.ones(count, bool)
    for _ in range(max_length + 1):
        logits = np.array(next_logits(ids), np.float64)
        logits[:, banned] = -np.inf
        new = np.where(running, logits.argmax(axis=-1), 0)
        ids = np.concatenate([ids, new[:, None].astype(np.int32)], axis=1)
        running &= new != END_ID
        if not running.any():
            break
    return [row[1:] for row in ids]


def fixed_length_seconds(decoder, prefix_model, images, length, repeats):
    """Seconds to write `length` tokens per image (the end token banned) both ways.

    Captions of one fixed length show how the two costs grow with length:
    linearly stepwise, quadratically when re-running the prefix.
    """
    banned = [*BANNED, END_ID]
    features, keys, states = decoder.encode(images)

    def stepwise():
        step_states = states
        ids = np.full(len(images), START_ID)
        for _ in range(length):
            logits, step_states = decoder.step(ids, features, keys, step_states)
            logits[:, banned] = -np.inf
            ids = logits.argmax(axis=-1)

    def prefix():
        greedy_loop(
            lambda ids: prefix_model.predict_on_batch([ids, features, keys, *states])[
                :, -1
            ],
            len(images),
            length - 1,
            banned=banned,
        )

    prefix()  # compile the longer prefixes
    return timed(stepwise, repeats)[0], timed(prefix, repeats)[0]


def texts(decoder, rows):
    return [decoder.embedding.decode(row[row != 0]) for row in rows]


def trained_run(tmp):
    app = apps.get_app("image-captioner")
    run_dir = pathlib.Path(tmp) / "run"
    os.environ.setdefault("CNNRNN_HOME", str(pathlib.Path(tmp) / "home"))
    config = resolve_config(app, overrides={"training": {"epochs": 2}})
    training.train(app, config=config, run_dir=run_dir, console=Console(quiet=True))
    return run_dir


def test_images(app, config, count):
    splits = training.load_splits(app, config)
    images = []
    for batch in splits.extras["test"].images:
        images += list(np.asarray(batch))
        if len(images) >= count:
            break
    return np.array(images[:count])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=pathlib.Path, help="an image-captioner run")
    parser.add_argument(
        "--images", type=int, default=256, help="test images decoded as one batch"
    )
    parser.add_argument("--beam-width", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--fixed-lengths",
        type=int,
        nargs="*",
        default=[16, 32],
        help="also time captions of exactly these many tokens, encoding excluded",
    )
    parser.add_argument(
        "--output",
        type=pathlib.Path,
        default=pathlib.Path("benchmarks/results/caption_decoding.json"),
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = args.run or trained_run(tmp)
        app, config, model = training.load_run(run_dir)
        images = test_images(app, config, args.images)
    decoder = CaptionDecoder(model)
    max_length = decoder.embedding.max_length
    prefix_model = prefix_decoder(decoder)
    count = len(images)

    def stepwise():
        return decoder.caption(images, batch_size=count)

    def prefix():
        features, keys, states = decoder.encode(images)
        return texts(
            decoder,
            greedy_loop(
                lambda ids: prefix_model.predict_on_batch(
                    [ids, features, keys, *states]
                )[:, -1],
                count,
                max_length,
            ),
        )

    def full_model():
        return texts(
            decoder,
            greedy_loop(
                lambda ids: model.predict_on_batch((images, ids))[:, -1],
                count,
                max_length,
            ),
        )

    def beam():
        return decoder.caption(images, beam_width=args.beam_width, batch_size=count)

    for function in (stepwise, prefix, full_model, beam):  # compile every path
        function()
    seconds, captions = {}, {}
    for function in (stepwise, prefix, full_model, beam):
        seconds[function.__name__], captions[function.__name__] = timed(
            function, args.repeats
        )
    lengths = [len(text.split()) + 1 for text in captions["stepwise"]]
    fixed = {}
    for length in args.fixed_lengths:
        step_s, prefix_s = fixed_length_seconds(
            decoder, prefix_model, images, length, args.repeats
        )
        fixed[str(length)] = {
            "stepwise_seconds": round(step_s, 3),
            "prefix_seconds": round(prefix_s, 3),
            "stepwise_speedup": round(prefix_s / step_s, 1),
        }
    result = {
        "benchmark": "caption_decoding",
        "run": str(run_dir),
        "model": {
            key: config["model"][key]
            for key in ("rnn_type", "attention", "units", "embedding_dim")
        },
        "parameters": model.count_params(),
        "images": count,
        "max_length": max_length,
        "mean_tokens_per_caption": round(float(np.mean(lengths)), 2),
        "repeats": args.repeats,
        "seconds": {key: round(value, 3) for key, value in seconds.items()},
        "stepwise_speedup_vs_prefix_decoder": round(
            seconds["prefix"] / seconds["stepwise"], 1
        ),
        "stepwise_speedup_vs_full_model": round(
            seconds["full_model"] / seconds["stepwise"], 1
        ),
        f"beam_{args.beam_width}_cost_vs_greedy": round(
            seconds["beam"] / seconds["stepwise"], 2
        ),
        "fixed_length_decoding_only": fixed,
        "same_captions": captions["stepwise"]
        == captions["prefix"]
        == captions["full_model"],
        "cpus": os.cpu_count(),
        "keras_backend": keras.backend.backend(),
        "examples": {
            "greedy": captions["stepwise"][:3],
            f"beam_{args.beam_width}": captions["beam"][:3],
        },
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
