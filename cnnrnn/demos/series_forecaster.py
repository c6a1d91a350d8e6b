"""Demo data of the series forecaster: an hourly load with two seasons."""

import datetime
import pathlib

import numpy as np

from cnnrnn.data.options import check_positive_int
from cnnrnn.demos.common import staging_folder

SERIES_DEMO_FILE = "load.csv"
_START = datetime.datetime(2024, 1, 1)


def write_series_demo(directory, *, num_steps=2400, seed=0):
    """Writes a generated hourly series: a trend, two seasons and noise.

    `load.csv` has a `time` column (hourly ISO times from 2024-01-01), the
    target `load` (a slow trend, a daily and a weekly season, and AR(1)
    noise) and a `temperature` feature (a daily cycle shifted by a few hours,
    which the load partly follows). The same seed writes an identical file.

    The file is written in a temporary sibling folder which is then renamed,
    so `directory` is either complete or absent.

    Args:
        directory: str or path. Folder to create; it must be absent or empty.
        num_steps: int. Hours of the series. Defaults to 2400 (100 days).
        seed: int. Seed of the noise. Defaults to 0.

    Returns:
        The folder as a `pathlib.Path`, holding `SERIES_DEMO_FILE`.

    Raises:
        DataError: if `directory` exists and is not an empty folder, or an
            option is invalid.

    Example:

    >>> path = write_series_demo("load")
    >>> data = cnnrnn.data.series.load_series(path / "load.csv", lookback=48)
    """
    check_positive_int("num_steps", num_steps)
    directory = pathlib.Path(directory)
    rng = np.random.default_rng(seed)
    hours = np.arange(num_steps)
    daily = 2 * np.pi * hours / 24
    weekly = 2 * np.pi * hours / (24 * 7)
    temperature = 12 + 6 * np.sin(daily - 2.0) + rng.normal(0, 0.8, num_steps)
    noise = np.zeros(num_steps)
    for step in range(1, num_steps):
        noise[step] = 0.7 * noise[step - 1] + rng.normal(0, 1.5)
    load = (
        100
        + 0.01 * hours
        + 12 * np.sin(daily)
        + 4 * np.sin(2 * daily)
        + 8 * np.sin(weekly)
        - 0.8 * (temperature - 12)
        + noise
    )
    lines = ["time,load,temperature"]
    for hour, value, degrees in zip(hours, load, temperature, strict=True):
        time = _START + datetime.timedelta(hours=int(hour))
        lines.append(f"{time.isoformat()},{value:.2f},{degrees:.1f}")
    with staging_folder(directory) as staging:
        (staging / SERIES_DEMO_FILE).write_text(
            "\n".join(lines) + "\n", encoding="utf-8"
        )
    return directory
