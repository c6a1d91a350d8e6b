"""Is the image-folder pipeline the bottleneck of plant-classifier training?

Times one training epoch of the default plant-classifier model fed by
`cnnrnn.data.images.load_image_folder` against the same epoch fed from NumPy
arrays already in memory, alternating the two, and writes the ratios (median
of the repeats) to JSON:

- `warm_ratio`: epochs after the first, when the pipeline's in-memory cache
  is filled (what most of a training run sees);
- `cold_ratio`: the first epoch of a new pipeline, which decodes every file.

A ratio of 1.0 means the pipeline costs nothing over in-memory tensors. The
ratio of the fastest repeats is reported too: on a busy 2-core machine some
epochs of either kind stall for a second or two.

Usage:
    python benchmarks/input_pipeline.py [--data DIR] [--repeats 5]
        [--output benchmarks/results/input_pipeline.json]
"""

import argparse
import json
import os
import pathlib
import platform
import statistics
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from cnnrnn.data.images import load_image_folder  # noqa: E402
from cnnrnn.demos.plant_classifier import write_plant_demo  # noqa: E402
from cnnrnn.models import build_plant_classifier  # noqa: E402


def timed_epoch(model, data=None, **kwargs):
    """Seconds for one `model.fit` epoch on a dataset or on `x=`, `y=` arrays."""
    started = time.perf_counter()
    if data is not None:
        kwargs.update(x=data, shuffle=False)  # the pipeline shuffles itself
    model.fit(epochs=1, verbose=0, **kwargs)
    return time.perf_counter() - started


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=pathlib.Path, help="image folder (demo)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument(
        "--output",
        type=pathlib.Path,
        default=pathlib.Path("benchmarks/results/input_pipeline.json"),
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = args.data or write_plant_demo(pathlib.Path(tmp) / "plants")
        result = run(data, repeats=args.repeats, batch_size=args.batch_size)
    result["data"] = str(args.data or "generated plant-classifier demo data")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


def run(data, *, repeats, batch_size):
    def pipeline():
        return load_image_folder(
            data, batch_size=batch_size, validation_split=0.0, test_split=0.0
        )

    splits = pipeline()
    batches = list(splits.train.as_numpy_iterator())
    images = np.concatenate([x for x, _ in batches])
    labels = np.concatenate([y for _, y in batches])
    keras.utils.set_random_seed(0)
    model = build_plant_classifier(**splits.model_args)
    in_memory = dict(x=images, y=labels, batch_size=batch_size, shuffle=True)
    timed_epoch(model, splits.train)  # warm-up: tracing, cache fill
    timed_epoch(model, **in_memory)

    warm, cold, memory = [], [], []
    for _ in range(repeats):
        fresh = pipeline().train
        cold.append(timed_epoch(model, fresh))
        warm.append(timed_epoch(model, fresh))
        memory.append(timed_epoch(model, **in_memory))
    timings = {"cold": cold, "warm": warm, "memory": memory}
    median = {name: statistics.median(v) for name, v in timings.items()}
    fastest = {name: min(v) for name, v in timings.items()}
    return {
        "benchmark": "input_pipeline",
        "examples": int(len(labels)),
        "image_shape": list(images.shape[1:]),
        "batch_size": batch_size,
        "repeats": repeats,
        "seconds": {"pipeline_cold": cold, "pipeline_warm": warm, "in_memory": memory},
        "median_seconds": median,
        "min_seconds": fastest,
        "warm_ratio": round(median["warm"] / median["memory"], 3),
        "cold_ratio": round(median["cold"] / median["memory"], 3),
        "warm_ratio_of_fastest": round(fastest["warm"] / fastest["memory"], 3),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "keras_backend": keras.backend.backend(),
    }


if __name__ == "__main__":
    main()
