"""Video classifier against a frame-average baseline on the demo clips.

The demo clips show a shape moving down, left, right or up; every frame of
every class shows the shape at a uniformly random place, so only the motion
tells the classes apart. In one run, on the same splits and with the same
frame encoder and training settings (the app defaults: 40 epochs, early
stopping on the validation loss with patience 10, best weights kept):

- `video_classifier`: per-frame CNN + LSTM (`build_video_classifier`);
- `frame_average`: the same per-frame CNN, features averaged over the frames,
  no recurrent layer (`build_frame_average_classifier`).

Reports the test accuracy of each over `--seeds` seeds, as JSON.

Usage:
    python benchmarks/video_baseline.py [--seeds 2]
        [--output benchmarks/results/video_baseline.json]
"""

import argparse
import json
import os
import pathlib
import statistics
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402

from cnnrnn.apps import get_app  # noqa: E402
from cnnrnn.data.video import load_video_folder  # noqa: E402
from cnnrnn.demos.video_classifier import write_video_demo  # noqa: E402
from cnnrnn.models.video_classifier import (  # noqa: E402
    build_frame_average_classifier,
    build_video_classifier,
)

FACTORIES = {
    "video_classifier": build_video_classifier,
    "frame_average": build_frame_average_classifier,
}


def test_accuracy(factory, splits, *, seed, epochs, patience):
    keras.utils.set_random_seed(seed)
    model = factory(**splits.model_args)
    stop = keras.callbacks.EarlyStopping(patience=patience, restore_best_weights=True)
    started = time.perf_counter()
    history = model.fit(
        splits.train,
        validation_data=splits.validation,
        epochs=epochs,
        callbacks=[stop],
        shuffle=False,  # the training split is shuffled by its pipeline
        verbose=0,
    )
    logs = model.evaluate(splits.test, verbose=0, return_dict=True)
    return {
        "test_accuracy": round(logs["accuracy"], 4),
        "epochs": len(history.history["loss"]),
        "seconds": round(time.perf_counter() - started, 1),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument(
        "--output",
        type=pathlib.Path,
        default=pathlib.Path("benchmarks/results/video_baseline.json"),
    )
    args = parser.parse_args()
    app = get_app("video-classifier")
    data = app.defaults["data"]
    training = app.defaults["training"]
    with tempfile.TemporaryDirectory() as tmp:
        folder = write_video_demo(pathlib.Path(tmp) / "clips")
        splits = load_video_folder(folder, **data)
    runs = {name: [] for name in FACTORIES}
    for seed in range(args.seeds):
        for name, factory in FACTORIES.items():
            runs[name].append(
                test_accuracy(
                    factory,
                    splits,
                    seed=seed,
                    epochs=training["epochs"],
                    patience=training["early_stopping_patience"],
                )
            )
            print(name, seed, runs[name][-1], flush=True)
    result = {
        "benchmark": "video_baseline",
        "num_examples": splits.info["num_examples"],
        "chance": 1 / splits.model_args["num_classes"],
        "median_test_accuracy": {
            name: statistics.median(run["test_accuracy"] for run in results)
            for name, results in runs.items()
        },
        "runs": runs,
        "cpus": os.cpu_count(),
        "keras_backend": keras.backend.backend(),
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
