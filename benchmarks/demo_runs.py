"""What the demos cost and reach: `cnnrnn train APP` without `--data`, per seed.

For each application, trains on its generated demo data with its showcase
settings (in a fresh `cnnrnn` process, as a user runs it), once per seed,
and writes JSON with, per run: the training seconds, the best epoch and its
validation metric, the held-out metric, and the validation metric of every
epoch; per application: FLOPs per example of the demo model
(`cnnrnn profile`) and the median training seconds. Timing never decides
pass/fail; the README's figures come from here.

Usage:
    python benchmarks/demo_runs.py [--apps plant-classifier,...] [--seeds 1,2,3]
        [--set SECTION.KEY=VALUE ...] [--output benchmarks/results/demo_runs.json]
"""

import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
import tempfile

from timing import machine

# Per application: the validation metric followed per epoch, and the
# held-out one reported.
METRICS = {
    "plant-classifier": ("val_accuracy", "accuracy"),
    "sentiment-rnn": ("val_accuracy", "accuracy"),
    "char-generator": ("val_bits_per_char", "bits_per_char"),
    "video-classifier": ("val_accuracy", "accuracy"),
    "image-captioner": ("val_token_accuracy", "bleu_4"),
}


def cnnrnn(*argv):
    """Runs `cnnrnn ARGV` in a fresh process; its standard output."""
    result = subprocess.run(
        [sys.executable, "-m", "cnnrnn.cli", *argv],
        capture_output=True,
        text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
    )
    if result.returncode:
        sys.exit(f"cnnrnn {' '.join(argv)} failed:\n{result.stderr[-2000:]}")
    return result.stdout


def train(app, seed, settings, folder):
    run = os.path.join(folder, f"{app}-{seed}")
    options = [f"--set=training.seed={seed}", *(f"--set={s}" for s in settings)]
    cnnrnn("train", app, "--output", run, *options)
    with open(os.path.join(run, "metrics.json")) as file:
        metrics = json.load(file)
    with open(os.path.join(run, "history.csv"), newline="") as file:
        history = list(csv.DictReader(file))
    followed, held_out = METRICS[app]
    return {
        "seed": seed,
        "train_seconds": metrics["train_seconds"],
        "epochs": len(history),
        "best_epoch": metrics["best_epoch"],
        f"best_{followed}": metrics[f"best_{followed}"],
        "evaluated_on": metrics["evaluated_on"],  # test, or validation without one
        held_out: metrics[held_out],
        f"{followed}_per_epoch": [round(float(row[followed]), 4) for row in history],
    }


def flops_per_example(app, settings):
    report = json.loads(cnnrnn("profile", app, "--json", "--batch-sizes", "1",
                               *(f"--set={s}" for s in settings)))  # fmt: skip
    return report["flops"]  # per example


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--apps", default=",".join(METRICS))
    parser.add_argument("--seeds", default="1,2,3")
    parser.add_argument("--set", action="append", default=[], dest="settings")
    parser.add_argument("--output", default="benchmarks/results/demo_runs.json")
    args = parser.parse_args()
    seeds = [int(seed) for seed in args.seeds.split(",")]
    report = {
        "machine": machine(),
        "settings": args.settings,
        "apps": {},
    }
    with tempfile.TemporaryDirectory() as folder:
        for app in args.apps.split(","):
            runs = [train(app, seed, args.settings, folder) for seed in seeds]
            report["apps"][app] = {
                "flops_per_example": flops_per_example(app, args.settings),
                "median_train_seconds": statistics.median(
                    run["train_seconds"] for run in runs
                ),
                "runs": runs,
            }
            print(json.dumps({app: report["apps"][app]}), flush=True)
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    with open(args.output, "w") as file:
        json.dump(report, file, indent=2)
    print(markdown_table(report))


def markdown_table(report):
    """The README's table: per application, FLOPs, seconds and metrics by seed."""
    lines = [
        "| application | FLOPs per example | training seconds | best validation "
        "| held-out |",
        "| --- | --- | --- | --- | --- |",
    ]
    for app, result in report["apps"].items():
        runs = result["runs"]
        followed, held_out = METRICS[app]

        def values(key, runs=runs):
            return "/".join(f"{run[key]:.3g}" for run in runs)

        lines.append(
            f"| {app} | {result['flops_per_example'] / 1e6:.1f} M "
            f"| {values('train_seconds')} | {followed} {values(f'best_{followed}')} "
            f"| {runs[0]['evaluated_on']} {held_out} {values(held_out)} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
