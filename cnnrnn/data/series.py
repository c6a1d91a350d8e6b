"""Time series: a CSV/TSV of numeric columns (or a `.npy` array) -> forecast windows."""

import csv
import datetime
import itertools
import math
import pathlib

import numpy as np
import tensorflow as tf

from cnnrnn.data.common import DataSplits
from cnnrnn.data.options import check_choice, check_positive_int, check_split_fractions
from cnnrnn.errors import DataError

# Column names read as the time column by `time_column="auto"`.
TIME_COLUMN_NAMES = ("time", "timestamp", "date", "datetime", "ds")
MISSING = ("refuse", "interpolate")
# The seasonal period `season="auto"` picks needs at least this autocorrelation.
MIN_SEASONAL_AUTOCORRELATION = 0.3


def load_series(
    source,
    *,
    target_columns=None,
    time_column="auto",
    columns=None,
    lookback=48,
    horizon=12,
    stride=1,
    season="auto",
    missing="refuse",
    batch_size=64,
    validation_split=0.15,
    test_split=0.15,
    seed=1337,
):
    """Loads a time series as windows of `lookback` steps and the next `horizon`.

    The source is a CSV (`,`) or TSV (`.tsv`, tab) file with a header row, or
    a `.npy` array `(steps,)` or `(steps, columns)` (columns named `"0"`,
    `"1"`, ...). Rows are time steps in order. A time column (parsed as ISO
    dates and times) must be increasing; gaps (steps longer than the usual
    one) are counted. Every other column is a numeric feature; the target
    columns are also forecast. The rows are split in time order: the first
    part trains, the next validates, the last tests (each window's targets lie
    inside its part; its lookback may reach into the part before). Only the
    training rows give the normalisation statistics.

    Args:
        source: str or path. The file.
        target_columns: None (the first numeric column), a column name or
            position, or a list of them. Defaults to None.
        time_column: `"auto"` (a column named like `TIME_COLUMN_NAMES`, if
            any), a column name, or None for none. Defaults to `"auto"`.
        columns: list of str or None. The numeric columns to read, in this
            order (a trained model's, to read new files like its own), or
            None for every column but the time column. Defaults to None.
        lookback: int. Steps the model sees, at least 2. Defaults to 48.
        horizon: int. Steps it forecasts, at least 1. Defaults to 12.
        stride: int. Steps between two training windows. Defaults to 1.
        season: `"auto"` or int. The seasonal period of the seasonal-naive
            forecast that MASE compares with: `"auto"` takes the lag (2 to
            `lookback`) of highest autocorrelation of the first target on the
            training rows, if at least `MIN_SEASONAL_AUTOCORRELATION`, else 1
            (the last value). Defaults to `"auto"`.
        missing: `"refuse"` (empty or NaN cells are an error) or
            `"interpolate"` (filled linearly in time, and counted). Defaults
            to `"refuse"`.
        batch_size: int. Defaults to 64.
        validation_split: float. Fraction of the rows for validation.
        test_split: float. Fraction of the rows for the test.
        seed: int. Seed of the training shuffle. Defaults to 1337.

    Returns:
        A `DataSplits` of `(windows, targets)` batches, float32 arrays
        `(batch, lookback, num_features)` and `(batch, horizon, num_targets)`
        of raw values. `model_args` holds `lookback`, `horizon`,
        `num_features`, `target_indices`, `feature_mean` and `feature_std`;
        `info` holds `columns`, `target_columns`, `num_rows`, `season`,
        `num_gaps`, `num_filled`, `num_examples` and the time span.

    Raises:
        DataError: for a missing or unreadable file, a non-numeric cell, an
            empty or NaN cell (with `missing="refuse"`), a constant column,
            unsorted or repeated times, or too few rows for one window.

    Example:

    >>> data = load_series("load.csv", target_columns="load", lookback=168)
    >>> windows, targets = next(iter(data.train))
    """
    for name, value in (("lookback", lookback), ("horizon", horizon)):
        check_positive_int(name, value)
    check_positive_int("stride", stride)
    check_positive_int("batch_size", batch_size)
    if lookback < 2:
        raise DataError(f"data.lookback must be at least 2. Received: {lookback}.")
    check_choice("missing", missing, MISSING)
    check_split_fractions(validation_split, test_split)
    table = read_series(
        source, time_column=time_column, columns=columns, missing=missing
    )
    columns = table["columns"]
    targets = _target_indices(target_columns, columns)
    values = table["values"]
    rows = len(values)
    ends = _split_ends(rows, validation_split, test_split)
    train_rows = values[: ends[0]]
    if len(train_rows):
        mean, std = train_rows.mean(axis=0), train_rows.std(axis=0)
    else:  # evaluated whole: the model holds its own statistics
        mean, std = values.mean(axis=0), values.std(axis=0)
    if not (std > 0).all():
        column = columns[int(np.argmin(std))]
        raise DataError(
            f"'{source}': column '{column}' is constant over the training rows "
            f"(the first {ends[0]}): drop it, or lower data.validation_split and "
            "data.test_split."
        )
    auto = season == "auto"
    if auto:
        season = auto_season(
            train_rows[:, targets[0]] if len(train_rows) else values[:, targets[0]],
            lookback,
        )
    else:
        check_positive_int("season", season)
    if season > lookback:
        raise DataError(
            f"data.season ({season}) is longer than data.lookback ({lookback}): "
            "the seasonal-naive forecast repeats the last season of a window, so "
            "raise data.lookback to at least the season, or lower data.season."
        )
    datasets, counts, starts = {}, {}, 0
    for split, end in zip(("train", "validation", "test"), ends, strict=True):
        if end == starts:
            datasets[split], starts = None, end
            continue
        windows, future = make_windows(
            values,
            targets,
            lookback,
            horizon,
            first_target=max(starts, lookback),
            end=end,
            stride=stride if split == "train" else 1,
        )
        if not len(windows):
            raise DataError(
                f"'{source}': the {split} part ({end - starts} of {rows} rows) is "
                f"too short for one window of lookback {lookback} + horizon "
                f"{horizon}: lower data.lookback or data.horizon, change the "
                "splits, or give more rows."
            )
        dataset = tf.data.Dataset.from_tensor_slices((windows, future))
        if split == "train":
            dataset = dataset.shuffle(
                len(windows), seed=seed, reshuffle_each_iteration=True
            )
        datasets[split] = dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE)
        counts[split] = len(windows)
        starts = end
    info = {
        "source": str(source),
        "columns": columns,
        "target_columns": [columns[i] for i in targets],
        "num_rows": rows,
        "season": int(season),
        "num_gaps": table["num_gaps"],
        "num_filled": table["num_filled"],
        "num_examples": counts,
        **table["time"],
        **({"chosen": {"season": int(season)}} if auto else {}),
    }
    return DataSplits(
        train=datasets["train"],
        validation=datasets["validation"],
        test=datasets["test"],
        model_args={
            "lookback": lookback,
            "horizon": horizon,
            "num_features": len(columns),
            "target_indices": targets,
            "feature_mean": [float(m) for m in mean],
            "feature_std": [float(s) for s in std],
        },
        info=info,
    )


