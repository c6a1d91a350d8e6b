"""What the test suite costs: wall and CPU seconds per stage, the slowest files.

Runs the stages of `.ci/run` (the README's test command) one after the other
in this environment, each with a JUnit report, and writes JSON with, per
stage: wall seconds, CPU seconds of the stage's processes (user + system, all
workers and subprocesses), the number of tests and the `--top` slowest files
and tests by the time pytest measured. `cpu_per_wall` tells how well the two
workers kept both cores busy. Timing never decides pass/fail.

Usage:
    python benchmarks/suite_time.py [--stages tensorflow,torch,jax] [--top 15]
        [--output benchmarks/results/suite_time.json] [-- PYTEST_ARGS...]
"""

import argparse
import collections
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET

from timing import machine

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
JAX_FILES = [  # the jax stage of .ci/run
    "tests/models/test_backend_parity.py",
    "tests/test_devices_backends.py",
    "tests/test_classification.py",
]
STAGES = {
    "tensorflow": ({}, []),
    "torch": ({"KERAS_BACKEND": "torch"}, []),
    "jax": ({"KERAS_BACKEND": "jax"}, JAX_FILES),
}


def children_cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def read_junit(path):
    """`[(file, test name, seconds)]` from a pytest JUnit XML report."""
    found = []
    for case in ET.parse(path).getroot().iter("testcase"):
        file = test_file(case.get("classname", ""))
        found.append((file, case.get("name"), float(case.get("time") or 0)))
    return found


def test_file(classname):
    """The file of a JUnit `classname`: `tests.test_x` or `tests.test_x.TestY`."""
    parts = classname.split(".")
    for end in range(len(parts), 0, -1):
        file = "/".join(parts[:end]) + ".py"
        if os.path.isfile(os.path.join(ROOT, file)):
            return file
    return classname


def run_stage(name, extra_args, top):
    env_overrides, files = STAGES[name]
    with tempfile.TemporaryDirectory() as scratch:
        report = os.path.join(scratch, "junit.xml")
        command = [sys.executable, "-m", "pytest", "-q", f"--junitxml={report}"]
        cpu, started = children_cpu_seconds(), time.perf_counter()
        result = subprocess.run(
            [*command, *files, *extra_args],
            cwd=ROOT,
            env={**os.environ, **env_overrides},
            capture_output=True,
            text=True,
        )
        wall = time.perf_counter() - started
        cpu = children_cpu_seconds() - cpu
        cases = read_junit(report) if os.path.exists(report) else []
    by_file = collections.Counter()
    for file, _, seconds in cases:
        by_file[file] += seconds
    slowest = sorted(cases, key=lambda case: -case[2])[:top]
    return {
        "exit_code": result.returncode,
        # pytest's last line, or the error of a stage that could not start.
        "summary": (
            result.stdout.strip().splitlines()
            or result.stderr.strip().splitlines()
            or [""]
        )[-1],
        "wall_seconds": round(wall, 1),
        "cpu_seconds": round(cpu, 1),
        "cpu_per_wall": round(cpu / wall, 2) if wall else None,
        "tests": len(cases),
        "test_seconds": round(sum(seconds for *_, seconds in cases), 1),
        "slowest_files": [
            {"file": file, "seconds": round(seconds, 1)}
            for file, seconds in by_file.most_common(top)
        ],
        "slowest_tests": [
            {"test": f"{file}::{name}", "seconds": round(seconds, 1)}
            for file, name, seconds in slowest
        ],
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--stages", default="tensorflow,torch,jax")
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--output", default="benchmarks/results/suite_time.json")
    parser.add_argument("pytest_args", nargs="*", help="passed on to pytest")
    args = parser.parse_args()
    stages = [stage.strip() for stage in args.stages.split(",") if stage.strip()]
    unknown = sorted(set(stages) - set(STAGES))
    if unknown:
        parser.error(
            f"unknown stage(s) {', '.join(unknown)}: expected {', '.join(STAGES)}"
        )
    results = {}
    for stage in stages:
        results[stage] = run_stage(stage, args.pytest_args, args.top)
        print(f"{stage}: {results[stage]['wall_seconds']} s wall, "
              f"{results[stage]['cpu_seconds']} s CPU, {results[stage]['summary']}",
              flush=True)  # fmt: skip
    report = {
        "machine": machine(),
        "total_wall_seconds": round(
            sum(r["wall_seconds"] for r in results.values()), 1
        ),
        "stages": results,
    }
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    with open(args.output, "w") as file:
        json.dump(report, file, indent=2)
    print(json.dumps({k: v for k, v in report.items() if k != "stages"}, indent=2))


if __name__ == "__main__":
    main()
