"""The series forecaster against seasonal naive and a linear autoregression.

Issue 22's bar: on the demo and on real series, a test MASE below 1 (better
than the seasonal-naive forecast) and a lower test MAE than a linear
autoregressive baseline fitted on the same lookback.

Each series is trained with `cnnrnn`'s defaults for real data (what
`cnnrnn train series-forecaster --data FILE` gives, `data.source` passed so
the demo's shorter training does not apply) with the data options below, on
`--seeds` training seeds, and scored on its held-out test split (the last 15%
of the rows) by `training.evaluate_run` (MAE, RMSE, MASE). The baseline is
scikit-learn's `Ridge` on the same windows: every column of the `lookback`
steps, flattened and standardised on the training windows, to the
`horizon` targets at once; `alpha` is the one of `RIDGE_ALPHAS` with the
lowest validation MAE (fitted on the training windows only). Both are scored
on the same test windows; MASE divides by the seasonal-naive MAE of those
windows (the run's `data_info["season"]`).

Series (the real ones read from the CSV files statsmodels installs, so
nothing is downloaded; skipped with a message if statsmodels is absent):

- demo: `write_series_demo` (2,400 hourly steps, target `load`, feature
  `temperature`), the app's defaults (lookback 48, horizon 12, season auto).
- sunspots: yearly sunspot numbers 1700-2008 (309 rows), lookback 24,
  horizon 4, season auto (the ~11-year cycle).
- co2: weekly Mauna Loa CO2 1958-2001 (2,284 rows, 59 missing weeks
  interpolated), lookback 104 (two years), horizon 12, season 52 (given:
  `season="auto"` finds no yearly peak in the noisy weekly changes of this
  trending series; its pick is in the results as `season_auto`).
- elnino: monthly Pacific sea surface temperature 1950-2010 (732 rows),
  lookback 24, horizon 6, season auto (12).

Two cnnrnn variants run on every series (`VARIANTS`): the defaults (LSTM of
64 units on windows relative to their last step with a linear skip, Adam at
1e-3, 40 epochs, cosine decay, early stopping), and
`model.rnn_type="gru"` with `model.learning_rate=0.01`, the best of the
options a user could set found by trying `--set` on these series (units 1 to
128, num_layers 2, dropout 0 to 0.3, weight_decay, 100 epochs, lookback).

Writes JSON and a markdown table (per series and variant: cnnrnn's MAE per
seed and the means of MAE and MASE, Ridge's MAE and MASE, the seasonal-naive
MAE, cnnrnn MAE / Ridge MAE and the training time on this machine).
`--set SECTION.OPTION=VALUE` (repeatable) runs one variant with those
options instead, for trying what a user could set.

Usage:
    python benchmarks/forecasting.py [--series demo,sunspots,co2,elnino]
        [--seeds 3] [--variants defaults,gru-lr0.01]
        [--set SECTION.OPTION=VALUE ...]
        [--output benchmarks/results/forecasting.json]
"""

import argparse
import csv
import json
import os
import pathlib
import statistics
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
from real_data import train_and_test  # noqa: E402
from timing import machine  # noqa: E402

from cnnrnn import apps, training  # noqa: E402
from cnnrnn.cli import _parse_sets  # noqa: E402 - the CLI's --set, exactly
from cnnrnn.data.series import auto_season, read_series, seasonal_naive  # noqa: E402
from cnnrnn.demos.series_forecaster import write_series_demo  # noqa: E402

APP = "series-forecaster"
RIDGE_ALPHAS = (0.01, 0.1, 1.0, 10.0, 100.0, 1000.0)
MONTHS = "JAN FEB MAR APR MAY JUN JUL AUG SEP OCT NOV DEC".split()


def statsmodels_datasets():
    """The folder of statsmodels' bundled datasets, or None if absent."""
    try:
        import statsmodels
    except ImportError:
        return None
    return pathlib.Path(statsmodels.__file__).parent / "datasets"


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as file:
        return list(csv.DictReader(file))