def read_series(source, *, time_column="auto", columns=None, missing="refuse"):
    """Reads a series file: its numeric columns, checked, and its time facts.

    Returns:
        A dict with `columns` (names), `values` (float32 array `(rows,
        columns)`), `times` (list of `datetime` or None), `time_step` (the
        usual `timedelta` between rows, or None), `time` (a dict of
        `time_column`, `first_time`, `last_time` and `time_step`, empty
        without a time column), `num_gaps` and `num_filled`.

    Raises:
        DataError: see `load_series`.
    """
    path = pathlib.Path(source)
    if not path.is_file():
        raise DataError(
            f"Series file '{source}' not found: pass a CSV/TSV file with a header "
            "row, or a .npy array."
        )
    if path.suffix == ".npy":
        header, cells = _read_npy(path)
    else:
        header, cells = _read_table(path)
    time_index = _time_index(time_column, header, path)
    order = [i for i in range(len(header)) if i != time_index]
    if columns is not None:
        numeric = {header[i]: i for i in reversed(order)}  # the first of a name
        absent = [name for name in columns if name not in numeric]
        if absent:
            raise DataError(
                f"'{path}' lacks the column(s) {', '.join(absent)} (it has "
                f"{', '.join(header[i] for i in order)}): give a file with the "
                "columns the model was trained on."
            )
        order = [numeric[name] for name in columns]
    names = [header[i] for i in order]
    if not names:
        raise DataError(f"'{path}' has no numeric column besides its time column.")
    times = None
    if time_index is not None:
        times = [
            _parse_time(row[time_index], row_number, header[time_index], path)
            for row_number, row in enumerate(cells, start=2)
        ]
    values = np.array(
        [
            [
                _number(row[i], r, name, path)
                for i, name in zip(order, names, strict=True)
            ]
            for r, row in enumerate(cells, start=2)
        ],
        dtype=np.float64,
    ).reshape(len(cells), len(names))
    num_filled = _fill_missing(values, names, path, missing)
    for c, name in enumerate(names):
        if len(values) and values[:, c].min() == values[:, c].max():
            raise DataError(
                f"'{path}': column '{name}' is constant ({values[0, c]:g} in every "
                "row): drop it, it carries nothing to learn."
            )
    time, num_gaps, step = (
        ({}, 0, None)
        if times is None
        else _check_times(times, header[time_index], path)
    )
    return {
        "columns": names,
        "values": values.astype(np.float32),
        "times": times,
        "time_step": step,
        "time": time,
        "num_gaps": num_gaps,
        "num_filled": num_filled,
    }


