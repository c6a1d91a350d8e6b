"""`cnnrnn runs`: the table of run directories, and `--compare`."""

import datetime
import json
import os
import subprocess
import sys

import pytest
from rich.console import Console

from cnnrnn import cli, runs
from cnnrnn.demos.sentiment_rnn import write_sentiment_demo
from cnnrnn.progress import RichProgress

# One batch an epoch and the cheapest cell to trace: a run takes a second or two.
CHEAP = {
    "data.batch_size": 128,
    "data.bucketing": "false",
    "model.rnn_type": "gru",
    "model.pooling": "last",
    "model.bidirectional": "false",
    "model.embedding_dim": 4,
}
JOB = """app = "sentiment-rnn"
output = "runs/search"
[search]
algorithm = "random"
max_trials = 1
retrain_best = false
[training]
epochs = 1
[data]
source = "{source}"
batch_size = 128
bucketing = false
[space]
units = 4
embedding_dim = 4
rnn_type = "gru"
pooling = "last"
bidirectional = false
"""
NAMES = ("runs/small", "runs/wide", "runs/stopped", "runs/search/best")


def train(source, output, *, units, epochs):
    sets = [f"--set={key}={value}" for key, value in CHEAP.items()]
    argv = ["train", "sentiment-rnn", "--data", str(source), "--output", output]
    argv += ["--epochs", str(epochs), f"--set=model.units={units}", *sets]
    return cli.main(argv)


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    """A folder holding `data/` and, in `runs/`, two finished runs, one
    interrupted after 2 of 3 epochs and a search whose `best/` is a run."""
    root = tmp_path_factory.mktemp("runs")
    source = write_sentiment_demo(root / "data", num_reviews=60) / "reviews.csv"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CNNRNN_HOME", str(root / "home"))
        patch.chdir(root)
        assert train(source, "runs/small", units=4, epochs=2) == 0
        assert train(source, "runs/wide", units=8, epochs=2) == 0
        original = RichProgress.on_epoch_end

        def stop_after_second_epoch(self, epoch, logs=None):
            original(self, epoch, logs)
            if epoch == 1:
                raise KeyboardInterrupt

        patch.setattr(RichProgress, "on_epoch_end", stop_after_second_epoch)
        assert train(source, "runs/stopped", units=4, epochs=3) == 130
        patch.setattr(RichProgress, "on_epoch_end", original)
        (root / "job.toml").write_text(JOB.format(source=source))
        assert cli.main(["tune", "job.toml"]) == 0
        # What retrain_best does: train best_config.json into the search's best/.
        argv = ["--config", "runs/search/best_config.json"]
        assert cli.main(["train", "sentiment-rnn", *argv, "--output", NAMES[3]]) == 0
    for day, name in enumerate(NAMES, start=1):  # one day apart, in this order
        stamp = datetime.datetime(2026, 3, day, 9, 30).timestamp()
        os.utime(root / name / runs.CONFIG_FILE, (stamp, stamp))
    return root


@pytest.fixture
def here(root, monkeypatch):
    """Runs a test in `root`, with a console wide enough for the whole table."""
    monkeypatch.chdir(root)
    monkeypatch.setattr(cli, "console", Console(width=250))
    return root


def run_cli(capsys, *argv):
    code = cli.main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def rows_of(capsys, *argv):
    code, out, _ = run_cli(capsys, *argv, "--json")
    assert code == 0
    return json.loads(out)


def test_table_lists_every_run(here, capsys):
    code, out, _ = run_cli(capsys, "runs")
    assert code == 0
    assert "4 run(s)" in out
    for name in NAMES:
        assert name in out
    assert out.count("sentiment-rnn") == 4
    assert out.count("finished") == 3
    assert "interrupted" in out and "at epoch 2" in out
    assert "units=8" in out and "data/reviews.csv" in out
    assert "2026-03-04" in out and "09:30" in out
    accuracy = runs.read_json(here / "runs/wide/metrics.json")["accuracy"]
    assert f"{accuracy:.4g}" in out