def write_csv(path, column, rows):
    """Writes `(iso time, value)` rows as a `time,<column>` CSV."""
    lines = [f"time,{column}"] + [f"{time},{value}" for time, value in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def demo_file(tmp):
    return write_series_demo(tmp / "demo") / "load.csv"


def sunspots_file(tmp, datasets):
    rows = read_csv(datasets / "sunspots" / "sunspots.csv")
    return write_csv(
        tmp / "sunspots.csv",
        "sunactivity",
        [(f"{int(float(r['YEAR'])):04d}-01-01", r["SUNACTIVITY"]) for r in rows],
    )


def co2_file(tmp, datasets):
    rows = read_csv(datasets / "co2" / "co2.csv")
    return write_csv(
        tmp / "co2.csv",
        "co2",
        [(f"{r['date'][:4]}-{r['date'][4:6]}-{r['date'][6:]}", r["co2"]) for r in rows],
    )


def elnino_file(tmp, datasets):
    rows = read_csv(datasets / "elnino" / "elnino.csv")
    return write_csv(
        tmp / "elnino.csv",
        "temperature",
        [
            (f"{int(float(r['YEAR']))}-{month:02d}-01", r[name])
            for r in rows
            for month, name in enumerate(MONTHS, start=1)
        ],
    )


# name: (description, writer of its CSV, data options, needs statsmodels)
SERIES = {
    "demo": (
        "generated hourly load (write_series_demo), target load + temperature",
        demo_file,
        {"target_columns": "load"},
        False,
    ),
    "sunspots": (
        "yearly sunspot numbers 1700-2008 (statsmodels)",
        sunspots_file,
        {"lookback": 24, "horizon": 4},
        True,
    ),
    "co2": (
        "weekly Mauna Loa CO2 1958-2001, missing weeks interpolated (statsmodels)",
        co2_file,
        {"lookback": 104, "horizon": 12, "season": 52, "missing": "interpolate"},
        True,
    ),
    "elnino": (
        "monthly Pacific sea surface temperature 1950-2010 (statsmodels)",
        elnino_file,
        {"lookback": 24, "horizon": 6},
        True,
    ),
}


# cnnrnn's options per variant: the defaults, and the best of the options a
# user could set found on these series (see the module docstring).
VARIANTS = {
    "defaults": {},
    "gru-lr0.01": {"model": {"rnn_type": "gru", "learning_rate": 0.01}},
}


def arrays(dataset):
    """Every `(windows, targets)` batch of a split, concatenated."""
    windows, targets = zip(*dataset.as_numpy_iterator(), strict=True)
    return np.concatenate(windows), np.concatenate(targets)


def ridge_baseline(config):
    """Ridge on the run's own windows; returns its and seasonal naive's
    test errors."""
    from sklearn.linear_model import Ridge
    from sklearn.preprocessing import StandardScaler

    splits = training.load_splits(apps.get_app(APP), config)
    (x_train, y_train), (x_val, y_val), (x_test, y_test) = (
        arrays(splits.train),
        arrays(splits.validation),
        arrays(splits.test),
    )
    scaler = StandardScaler().fit(x_train.reshape(len(x_train), -1))

    def flat(windows):
        return scaler.transform(windows.reshape(len(windows), -1))

    fits = []
    for alpha in RIDGE_ALPHAS:
        ridge = Ridge(alpha=alpha).fit(flat(x_train), y_train.reshape(len(y_train), -1))
        error = np.abs(ridge.predict(flat(x_val)) - y_val.reshape(len(y_val), -1))
        fits.append((float(error.mean()), alpha, ridge))
    _, alpha, ridge = min(fits, key=lambda fit: fit[0])
    forecast = ridge.predict(flat(x_test)).reshape(y_test.shape)
    model = config["model_from_data"]
    naive = seasonal_naive(
        x_test,
        model["target_indices"],
        model["horizon"],
        config["data_info"]["season"],
    )
    naive_mae = float(np.abs(naive - y_test).mean())
    ridge_mae = float(np.abs(forecast - y_test).mean())
    return {
        "ridge_alpha": alpha,
        "ridge_mae": ridge_mae,
        "ridge_rmse": float(np.sqrt(((forecast - y_test) ** 2).mean())),
        "ridge_mase": ridge_mae / naive_mae,
        "naive_mae": naive_mae,
        "test_windows": len(x_test),
    }


def variant_runs(run_dir, data, seeds, sections):
    """Trains one variant (sections of options) on every seed."""
    data = {**data, **sections.get("data", {})}
    sections = {key: value for key, value in sections.items() if key != "data"}
    return [
        train_and_test(APP, run_dir / str(seed), data=data, seed=seed, **sections)
        for seed in seeds
    ]


def summary(runs, baseline):
    """One variant's figures over its seeds."""
    maes = [run["test"]["mae"] for run in runs]
    return {
        "mae_per_seed": maes,
        "mase_per_seed": [run["test"]["mase"] for run in runs],
        "rmse_per_seed": [run["test"]["rmse"] for run in runs],
        "mae": statistics.mean(maes),
        "mase": statistics.mean(run["test"]["mase"] for run in runs),
        "rmse": statistics.mean(run["test"]["rmse"] for run in runs),
        "ratio_to_ridge_mae": statistics.mean(maes) / baseline["ridge_mae"],
        "train_seconds_per_seed": [round(run["seconds"], 1) for run in runs],
        "train_seconds": round(statistics.mean(run["seconds"] for run in runs), 1),
        "epochs_run": [run["epochs"] for run in runs],
    }


def auto_season_of(config):
    """The season `season="auto"` would pick for this run's data."""
    data = config["data"]
    table = read_series(
        data["source"], time_column=data["time_column"], missing=data["missing"]
    )
    target = table["columns"].index(config["data_info"]["target_columns"][0])
    rows = len(table["values"])
    train_rows = (
        rows - round(rows * data["validation_split"]) - round(rows * data["test_split"])
    )
    return auto_season(table["values"][:train_rows, target], data["lookback"])


def benchmark(name, tmp, datasets, seeds, variants):
    description, write, data, needs_statsmodels = SERIES[name]
    if needs_statsmodels and datasets is None:
        message = "skipped: statsmodels is absent (pip install statsmodels)"
        print(f"{name}: {message}")
        return message
    source = write(tmp, datasets) if needs_statsmodels else write(tmp)
    data = {**data, "source": str(source)}
    runs = {
        label: variant_runs(tmp / f"{name}-{number}", data, seeds, sections)
        for number, (label, sections) in enumerate(variants.items())
    }
    config = next(iter(runs.values()))[-1]["config"]
    for label, variant in runs.items():  # the baseline's windows are every one's
        assert variant[-1]["config"]["data"] == config["data"], label
    baseline = ridge_baseline(config)
    naive_from_cnnrnn = next(iter(runs.values()))[-1]["test"]["mae_seasonal_naive"]
    assert abs(naive_from_cnnrnn - baseline["naive_mae"]) < 1e-3 * max(
        1.0, baseline["naive_mae"]
    ), (naive_from_cnnrnn, baseline["naive_mae"])
    info = config["data_info"]
    row = {
        "description": description,
        "rows": info["num_rows"],
        "examples": info["num_examples"],
        "filled": info["num_filled"],
        "lookback": config["data"]["lookback"],
        "horizon": config["data"]["horizon"],
        "season": info["season"],
        "season_option": config["data"]["season"],
        "season_auto": auto_season_of(config),
        "seeds": list(seeds),
        **baseline,
        "cnnrnn": {label: summary(runs[label], baseline) for label in runs},
    }
    for label, figures in row["cnnrnn"].items():
        print(
            f"{name}, {label}: cnnrnn MAE {figures['mae']:.4g} "
            f"(MASE {figures['mase']:.3f}), Ridge MAE {row['ridge_mae']:.4g} "
            f"(MASE {row['ridge_mase']:.3f}), naive MAE {row['naive_mae']:.4g}, "
            f"{figures['train_seconds']:.0f} s",
            flush=True,
        )
    return row


def markdown(result):
    lines = [
        "| series | rows | lookback | horizon | season | cnnrnn options "
        "| cnnrnn MAE (per seed) | cnnrnn MASE | Ridge MAE | Ridge MASE "
        "| seasonal-naive MAE | cnnrnn / Ridge MAE | training time (s) |",
        "| --- | ---: | ---: | ---: | ---: | --- | --- | ---: | ---: | ---: | ---: "
        "| ---: | ---: |",
    ]
    for name, row in result["series"].items():
        if isinstance(row, str):
            lines.append(f"| {name} | {row} | | | | | | | | | | | |")
            continue
        for label, figures in row["cnnrnn"].items():
            per_seed = ", ".join(f"{mae:.4g}" for mae in figures["mae_per_seed"])
            lines.append(
                f"| {name} | {row['rows']} | {row['lookback']} | {row['horizon']} "
                f"| {row['season']} | {label} | {figures['mae']:.4g} ({per_seed}) "
                f"| {figures['mase']:.3f} | {row['ridge_mae']:.4g} "
                f"| {row['ridge_mase']:.3f} | {row['naive_mae']:.4g} "
                f"| {figures['ratio_to_ridge_mae']:.3f} "
                f"| {figures['train_seconds']:.0f} |"
            )
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", default=",".join(SERIES))
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--set", action="append", default=[], dest="sets")
    parser.add_argument(
        "--output",
        type=pathlib.Path,
        default=pathlib.Path("benchmarks/results/forecasting.json"),
    )
    args = parser.parse_args()
    seeds = range(1, args.seeds + 1)
    if args.sets:
        variants = {", ".join(args.sets): _parse_sets(args.sets)}
    else:
        variants = {name: VARIANTS[name] for name in args.variants.split(",")}
    datasets = statsmodels_datasets()
    result = {
        "benchmark": "forecasting",
        "machine": machine(),
        "seeds": len(seeds),
        "variants": variants,
        "ridge_alphas": list(RIDGE_ALPHAS),
        "series": {},
    }
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        os.environ["CNNRNN_HOME"] = str(tmp / "home")
        for name in args.series.split(","):
            result["series"][name] = benchmark(name, tmp, datasets, seeds, variants)
    result["total_seconds"] = round(time.perf_counter() - started, 1)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    args.output.with_suffix(".md").write_text(markdown(result))
    print(markdown(result))


if __name__ == "__main__":
    main()
