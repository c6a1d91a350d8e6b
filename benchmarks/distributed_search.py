"""Trials per minute of one search job: alone, and with 1 or 2 local workers.

Runs the same random search (small sentiment-rnn models on generated
reviews, a fixed space, no retraining of the best model) as separate
`cnnrnn tune` commands, in one run, alternating the set-ups each repeat:

- `alone`: `cnnrnn tune JOB` (one process, no gRPC);
- `workers_1`: `cnnrnn tune JOB --workers 1` (a chief and one worker);
- `workers_2`: `cnnrnn tune JOB --workers 2`;
- `workers_2_one_thread`: the same with each process limited to one
  TensorFlow thread (`TF_NUM_INTRAOP_THREADS=1`, `TF_NUM_INTEROP_THREADS=1`),
  so two workers do not fight over the cores;
- `chief_worker_plain` and `chief_worker_tls_token`: a chief and one worker
  started by hand (`--role`), the first with neither token nor TLS, the
  second with both: the cost of securing the channel
  (`tls_token_ratio_to_plain`).

`--setups NAME,...` runs only some of them.

Per run it reports the command's wall time, and the search's span: from the
start of the first trial to the end of the last (from the chief's
`trial_times.json`), which leaves out process start-up and data loading.
Trials per minute are `trials / span`. Medians over the repeats and their
ratios to `workers_1` and `alone` are written to JSON, with the number of
CPU cores and the 1-minute load average at the start and the end.

`--size small` (16-32 units, 240 reviews) times trials that spend most of
their time in single-threaded Python; `--size large` (256-512 units, 960
reviews) trials whose TensorFlow kernels use every core.

Usage:
    python benchmarks/distributed_search.py [--size small|large] [--trials 8]
        [--repeats 2] [--work-dir DIR]
        [--output benchmarks/results/distributed_search_<size>.json]
"""

import argparse
import json
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

from cnnrnn.demos.sentiment_rnn import write_sentiment_demo
from cnnrnn.tuning import certificates, cluster

