"""Timing shared by the benchmark scripts."""

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
