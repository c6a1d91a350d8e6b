"""What TensorBoard logging costs a run: training with and without it.

Trains the plant classifier's demo (its demo settings, a fixed number of
epochs: no early stop) with `training.tensorboard` on and off, alternately,
`--repeats` times each. Reports the median training seconds per epoch of
each (`metrics.json`'s `train_seconds` over its epochs: the fit, its
checkpoints and logs, not the evaluation) and their ratio, and the median
seconds of writing the report at the end (test metrics, plots and examples
as summaries), as JSON.

Usage:
    python benchmarks/tracking_overhead.py [--epochs 8] [--repeats 3]
        [--output benchmarks/results/tracking_overhead.json]
"""

import argparse
import json
import os
import pathlib
import statistics
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from rich.console import Console  # noqa: E402
from timing import machine  # noqa: E402

from cnnrnn import apps, runs, tracking, training  # noqa: E402
from cnnrnn.config import resolve_config  # noqa: E402
from cnnrnn.demos.common import ensure_demo_data  # noqa: E402

APP = "plant-classifier"


def train_once(source, folder, epochs, tensorboard):
    """Seconds per epoch of one run, and the run directory."""
    app = apps.get_app(APP)
    overrides = {
        **app.demo,
        "data": {**app.demo.get("data", {}), "source": str(source)},
        "training": {
            **app.demo.get("training", {}),
            "epochs": epochs,
            "early_stopping_patience": epochs,
            "tensorboard": tensorboard,
        },
    }
    config = resolve_config(app, overrides=overrides)
    run_dir = pathlib.Path(tempfile.mkdtemp(dir=folder))
    metrics = training.train(
        app, config=config, run_dir=run_dir / "run", console=Console(quiet=True)
    )
    return metrics["train_seconds"] / metrics["epochs"], run_dir / "run"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--output", default="benchmarks/results/tracking_overhead.json")
    args = parser.parse_args()
    app = apps.get_app(APP)
    source = ensure_demo_data(APP, app.write_demo_data)
    seconds = {"off": [], "on": []}
    report = []
    with tempfile.TemporaryDirectory() as folder:
        for _ in range(args.repeats):
            for mode in ("off", "on"):
                per_epoch, run_dir = train_once(
                    source, folder, args.epochs, tensorboard=mode == "on"
                )
                seconds[mode].append(per_epoch)
                if mode == "on":
                    metrics = runs.read_json(run_dir / runs.METRICS_FILE)
                    started = time.perf_counter()
                    tracking.log_report(run_dir, metrics)
                    report.append(time.perf_counter() - started)
    median = {mode: statistics.median(values) for mode, values in seconds.items()}
    result = {
        "machine": machine(),
        "application": APP,
        "epochs": args.epochs,
        "repeats": args.repeats,
        "seconds_per_epoch": {
            mode: {"median": round(median[mode], 4), "all": [round(s, 4) for s in v]}
            for mode, v in seconds.items()
        },
        "ratio_on_over_off": round(median["on"] / median["off"], 3),
        "report_seconds": round(statistics.median(report), 3),
    }
    result["done_when_ratio_at_most_1_05"] = result["ratio_on_over_off"] <= 1.05
    pathlib.Path(args.output).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
