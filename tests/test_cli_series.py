"""`cnnrnn` end to end for series-forecaster: a CSV in, its next steps out."""

import json

import pytest

from cnnrnn import cli, runs
from cnnrnn.demos.series_forecaster import SERIES_DEMO_FILE, write_series_demo

FAST = [
    "--set", "model.units=16",
    "--set", "data.lookback=24",
    "--set", "data.horizon=6",
    "--set", "data.batch_size=32",
    "--set", "model.learning_rate=0.01",
    "--epochs", "20",
]  # fmt: skip


@pytest.fixture(scope="module")
def series_file(tmp_path_factory):
    folder = write_series_demo(tmp_path_factory.mktemp("data") / "s", num_steps=600)
    return folder / SERIES_DEMO_FILE


@pytest.fixture(scope="module")
def series_run(series_file, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("runs") / "series"
    argv = ["train", "series-forecaster", "--data", str(series_file)]
    assert cli.main([*argv, "--output", str(run_dir), *FAST]) == 0
    return run_dir


def run_cli(capsys, *argv):
    code = cli.main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_the_run_beats_seasonal_naive_and_plots_its_forecast(series_run):
    metrics = runs.read_json(series_run / runs.METRICS_FILE)
    assert metrics["evaluated_on"] == "test"
    assert metrics["mase"] < 1.0, metrics
    assert (series_run / metrics["forecast_plot"]).is_file()
    info = runs.read_json(series_run / runs.CONFIG_FILE)["data_info"]
    assert info["season"] == 24 and info["target_columns"] == ["load"]


def test_predict_forecasts_the_steps_after_the_file(series_run, series_file, capsys):
    code, out, _ = run_cli(
        capsys, "predict", str(series_run), str(series_file), "--json"
    )
    assert code == 0
    (result,) = json.loads(out)
    steps = result["predictions"]
    assert [step["step"] for step in steps] == [1, 2, 3, 4, 5, 6]
    last_time = series_file.read_text().splitlines()[-1].split(",")[0]
    assert last_time == "2024-01-25T23:00:00"
    assert steps[0]["time"] == "2024-01-26T00:00:00"
    assert all(80 < step["load"] < 140 for step in steps)
    code, out, _ = run_cli(capsys, "predict", str(series_run), str(series_file))
    assert code == 0 and "load" in out and "2024-01-26T05:00:00" in out


def test_evaluate_on_another_file_and_a_file_without_the_columns(
    series_run, series_file, tmp_path, capsys
):
    code, out, _ = run_cli(
        capsys, "evaluate", str(series_run), "--data", str(series_file), "--json"
    )
    assert code == 0 and json.loads(out)["mase"] > 0
    other = tmp_path / "other.csv"
    other.write_text("time,price\n2024-01-01,1\n2024-01-02,2\n")
    code, _, err = run_cli(capsys, "predict", str(series_run), str(other))
    assert code == 1
    assert "lacks the column(s) load, temperature" in err and "Traceback" not in err
