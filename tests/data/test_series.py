"""Time-series loading: windows, time-ordered splits, statistics, clear errors."""

import numpy as np
import pytest

from cnnrnn.data.series import auto_season, load_series, seasonal_naive
from cnnrnn.errors import DataError


def write_csv(path, rows, header="time,value,other"):
    path.write_text(header + "\n" + "\n".join(rows) + "\n")
    return path


def hourly(count, value=lambda i: i, other=lambda i: i % 7):
    return [
        f"2024-01-{1 + i // 24:02d}T{i % 24:02d}:00,{value(i)},{other(i)}"
        for i in range(count)
    ]


def test_windows_shapes_and_time_ordered_splits(tmp_path):
    path = write_csv(tmp_path / "s.csv", hourly(100))
    data = load_series(path, lookback=5, horizon=2, batch_size=200)
    windows, targets = next(iter(data.validation))
    assert windows.shape[1:] == (5, 2) and targets.shape[1:] == (2, 1)
    # Validation rows 70..84: the first target is row 70, its lookback rows 65..69.
    assert windows[0, :, 0].numpy().tolist() == [65, 66, 67, 68, 69]
    assert targets[0, :, 0].numpy().tolist() == [70, 71]
    train = np.concatenate([t.numpy() for _, t in data.train])
    assert train.max() < 70  # no training target reaches into validation
    test_windows, _ = next(iter(data.test))
    assert test_windows.numpy()[:, :, 0].min() >= 80
    assert data.info["num_examples"] == {"train": 64, "validation": 14, "test": 14}
    assert data.info["time_column"] == "time"
    assert data.info["time_step"] == "1:00:00"
    assert data.info["target_columns"] == ["value"]
    assert data.info["chosen"] == {"season": data.info["season"]}


def test_statistics_come_from_the_training_rows_only(tmp_path):
    values = [0.0] * 70 + [1000.0] * 30
    path = write_csv(tmp_path / "s.csv", hourly(100, value=lambda i: values[i]))
    with pytest.raises(DataError, match="'value' is constant over the training rows"):
        load_series(path, lookback=4, horizon=1)
    values[0] = 1.0  # not constant in the training part
    path = write_csv(tmp_path / "s.csv", hourly(100, value=lambda i: values[i]))
    data = load_series(path, lookback=4, horizon=1)
    assert data.model_args["feature_mean"][0] == pytest.approx(1 / 70)


def test_columns_targets_by_name_or_position_and_npy(tmp_path):
    path = write_csv(tmp_path / "s.csv", hourly(60))
    data = load_series(path, target_columns=["other", 0], lookback=4, horizon=3)
    assert data.model_args["target_indices"] == [1, 0]
    _, targets = next(iter(data.train))
    assert targets.shape[1:] == (3, 2)
    np.save(tmp_path / "s.npy", np.stack([np.arange(50.0), np.arange(50.0) % 3], 1))
    array = load_series(tmp_path / "s.npy", lookback=4, horizon=1)
    assert array.info["columns"] == ["0", "1"] and "time_column" not in array.info
    reordered = load_series(path, columns=["other", "value"], lookback=4, horizon=1)
    assert reordered.info["columns"] == ["other", "value"]


def test_missing_cells_are_refused_or_interpolated_and_counted(tmp_path):
    rows = hourly(50)
    rows[10] = rows[10].replace(",10,", ",,")
    path = write_csv(tmp_path / "s.csv", rows)
    with pytest.raises(DataError, match=r"1 empty or NaN.*row 12, column 'value'"):
        load_series(path, lookback=4, horizon=1)
    data = load_series(path, lookback=4, horizon=1, missing="interpolate")
    assert data.info["num_filled"] == 1


def test_gaps_in_time_are_counted(tmp_path):
    rows = hourly(60)
    del rows[20:23]
    data = load_series(write_csv(tmp_path / "s.csv", rows), lookback=4, horizon=1)
    assert data.info["num_gaps"] == 1


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda rows: rows.__setitem__(5, rows[5].replace(",5,", ",abc,")),
         r"row 7, column 'value': 'abc' is not a number"),
        (lambda rows: rows.__setitem__(5, rows[4]), r"row 7: time .* repeats"),
        (lambda rows: rows.__setitem__(5, rows[2]), r"row 7: time .* comes before"),
        (lambda rows: rows.__setitem__(5, "yesterday" + rows[5][16:]),
         r"row 7, column 'time': 'yesterday' is not an ISO date"),
    ],
)  # fmt: skip
def test_bad_cells_and_times_are_one_line_errors_naming_the_row(
    tmp_path, edit, message
):
    rows = hourly(40)
    edit(rows)
    with pytest.raises(DataError, match=message):
        load_series(write_csv(tmp_path / "s.csv", rows), lookback=4, horizon=1)


def test_constant_column_too_few_rows_and_unknown_target(tmp_path):
    constant = write_csv(tmp_path / "c.csv", hourly(40, other=lambda i: 3))
    with pytest.raises(DataError, match="column 'other' is constant"):
        load_series(constant, lookback=4, horizon=1)
    short = write_csv(tmp_path / "short.csv", hourly(30))
    with pytest.raises(DataError, match="too short for one window.*lower data.lookb"):
        load_series(short, lookback=8, horizon=5)
    with pytest.raises(DataError, match="no column 'price'. Numeric columns: value"):
        load_series(short, target_columns="price", lookback=2, horizon=1)
    with pytest.raises(DataError, match="not found"):
        load_series(tmp_path / "absent.csv")


def test_auto_season_and_seasonal_naive():
    steps = np.arange(400)
    assert auto_season(np.sin(2 * np.pi * steps / 24), lookback=48) == 24
    assert auto_season(np.random.default_rng(0).normal(size=400), lookback=48) == 1
    trend = 0.5 * steps + np.random.default_rng(0).normal(size=400)
    assert auto_season(trend, lookback=48) == 1  # a trend is no season
    assert auto_season(trend + 3 * np.sin(2 * np.pi * steps / 12), lookback=48) == 12
    windows = np.arange(10.0).reshape(1, 10, 1)
    assert seasonal_naive(windows, [0], horizon=5, season=3)[0, :, 0].tolist() == [
        7, 8, 9, 7, 8,
    ]  # fmt: skip
    assert seasonal_naive(windows, [0], horizon=2, season=1)[0, :, 0].tolist() == [
        9, 9,
    ]  # fmt: skip


def test_a_season_longer_than_the_lookback_is_refused(tmp_path):
    path = write_csv(tmp_path / "s.csv", hourly(100))
    with pytest.raises(DataError, match=r"data.season \(52\) is longer than"):
        load_series(path, lookback=24, horizon=1, season=52)