def test_json_has_every_field_and_the_metrics_of_each_run(here, capsys):
    rows = {row["run"]: row for row in rows_of(capsys, "runs")}
    assert list(rows) == list(reversed(NAMES))  # newest first
    for name in ("runs/small", "runs/wide", "runs/search/best"):
        metrics = runs.read_json(here / name / runs.METRICS_FILE)
        row = rows[name]
        assert row["status"] == "finished" and row["finished"]
        assert row["test_metric"] == "accuracy"
        assert row["test"] == metrics["accuracy"]
        assert row["epochs"] == metrics["epochs"]
        assert row["best"] == metrics["best_val_loss"]
        assert row["best_epoch"] == metrics["best_epoch"]
        assert row["train_seconds"] == metrics["train_seconds"]
        assert row["path"] == str(here / name)
    assert rows["runs/wide"]["options"]["units"] == 8
    assert rows["runs/small"]["options"]["units"] == 4
    assert rows["runs/search/best"]["epochs"] == 1
    stopped = rows["runs/stopped"]
    assert stopped["status"] == "interrupted at epoch 2" and not stopped["finished"]
    assert stopped["epochs"] == 2 and stopped["test"] is None
    assert stopped["monitor"] == "val_loss" and stopped["best_epoch"] in (1, 2)
    for row in rows.values():
        assert row["application"] == "sentiment-rnn"
        assert row["data"] == "data/reviews.csv"
        assert row["source"] == str(here / "data" / "reviews.csv")
    assert rows["runs/small"]["date"] == "2026-03-01T09:30:00"


def test_sort_orders_rows_best_first_and_runs_without_a_value_last(here, capsys):
    rows = rows_of(capsys, "runs", "--sort", "test")
    scores = [row["test"] for row in rows]
    assert scores[:3] == sorted(scores[:3], reverse=True)  # accuracy: highest first
    assert rows[-1]["run"] == "runs/stopped"
    rows = rows_of(capsys, "runs", "--sort", "time")
    seconds = [row["train_seconds"] for row in rows]
    assert seconds[:3] == sorted(seconds[:3]) and seconds[3] is None
    rows = rows_of(capsys, "runs", "--sort", "run")
    assert [row["run"] for row in rows] == sorted(NAMES)


def test_a_folder_may_be_a_run_or_hold_runs_at_any_depth(here, capsys):
    rows = rows_of(capsys, "runs", "runs/search", "runs/wide")
    assert sorted(row["run"] for row in rows) == ["runs/search/best", "runs/wide"]
    rows = rows_of(capsys, "runs", str(here / "runs" / "wide"), "runs/wide")
    assert [row["run"] for row in rows] == ["runs/wide"]  # once


def test_compare_shows_the_options_that_differ_and_draws_the_curves(here, capsys):
    code, out, _ = run_cli(
        capsys, "runs", "--compare", "runs/small", "runs/wide", "runs/stopped"
    )
    assert code == 0
    line = next(line for line in out.splitlines() if "model.units" in line)
    cells = [cell.strip() for cell in line.split("│")[1:-1]]
    assert cells == ["model.units", "4", "8", "4"]
    assert "Learning curves: runs-compare.png" in out
    assert (here / "runs-compare.png").read_bytes().startswith(b"\x89PNG")

    figure = here / "figures" / "small-wide.png"
    args = ["runs", "--compare", "runs/small", "runs/wide", "--output", str(figure)]
    comparison = rows_of(capsys, *args)
    assert comparison == {
        "runs": ["runs/small", "runs/wide"],
        "differences": {"model.units": [4, 8]},
        "figure": str(figure),
    }
    assert figure.read_bytes().startswith(b"\x89PNG")
    comparison = rows_of(capsys, "runs", "--compare", "runs/small", "runs/stopped")
    assert comparison["differences"] == {"training.epochs": [2, 3]}


@pytest.mark.parametrize(
    "argv, message",
    [
        (["nowhere"], "'nowhere' does not exist"),
        (["data"], "No run directories found in 'data'"),
        (["--compare", "runs/small"], "needs at least two run directories"),
        (["--compare", "runs/small", "data"], "'data' is not a run directory"),
    ],
)
def test_errors_are_one_line(here, capsys, argv, message):
    code, out, err = run_cli(capsys, "runs", *argv)
    assert code == 1 and out == ""
    assert message in err and len(err.strip().splitlines()) == 1
    if "--compare" not in argv:
        assert "cnnrnn train APP --output runs/NAME" in err


def test_runs_and_compare_load_no_backend(here):
    script = (
        "import sys\nfrom cnnrnn import cli\n"
        "assert cli.main(['runs', 'runs']) == 0\n"
        "assert cli.main(['runs', '--compare', 'runs/small', 'runs/wide', "
        "'--output', 'nobackend.png']) == 0\n"
        "print([m for m in ('tensorflow', 'keras', 'torch', 'jax') "
        "if m in sys.modules])\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"
