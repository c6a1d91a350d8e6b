"""Stepwise (stateful) sampling against re-running the model on a window per character.

With the same trained weights, in one run, generates `--length` characters:

- `stepwise`: `CharSampler`, which reads the seed once and then runs the
  recurrent layers one step per character, carrying their states;
- `window`: what the official Keras example does: for every new character,
  run the whole model on the last `sequence_length` characters and keep the
  last step's prediction. Timed with `predict_on_batch` (the fastest Keras
  call) and, for reference, with `model.predict` as the example does.

Both draw with the same sampler and random seed, so while the text still fits
in the window they write the same characters (checked). Reports characters
per second (median of `--repeats`) and the speed-up ratios, as JSON.

Usage:
    python benchmarks/generation_speed.py [--run RUN_DIR] [--length 500]
        [--output benchmarks/results/generation_speed.json]

Without `--run`, trains the default char-generator for one epoch on the demo
play first.
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
from cnnrnn.models.char_generator import OOV_ID, CharSampler  # noqa: E402
from cnnrnn.models.sampling import sample_from_logits  # noqa: E402

SEED_TEXT = "ROMEO:\n"
TEMPERATURE = 0.8


def stepwise(sampler, length, seed):
    (text,) = sampler.generate(
        SEED_TEXT, length=length, temperature=TEMPERATURE, seed=seed
    )
    return text


def window(model, sampler, length, seed, sequence_length, call):
    rng = np.random.default_rng(seed)
    ids = list(sampler.embedding.encode(SEED_TEXT))
    text = ""
    for _ in range(length):
        logits = call(np.array([ids[-sequence_length:]], np.int32))
        logits = keras.ops.convert_to_numpy(logits)[:, -1]
        (new,) = sample_from_logits(
            logits, rng=rng, temperature=TEMPERATURE, banned=(OOV_ID,)
        )
        ids.append(int(new))
        text += sampler.embedding.vocabulary[new - 1]
    return text


def trained_run(tmp):
    app = apps.get_app("char-generator")
    run_dir = pathlib.Path(tmp) / "run"
    os.environ.setdefault("CNNRNN_HOME", str(pathlib.Path(tmp) / "home"))
    config = resolve_config(app, overrides={"training": {"epochs": 1}})
    training.train(app, config=config, run_dir=run_dir, console=Console(quiet=True))
    return run_dir


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=pathlib.Path, help="a char-generator run")
    parser.add_argument("--length", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--predict-length",
        type=int,
        default=100,
        help="characters timed with model.predict (slow)",
    )
    parser.add_argument(
        "--output",
        type=pathlib.Path,
        default=pathlib.Path("benchmarks/results/generation_speed.json"),
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = args.run or trained_run(tmp)
        _, config, model = training.load_run(run_dir)
    sequence_length = config["data"]["sequence_length"]
    sampler = CharSampler(model)
    stepwise(sampler, 10, seed=0)  # compile both paths before timing
    model.predict_on_batch(np.ones((1, sequence_length), np.int32))

    step_s, step_text = timed(lambda: stepwise(sampler, args.length, 0), args.repeats)
    window_s, window_text = timed(
        lambda: window(
            model, sampler, args.length, 0, sequence_length, model.predict_on_batch
        ),
        args.repeats,
    )
    predict_s, _ = timed(
        lambda: window(
            model,
            sampler,
            args.predict_length,
            0,
            sequence_length,
            lambda x: model.predict(x, verbose=0),
        ),
        1,
    )
    within = sequence_length - len(SEED_TEXT)
    rates = {
        "stepwise": args.length / step_s,
        "window_predict_on_batch": args.length / window_s,
        "window_model_predict": args.predict_length / predict_s,
    }
    result = {
        "benchmark": "generation_speed",
        "run": str(run_dir),
        "model": {
            key: config["model"][key]
            for key in ("rnn_type", "num_layers", "units", "embedding_dim")
        },
        "parameters": model.count_params(),
        "sequence_length": sequence_length,
        "length": args.length,
        "repeats": args.repeats,
        "chars_per_second": {key: round(value, 1) for key, value in rates.items()},
        "speedup_vs_window_predict_on_batch": round(
            rates["stepwise"] / rates["window_predict_on_batch"], 1
        ),
        "speedup_vs_window_model_predict": round(
            rates["stepwise"] / rates["window_model_predict"], 1
        ),
        "same_text_within_window": step_text[:within] == window_text[:within],
        "cpus": os.cpu_count(),
        "keras_backend": keras.backend.backend(),
        "sample": SEED_TEXT + step_text[:300],
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
