"""Video pipeline speed: parallel decoding, and training on cached frame features.

In one run, on the generated demo clips (real MPEG-4 files):

- `decode`: clips per second of decoding + even frame sampling + resizing,
  with `load_video_folder(num_workers=None)` (a thread per core) against
  `num_workers=1` (one clip at a time); median of `--repeats` loads, no cache;
- `features`: epoch time of a video classifier with a frozen frame encoder
  trained on raw frames (the encoder runs on every frame in every epoch)
  against its head trained on features the encoder computed once
  (`training.precompute_features`); median epoch time, plus the one-off
  feature computation.

Usage:
    python benchmarks/video_pipeline.py [--backbone mobilenet_v3_small]
        [--epochs 4] [--output benchmarks/results/video_pipeline.json]
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

from cnnrnn.data.video import load_video_folder  # noqa: E402
from cnnrnn.demos.video_classifier import write_video_demo  # noqa: E402
from cnnrnn.models.video_classifier import (  # noqa: E402
    build_video_classifier,
    feature_models,
)
from cnnrnn.precompute import feature_splits  # noqa: E402


class EpochTimer(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.seconds = []

    def on_epoch_begin(self, epoch, logs=None):
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self.started)


def decode_rate(folder, num_clips, *, num_workers, repeats, options):
    seconds = []
    for _ in range(repeats):
        started = time.perf_counter()
        load_video_folder(folder, num_workers=num_workers, **options)
        seconds.append(time.perf_counter() - started)
    return num_clips / statistics.median(seconds)


def median_epoch(model, data, epochs):
    timer = EpochTimer()
    model.fit(data, epochs=epochs, callbacks=[timer], shuffle=False, verbose=0)
    return statistics.median(timer.seconds[1:] or timer.seconds)  # 1st traces


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbone", default="mobilenet_v3_small")
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--output",
        type=pathlib.Path,
        default=pathlib.Path("benchmarks/results/video_pipeline.json"),
    )
    args = parser.parse_args()
    options = dict(num_frames=16, image_size=args.image_size, seed=0)
    with tempfile.TemporaryDirectory() as tmp:
        folder = write_video_demo(
            pathlib.Path(tmp) / "clips", image_size=args.image_size
        )
        num_clips = sum(1 for _ in folder.rglob("*.mp4"))
        rates = {
            name: decode_rate(
                folder,
                num_clips,
                num_workers=workers,
                repeats=args.repeats,
                options=options,
            )
            for name, workers in (("parallel", None), ("one_at_a_time", 1))
        }
        splits = load_video_folder(folder, **options)

    keras.utils.set_random_seed(0)
    model = build_video_classifier(
        **splits.model_args, backbone=args.backbone, train_backbone=False
    )
    raw_epoch = median_epoch(model, splits.train, args.epochs)
    frame_features, head = feature_models(model)
    started = time.perf_counter()
    cached = feature_splits(frame_features, splits, seed=0)
    feature_seconds = time.perf_counter() - started
    cached_epoch = median_epoch(head, cached.train, args.epochs)

    result = {
        "benchmark": "video_pipeline",
        "clips": num_clips,
        "frames_per_clip": 16,
        "image_size": args.image_size,
        "decode_clips_per_second": {k: round(v, 1) for k, v in rates.items()},
        "decode_speedup": round(rates["parallel"] / rates["one_at_a_time"], 2),
        "backbone": args.backbone,
        "train_examples": splits.info["num_examples"]["train"],
        "epoch_seconds": {
            "raw_frames_frozen_encoder": round(raw_epoch, 3),
            "cached_features": round(cached_epoch, 3),
        },
        "feature_computation_seconds": round(feature_seconds, 2),
        "epoch_speedup": round(raw_epoch / cached_epoch, 1),
        "cpus": os.cpu_count(),
        "keras_backend": keras.backend.backend(),
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