def make_windows(values, targets, lookback, horizon, *, first_target, end, stride=1):
    """The windows whose `horizon` targets start at `first_target` or later
    and end by `end`: `(inputs, targets)` float32 arrays."""
    starts = np.arange(first_target, end - horizon + 1, stride)
    if not len(starts):
        width = len(values[0]) if len(values) else 0
        return (
            np.zeros((0, lookback, width), np.float32),
            np.zeros((0, horizon, len(targets)), np.float32),
        )
    inputs = np.stack([values[s - lookback : s] for s in starts])
    future = np.stack([values[s : s + horizon][:, targets] for s in starts])
    return inputs.astype(np.float32), future.astype(np.float32)


def auto_season(series, lookback):
    """The seasonal period of a series, or 1 where it shows none.

    The autocorrelation of the series' changes (first differences, so that a
    trend does not pass for a season) at lags 2 to `lookback`: the first of
    its local peaks that reaches 90% of the highest one (a season, not its
    multiples), if at least `MIN_SEASONAL_AUTOCORRELATION`, else 1.
    """
    changes = np.diff(np.asarray(series, np.float64))
    centred = changes - changes.mean()
    scale = float(np.dot(centred, centred)) or 1.0
    lags = range(1, min(lookback, len(centred) // 2) + 2)
    correlation = {
        lag: float(np.dot(centred[lag:], centred[:-lag])) / scale for lag in lags
    }
    peaks = [
        lag
        for lag in lags[1:-1]
        if correlation[lag] >= correlation[lag - 1]
        and correlation[lag] >= correlation[lag + 1]
        and correlation[lag] >= MIN_SEASONAL_AUTOCORRELATION
    ]
    if not peaks:
        return 1
    highest = max(correlation[lag] for lag in peaks)
    return next(lag for lag in peaks if correlation[lag] >= 0.9 * highest)


def seasonal_naive(windows, targets, horizon, season):
    """The seasonal-naive forecast of each window: the value one season
    before each step (repeating the last season), `(windows, horizon, T)`."""
    windows = np.asarray(windows)
    steps = np.arange(horizon)
    source = windows.shape[1] - season + steps % season
    return windows[:, source][:, :, targets]


def _read_table(path):
    delimiter = "\t" if path.suffix == ".tsv" else ","
    try:
        with path.open(newline="", encoding="utf-8") as file:
            rows = [row for row in csv.reader(file, delimiter=delimiter) if row]
    except (UnicodeDecodeError, csv.Error) as error:
        raise DataError(
            f"'{path}' is not a readable CSV/TSV file ({error}): save it as UTF-8 "
            "text with a header row."
        ) from None
    if len(rows) < 2:
        raise DataError(f"'{path}' has no data rows: give a header row and values.")
    header, cells = rows[0], rows[1:]
    for number, row in enumerate(cells, start=2):
        if len(row) != len(header):
            raise DataError(
                f"'{path}' row {number} has {len(row)} cells, the header "
                f"{len(header)}: fix the row."
            )
    return header, cells


def _read_npy(path):
    try:
        array = np.load(path, allow_pickle=False)
    except ValueError as error:
        raise DataError(f"'{path}' is not a readable .npy array ({error}).") from None
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2 or not np.issubdtype(array.dtype, np.number):
        raise DataError(
            f"'{path}' holds a {array.dtype} array of shape {array.shape}: save a "
            "numeric array (steps,) or (steps, columns)."
        )
    return [str(i) for i in range(array.shape[1])], array.tolist()


def _time_index(time_column, header, path):
    if time_column is None:
        return None
    if time_column == "auto":
        lowered = [name.strip().lower() for name in header]
        found = [i for i, name in enumerate(lowered) if name in TIME_COLUMN_NAMES]
        return found[0] if found else None
    if time_column not in header:
        raise DataError(
            f"'{path}' has no time column '{time_column}'. Its columns: "
            f"{', '.join(header)}. Set data.time_column to one of them, or to none."
        )
    return header.index(time_column)


def _parse_time(text, row, column, path):
    try:
        return datetime.datetime.fromisoformat(str(text).strip())
    except ValueError:
        raise DataError(
            f"'{path}' row {row}, column '{column}': '{text}' is not an ISO date or "
            "time (e.g. 2024-01-31 or 2024-01-31T12:00): fix it, or set "
            "data.time_column to another column or none."
        ) from None


def _number(cell, row, column, path):
    if isinstance(cell, int | float):
        return cell
    text = cell.strip()
    if text == "" or text.lower() in ("nan", "na", "null"):
        return math.nan
    try:
        return float(text)
    except ValueError:
        raise DataError(
            f"'{path}' row {row}, column '{column}': '{cell}' is not a number: fix "
            "the cell, or drop the column."
        ) from None


def _fill_missing(values, names, path, missing):
    """Interpolates NaN cells in place (or refuses them); returns their count."""
    empty = np.isnan(values)
    count = int(empty.sum())
    if not count:
        return 0
    if missing == "refuse":
        row, column = np.argwhere(empty)[0]
        raise DataError(
            f"'{path}' has {count} empty or NaN cell(s), the first in row {row + 2}, "
            f"column '{names[column]}': fill them, or set "
            "data.missing='interpolate'."
        )
    steps = np.arange(len(values))
    for c in range(values.shape[1]):
        known = ~empty[:, c]
        if not known.any():
            raise DataError(f"'{path}': column '{names[c]}' has no value at all.")
        values[~known, c] = np.interp(steps[~known], steps[known], values[known, c])
    return count


def _check_times(times, column, path):
    steps = [after - before for before, after in itertools.pairwise(times)]
    for row, (before, after) in enumerate(itertools.pairwise(times), start=3):
        if after == before:
            raise DataError(
                f"'{path}' row {row}: time {after} repeats the row before: keep one "
                "row per time step."
            )
        if after < before:
            raise DataError(
                f"'{path}' row {row}: time {after} comes before {before}: sort the "
                f"file by its '{column}' column."
            )
    usual = max(set(steps), key=steps.count) if steps else None
    gaps = sum(step > usual for step in steps) if steps else 0
    time = {
        "time_column": column,
        "first_time": times[0].isoformat() if times else None,
        "last_time": times[-1].isoformat() if times else None,
        "time_step": str(usual) if usual else None,
    }
    return time, gaps, usual


def _target_indices(target_columns, columns):
    if target_columns is None:
        return [0]
    wanted = target_columns if isinstance(target_columns, list) else [target_columns]
    indices = []
    for target in wanted:
        if isinstance(target, int) and not isinstance(target, bool):
            if not 0 <= target < len(columns):
                raise DataError(
                    f"data.target_columns: position {target} is out of range: "
                    f"the numeric columns are {', '.join(columns)}."
                )
            indices.append(target)
        elif target in columns:
            indices.append(columns.index(target))
        else:
            raise DataError(
                f"data.target_columns: no column '{target}'. Numeric columns: "
                f"{', '.join(columns)}."
            )
    return indices


def _split_ends(rows, validation_split, test_split):
    """Row indices where the train, validation and test parts end."""
    test = round(rows * test_split)
    validation = round(rows * validation_split)
    return [rows - test - validation, rows - test, rows]
