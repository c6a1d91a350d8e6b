"""What tracking costs a run: training with TensorBoard, with MLflow, with none.

Trains the plant classifier's demo (its demo settings, a fixed number of
epochs: no early stop) with no tracker, with TensorBoard logs, and with
MLflow (a SQLite store in a temporary folder), in turn, `--repeats` times
each. Reports the median training seconds per epoch of each (`metrics.json`'s
`train_seconds` over its epochs: the fit, its checkpoints and logs, not the
evaluation), each tracker's ratio to none, and the median seconds of writing
the TensorBoard report at the end (test metrics, plots and examples as
summaries), as JSON.

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


MODES = {
    "none": {"tensorboard": False, "mlflow": False},
    "tensorboard": {"tensorboard": True, "mlflow": False},
    "mlflow": {"tensorboard": False, "mlflow": True},
}


def train_once(source, folder, epochs, mode):
    """Seconds per epoch of one run, and the run directory."""
    app = apps.get_app(APP)
    overrides = {
        **app.demo,
        "data": {**app.demo.get("data", {}), "source": str(source)},
        "training": {
            **app.demo.get("training", {}),
            "epochs": epochs,
            "early_stopping_patience": epochs,
        },
        "tracking": {
            **MODES[mode],
            "mlflow_uri": f"sqlite:///{pathlib.Path(folder) / 'mlflow.db'}",
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
    output = pathlib.Path(args.output).resolve()
    app = apps.get_app(APP)
    source = ensure_demo_data(APP, app.write_demo_data)
    seconds = {mode: [] for mode in MODES}
    report = []
    with tempfile.TemporaryDirectory() as folder:
        os.chdir(folder)  # MLflow's artifacts go to ./mlruns
        for _ in range(args.repeats):
            for mode in MODES:
                per_epoch, run_dir = train_once(source, folder, args.epochs, mode)
                seconds[mode].append(per_epoch)
                if mode == "tensorboard":
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
        "ratio_to_none": {
            mode: round(median[mode] / median["none"], 3) for mode in MODES
        },
        "tensorboard_report_seconds": round(statistics.median(report), 3),
    }
    result["done_when_ratios_at_most_1_05"] = all(
        ratio <= 1.05 for ratio in result["ratio_to_none"].values()
    )
    output.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
