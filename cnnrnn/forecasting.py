"""Forecasts of a trained series forecaster: new files, MASE and a plot."""

import numpy as np

from cnnrnn import classification, runs
from cnnrnn.data import series
from cnnrnn.errors import DataError


def predict_forecasts(model, inputs, config, *, top_k=3):
    """Forecasts the `horizon` steps after the end of each series file.

    Each file is read like the training data (the same columns; `top_k` is
    unused) and its last `lookback` rows are the window.

    Returns:
        One `{"input", "predictions"}` dict per file; each prediction is a
        step: `{"step": 1, "time": ..., "<target>": value, ...}` (`time` when
        the file has a time column).
    """
    del top_k
    data, info = config["data"], config["data_info"]
    lookback = config["model_from_data"]["lookback"]
    tables = []
    for path in inputs:
        table = series.read_series(
            path,
            time_column=data["time_column"],
            columns=info["columns"],
            missing=data["missing"],
        )
        if len(table["values"]) < lookback:
            raise DataError(
                f"'{path}' has {len(table['values'])} rows: the model needs the "
                f"last {lookback} (data.lookback) to forecast."
            )
        tables.append(table)
    windows = np.stack([table["values"][-lookback:] for table in tables])
    forecasts = np.asarray(classification.predict_inputs(model, windows))
    results = []
    for path, table, forecast in zip(inputs, tables, forecasts, strict=True):
        times = _future_times(table, len(forecast))
        steps = []
        for step, values in enumerate(forecast, start=1):
            entry = {"step": step}
            if times:
                entry["time"] = times[step - 1]
            entry.update(
                {
                    name: float(v)
                    for name, v in zip(info["target_columns"], values, strict=True)
                }
            )
            steps.append(entry)
        results.append({"input": str(path), "predictions": steps})
    return results


def mase_metrics(model, splits, split_name, config):
    """MASE: the model's mean absolute error over the seasonal-naive one's.

    Both forecast the same windows of the split; the seasonal-naive forecast
    repeats the last `data_info["season"]` steps of each window (the last
    value when the season is 1). Below 1: better than seasonal naive.

    Returns:
        `{"mase": ..., "mae_seasonal_naive": ...}`.
    """
    season = config["data_info"]["season"]
    horizon = config["model_from_data"]["horizon"]
    targets = config["model_from_data"]["target_indices"]
    model_errors, naive_errors = [], []
    for windows, future in getattr(splits, split_name).as_numpy_iterator():
        forecast = np.asarray(model.predict_on_batch(windows))
        naive = series.seasonal_naive(windows, targets, horizon, season)
        model_errors.append(np.abs(forecast - future).ravel())
        naive_errors.append(np.abs(naive - future).ravel())
    naive_mae = float(np.concatenate(naive_errors).mean())
    model_mae = float(np.concatenate(model_errors).mean())
    return {"mase": model_mae / naive_mae, "mae_seasonal_naive": naive_mae}


def write_forecast_plot(model, splits, split_name, config, run_dir):
    """Plots the last window of the evaluation split: history, forecast, truth.

    Returns:
        `{"forecast_plot": "plots/forecast.png"}`, for `metrics.json`.
    """
    from matplotlib.figure import Figure  # no pyplot: a notebook's backend stays

    *_, (windows, future) = getattr(splits, split_name).as_numpy_iterator()
    window, truth = windows[-1], future[-1]
    forecast = np.asarray(model.predict_on_batch(windows[-1:]))[0]
    targets = config["model_from_data"]["target_indices"]
    names = config["data_info"]["target_columns"]
    lookback = len(window)
    figure = Figure(figsize=(8, 3 * len(targets)), layout="constrained")
    axes = figure.subplots(len(targets), 1, squeeze=False)
    for axis, target, column, name in zip(
        axes[:, 0], targets, range(len(targets)), names, strict=True
    ):
        ahead = np.arange(lookback, lookback + len(truth))
        axis.plot(np.arange(lookback), window[:, target], label="history")
        axis.plot(ahead, truth[:, column], label="truth")
        axis.plot(ahead, forecast[:, column], "--", label="forecast")
        axis.set_title(f"{name}: the last {split_name} window")
        axis.set_xlabel("step")
        axis.legend()
    path = run_dir / runs.PLOTS_DIR / "forecast.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    with runs.atomic_path(path) as tmp:
        figure.savefig(tmp, format="png", dpi=100)
    return {"forecast_plot": f"{runs.PLOTS_DIR}/forecast.png"}


def _future_times(table, horizon):
    """ISO times of the `horizon` steps after the last row, or [] without."""
    step = table["time_step"]
    if step is None:
        return []
    return [(table["times"][-1] + step * k).isoformat() for k in range(1, horizon + 1)]
