"""Timing shared by the benchmark scripts."""

import os
import platform
import statistics
import time


def timed(function, repeats):
    """Runs `function` `repeats` times: `(median seconds, last result)`."""
    seconds, result = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        result = function()
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds), result


def machine():
    """The machine the figures come from: the CPU's model name (the
    architecture where `/proc/cpuinfo` is absent), cores and AVX-512."""
    cpuinfo = "/proc/cpuinfo"
    text = open(cpuinfo).read() if os.path.exists(cpuinfo) else ""
    names = [
        line.split(":", 1)[1].strip()
        for line in text.splitlines()
        if line.startswith("model name")
    ]
    return {
        "cpu": names[0] if names else platform.machine(),
        "cores": os.cpu_count(),
        "avx512": "avx512f" in text if text else None,
    }
