"""The CNN vs RNN comparison of `cnnrnn compare` over several seeds.

Runs `cnnrnn.compare.run_comparison` with its defaults (the digits, 30
epochs, CNN vs row-wise LSTM and GRU) once per seed: each seed gives another
split, initialisation and augmentation. Reports, per model, the test
accuracy of every seed with its median and minimum, and the median of each
measurement as a ratio to the CNN's (parameters, FLOPs, activation memory,
training time per epoch, latency at batch 1 and 256), as JSON. The
comparison of the first seed is kept beside the JSON
(`<output stem>/comparison.md` and plots).

Usage:
    python benchmarks/cnn_vs_rnn.py [--seeds 3]
        [--output benchmarks/results/cnn_vs_rnn.json]
"""

import argparse
import json
import os
import pathlib
import platform
import shutil
import statistics
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from cnnrnn.compare import run_comparison  # noqa: E402

MEASURES = (
    "parameters",
    "flops",
    "activation_bytes",
    "train_seconds_per_epoch",
    "latency_ms_1",
    "latency_ms_256",
)


def _measures(result):
    return {
        "parameters": result["parameters"],
        "flops": result["flops"],
        "activation_bytes": result["activation_bytes"],
        "train_seconds_per_epoch": result["train_seconds_per_epoch"],
        "latency_ms_1": result["latency_ms"]["1"],
        "latency_ms_256": result["latency_ms"]["256"],
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument(
        "--output", type=pathlib.Path, default="benchmarks/results/cnn_vs_rnn.json"
    )
    args = parser.parse_args()
    runs = []
    with tempfile.TemporaryDirectory() as scratch:
        for seed in range(args.seeds):
            started = time.perf_counter()
            folder = pathlib.Path(scratch) / f"seed{seed}"
            comparison = run_comparison(output=folder, seed=seed)
            seconds = time.perf_counter() - started
            runs.append({"seed": seed, "seconds": seconds, **comparison})
            print(f"seed {seed}: {seconds:.0f} s", flush=True)
            for result in comparison["models"]:
                print(f"  {result['model']}: {result['test_accuracy']:.4f}")
        kept = args.output.with_suffix("")
        shutil.rmtree(kept, ignore_errors=True)
        shutil.copytree(pathlib.Path(scratch) / "seed0", kept)

    names = [result["model"] for result in runs[0]["models"]]
    per_model = {}
    for name in names:
        results = [next(r for r in run["models"] if r["model"] == name) for run in runs]
        accuracies = [r["test_accuracy"] for r in results]
        measures = [_measures(r) for r in results]
        per_model[name] = {
            "test_accuracy": accuracies,
            "test_accuracy_median": statistics.median(accuracies),
            "test_accuracy_min": min(accuracies),
            **{
                f"{key}_median": statistics.median(m[key] for m in measures)
                for key in MEASURES
            },
        }
    cnn = per_model.get("cnn")
    if cnn:
        for summary in per_model.values():
            summary["ratio_to_cnn"] = {
                key: summary[f"{key}_median"] / cnn[f"{key}_median"] for key in MEASURES
            }
    report = {
        "setup": {**runs[0]["setup"], "seeds": list(range(args.seeds))},
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "seconds_per_comparison": [run["seconds"] for run in runs],
        "models": per_model,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(per_model, indent=2))


if __name__ == "__main__":
    main()
