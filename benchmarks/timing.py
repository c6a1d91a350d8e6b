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
    """The machine the figures come from: processor, cores and AVX-512."""
    return {
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "avx512": "avx512f" in open("/proc/cpuinfo").read()
        if os.path.exists("/proc/cpuinfo")
        else None,
    }