ONE_THREAD = {"TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "1"}
SETUPS = {
    "alone": ([], {}),
    "workers_1": (["--workers", "1"], {}),
    "workers_2": (["--workers", "2"], {}),
    "workers_2_one_thread": (["--workers", "2"], ONE_THREAD),
    "chief_worker_plain": ("roles", False),
    "chief_worker_tls_token": ("roles", True),
}


JOB = """\
app = "sentiment-rnn"
[search]
algorithm = "random"
max_trials = {trials}
seed = 7
retrain_best = false
[training]
epochs = 2
early_stopping_patience = 5
[data]
source = "{reviews}"
batch_size = 16
[model]
units = {units}
embedding_dim = {units}
[space]
units = {{ values = [{units}, {units2}] }}
embedding_dim = {{ values = [{units}, {units2}] }}
num_layers = 1
"""
# Small trials spend most of their time in single-threaded Python (building
# and tracing the model); large ones in TensorFlow kernels that use every core.
SIZES = {"small": (16, 240), "large": (256, 960)}  # units, reviews


def make_job(folder, trials, size):
    units, num_reviews = SIZES[size]
    reviews = write_sentiment_demo(folder / "data", num_reviews=num_reviews)
    job = folder / "job.toml"
    job.write_text(
        JOB.format(
            trials=trials,
            reviews=reviews / "reviews.csv",
            units=units,
            units2=2 * units,
        )
    )
    return job


def run(job, output, options, environment):
    command = [sys.executable, "-m", "cnnrnn.cli", "tune", str(job)]
    started = time.perf_counter()
    finished = subprocess.run(
        [*command, "--output", str(output), *options],
        env={**os.environ, **environment},
        capture_output=True,
        text=True,
        timeout=1800,
    )
    wall = time.perf_counter() - started
    if finished.returncode != 0:
        raise SystemExit(f"{options} failed:\n{finished.stdout[-3000:]}")
    return _result(output, wall)


def run_roles(job, output, secured, certs):
    """A chief and one worker started by hand; with a token and TLS if
    `secured`."""
    address = f"127.0.0.1:{cluster.free_port()}"
    command = [sys.executable, "-m", "cnnrnn.cli", "tune", str(job)]
    command += ["--output", str(output), "--oracle", address]
    chief, worker = ["--role", "chief"], ["--role", "worker", "--worker-id", "w0"]
    if secured:
        chief += ["--token", "benchmark", "--tls-cert", str(certs["cert"])]
        chief += ["--tls-key", str(certs["key"])]
        worker += ["--token", "benchmark", "--tls-ca", str(certs["ca"])]
    started = time.perf_counter()
    with tempfile.TemporaryFile("w+") as log:
        processes = [
            subprocess.Popen([*command, *options], stdout=log, stderr=log)
            for options in (chief, worker)
        ]
        codes = [process.wait(timeout=1800) for process in processes]
        wall = time.perf_counter() - started
        if any(codes):
            log.seek(0)
            raise SystemExit(f"secured={secured} failed:\n{log.read()[-3000:]}")
    return _result(output, wall)


def _result(output, wall):
    times = json.loads((output / "trial_times.json").read_text())
    begin = min(t["started_at"] for t in times.values())
    end = max(t["started_at"] + t["seconds"] for t in times.values())
    span = end - begin
    return {
        "trials": len(times),
        "wall_seconds": round(wall, 2),
        "search_seconds": round(span, 2),
        "trials_per_minute": round(60 * len(times) / span, 2),
        "mean_trial_seconds": round(
            statistics.mean(t["seconds"] for t in times.values()), 2
        ),
        "workers": sorted({t["worker"] or "alone" for t in times.values()}),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--size", choices=sorted(SIZES), default="small")
    parser.add_argument("--work-dir", type=pathlib.Path)
    parser.add_argument("--setups", default=",".join(SETUPS))
    parser.add_argument(
        "--output",
        type=pathlib.Path,
    )
    args = parser.parse_args()
    results = pathlib.Path(__file__).parent / "results"
    args.output = args.output or results / f"distributed_search_{args.size}.json"
    work = args.work_dir or pathlib.Path(tempfile.mkdtemp(prefix="cnnrnn-dist-"))
    job = make_job(work, args.trials, args.size)
    certs = certificates.make_certificates(work / "certs", [])
    load_before = os.getloadavg()[0]
    setups = {name: SETUPS[name] for name in args.setups.split(",")}
    runs = {name: [] for name in setups}
    for repeat in range(args.repeats):
        for name, (options, environment) in setups.items():
            folder = work / f"{name}-{repeat}"
            if options == "roles":
                result = run_roles(job, folder, environment, certs)
            else:
                result = run(job, folder, options, environment)
            runs[name].append(result)
            print(name, repeat, json.dumps(result), flush=True)
    median = {
        name: {
            key: round(statistics.median(r[key] for r in results), 2)
            for key in ("trials_per_minute", "search_seconds", "wall_seconds")
        }
        for name, results in runs.items()
    }
    rate = {name: m["trials_per_minute"] for name, m in median.items()}
    report = {
        "cpu_cores": os.cpu_count(),
        "size": args.size,
        "units": SIZES[args.size][0],
        "reviews": SIZES[args.size][1],
        "trials": args.trials,
        "repeats": args.repeats,
        "load_average_start": round(load_before, 2),
        "load_average_end": round(os.getloadavg()[0], 2),
        "runs": runs,
        "median": median,
    }
    for baseline in ("workers_1", "alone"):
        if baseline in rate:
            report[f"trials_per_minute_ratio_to_{baseline}"] = {
                name: round(r / rate[baseline], 3) for name, r in rate.items()
            }
    if {"chief_worker_plain", "chief_worker_tls_token"} <= set(rate):
        report["tls_token_ratio_to_plain"] = round(
            rate["chief_worker_tls_token"] / rate["chief_worker_plain"], 3
        )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps({k: report[k] for k in list(report)[-2:]}, indent=2))


if __name__ == "__main__":
    main()
