"""TensorBoard logs: every run's epoch metrics and report, a search's HParams."""

import csv
import sys

import mlflow
import pytest
import tensorflow as tf
from rich.console import Console

from cnnrnn import apps, cli, runs, tracking, training
from cnnrnn.config import resolve_config
from cnnrnn.demos.plant_classifier import write_plant_demo
from cnnrnn.demos.sentiment_rnn import write_sentiment_demo
from cnnrnn.tuning import make_job, run_search


def events(folder):
    """Every summary value under `folder`: `(tag, step, value, plugin)` tuples,
    `value` a NumPy array (a scalar's is 0-d)."""
    found = []
    for path in sorted(folder.rglob("events.out.tfevents.*")):
        for record in tf.data.TFRecordDataset(str(path)):
            event = tf.compat.v1.Event.FromString(record.numpy())
            for value in event.summary.value:
                found.append(
                    (
                        value.tag,
                        event.step,
                        tf.make_ndarray(value.tensor),
                        value.metadata.plugin_data.plugin_name,
                    )
                )
    return found


def scalars(folder):
    """`{tag: {step: float}}` of the scalar summaries under `folder`."""
    found = {}
    for tag, step, value, plugin in events(folder):
        if plugin == "scalars":
            found.setdefault(tag, {})[step] = float(value)
    return found


@pytest.fixture(scope="module")
def plant_run(tmp_path_factory):
    source = write_plant_demo(
        tmp_path_factory.mktemp("data") / "plants", images_per_class=12, image_size=32
    )
    overrides = {
        "data": {"source": str(source), "image_size": [32, 32], "batch_size": 16},
        "model": {"depth": 1, "base_filters": 4},
        "training": {"epochs": 3, "learning_rate_schedule": "cosine"},
    }
    config = resolve_config(apps.get_app("plant-classifier"), overrides=overrides)
    run_dir = tmp_path_factory.mktemp("runs") / "plant"
    app = apps.get_app("plant-classifier")
    training.train(app, config=config, run_dir=run_dir, console=Console(quiet=True))
    return run_dir


def test_a_run_logs_the_epoch_metrics_that_history_csv_holds(plant_run):
    with open(plant_run / runs.HISTORY_FILE, newline="") as handle:
        history = list(csv.DictReader(handle))
    logs = plant_run / tracking.LOGS_DIR
    train, validation = scalars(logs / "train"), scalars(logs / "validation")
    for row in history:
        epoch = int(row["epoch"])
        assert train["epoch_loss"][epoch] == pytest.approx(float(row["loss"]))
        assert train["epoch_accuracy"][epoch] == pytest.approx(float(row["accuracy"]))
        assert validation["epoch_loss"][epoch] == pytest.approx(float(row["val_loss"]))
    rates = [train["epoch_learning_rate"][epoch] for epoch in range(len(history))]
    assert rates == sorted(rates, reverse=True) and rates[0] > rates[-1]  # cosine


def test_a_run_logs_its_report_test_metrics_plots_and_examples(plant_run):
    metrics = runs.read_json(plant_run / runs.METRICS_FILE)
    report = plant_run / tracking.LOGS_DIR / tracking.REPORT_DIR
    final = scalars(report)
    assert final["final/accuracy"] == {metrics["epochs"]: pytest.approx(
        metrics["accuracy"])}  # fmt: skip
    images = {tag for tag, _, _, plugin in events(report) if plugin == "images"}
    assert images == {
        f"plots/{path.stem}" for path in (plant_run / runs.PLOTS_DIR).glob("*.png")
    }
    assert "plots/confusion_matrix" in images


def test_log_report_writes_examples_as_text(tmp_path):
    (tmp_path / "captions.txt").write_text("image: a.png\n  beam 3:  a red circle\n")
    tracking.log_report(tmp_path, {"epochs": 2, "examples_file": "captions.txt"})
    (text,) = [
        value for tag, step, value, plugin in events(tmp_path) if plugin == "text"
    ]
    assert "a red circle" in text.item().decode()


# --- MLflow ------------------------------------------------------------------
def mlflow_overrides(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    return {"mlflow": True, "mlflow_uri": uri, "mlflow_experiment": "tests"}, uri


@pytest.fixture(autouse=True)
def in_tmp_path(tmp_path, monkeypatch):
    """MLflow puts a SQLite store's artifacts in ./mlruns: here, in tmp_path."""
    monkeypatch.chdir(tmp_path)


def test_an_interrupted_and_resumed_run_is_one_mlflow_run_with_every_epoch(
    tmp_path, monkeypatch
):
    from cnnrnn.progress import RichProgress

    tracking_options, uri = mlflow_overrides(tmp_path)
    source = write_plant_demo(tmp_path / "plants", images_per_class=8, image_size=32)
    app = apps.get_app("plant-classifier")
    overrides = {
        "data": {"source": str(source), "image_size": [32, 32], "batch_size": 16},
        "model": {"depth": 1, "base_filters": 4},
        "training": {"epochs": 3, "early_stopping_patience": 9},
        "tracking": tracking_options,
    }
    config = resolve_config(app, overrides=overrides)
    run_dir = tmp_path / "run"
    original = RichProgress.on_epoch_end

    def interrupt_after_second_epoch(self, epoch, logs=None):
        original(self, epoch, logs)
        if epoch == 1:
            raise KeyboardInterrupt

    quiet = Console(quiet=True)
    monkeypatch.setattr(RichProgress, "on_epoch_end", interrupt_after_second_epoch)
    with pytest.raises(KeyboardInterrupt):
        training.train(app, config=config, run_dir=run_dir, console=quiet)
    client = mlflow.MlflowClient(tracking_uri=uri)
    (interrupted,) = client.search_runs(
        [client.get_experiment_by_name("tests").experiment_id]
    )
    assert interrupted.info.status == "KILLED"

    monkeypatch.setattr(RichProgress, "on_epoch_end", original)
    metrics = training.train(app, config=config, run_dir=run_dir, console=quiet)
    (run,) = client.search_runs([client.get_experiment_by_name("tests").experiment_id])
    assert run.info.run_id == interrupted.info.run_id and run.info.status == "FINISHED"
    assert run.info.run_name == "run" and run.data.params["model.depth"] == "1"
    with open(run_dir / runs.HISTORY_FILE, newline="") as handle:
        history = list(csv.DictReader(handle))
    for name in ("loss", "val_loss", "accuracy"):
        logged = client.get_metric_history(run.info.run_id, name)
        assert sorted((m.step, m.value) for m in logged) == [
            (int(row["epoch"]), pytest.approx(float(row[name]))) for row in history
        ]
    assert run.data.metrics["final_accuracy"] == pytest.approx(metrics["accuracy"])
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert artifacts == {
        "config.json", "metrics.json", "history.csv", "model.keras", "plots"
    }  # fmt: skip


@pytest.fixture(scope="module")
def search(tmp_path_factory):
    """A 2-trial search tracked by TensorBoard and MLflow: its output, summary
    and MLflow store."""
    tmp_path = tmp_path_factory.mktemp("search")
    tracking_options, uri = mlflow_overrides(tmp_path)
    reviews = write_sentiment_demo(tmp_path / "d", num_reviews=60) / "reviews.csv"
    job = make_job(
        {
            "app": "sentiment-rnn",
            "search": {"algorithm": "random", "max_trials": 2, "retrain_best": False},
            "training": {"epochs": 1},
            "data": {"source": str(reviews), "batch_size": 128, "bucketing": False},
            "tracking": tracking_options,
            "space": {
                "learning_rate": {"values": [0.001, 0.01]},
                "units": 4,
                "embedding_dim": 4,
                # The cheapest cell to trace: what is tested is the logging.
                "num_layers": 1,
                "rnn_type": "gru",
                "pooling": "last",
                "bidirectional": False,
            },
        },
        output=tmp_path / "search",
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(tmp_path)  # the artifacts' ./mlruns
        summary = run_search(job, console=Console(quiet=True))
    return tmp_path / "search", summary, uri


def test_a_search_writes_hparams_logs_per_trial(search):
    logs = search[0] / tracking.LOGS_DIR
    trials = sorted(path.name for path in logs.iterdir())
    assert len(trials) == 2
    for trial in trials:
        plugins = {plugin for _, _, _, plugin in events(logs / trial)}
        assert "hparams" in plugins, (trial, plugins)
        assert "epoch_loss" in scalars(logs / trial / "execution0" / "train")


def test_a_search_is_a_parent_mlflow_run_with_a_nested_run_per_trial(search):
    _, summary, uri = search
    client = mlflow.MlflowClient(tracking_uri=uri)
    found = client.search_runs([client.get_experiment_by_name("tests").experiment_id])
    (parent,) = [run for run in found if run.info.run_name == "search search"]
    trials = [run for run in found if run is not parent]
    assert len(trials) == 2 and parent.info.status == "FINISHED"
    assert {run.data.tags["mlflow.parentRunId"] for run in trials} == {
        parent.info.run_id
    }
    for run in trials:
        assert run.data.params["learning_rate"] in {"0.001", "0.01"}
        history = client.get_metric_history(run.info.run_id, "val_loss")
        assert [metric.step for metric in history] == [0]
        assert run.data.metrics["score"] == history[0].value  # the objective
    assert parent.data.metrics["completed"] == summary["completed"] == 2
    artifacts = {a.path for a in client.list_artifacts(parent.info.run_id)}
    assert {"summary.json", "best_config.json", "trials.json"} <= artifacts


def test_track_mlflow_on_the_command_line(tmp_path, capsys):
    reviews = write_sentiment_demo(tmp_path / "d", num_reviews=40) / "reviews.csv"
    uri = f"sqlite:///{tmp_path / 'store.db'}"
    argv = ["train", "sentiment-rnn", "--data", str(reviews), "--epochs", "1"]
    argv += ["--set", "model.units=4", "--output", str(tmp_path / "run")]
    assert cli.main([*argv, "--track", "mlflow", "--tracking-uri", uri]) == 0
    client = mlflow.MlflowClient(tracking_uri=uri)
    (run,) = client.search_runs(
        [client.get_experiment_by_name("sentiment-rnn").experiment_id]
    )
    assert run.info.run_name == "run" and run.data.params["model.units"] == "4"
    config = runs.read_json(tmp_path / "run" / runs.CONFIG_FILE)
    assert config["tracking"]["mlflow"] is True


def test_track_mlflow_without_mlflow_is_a_one_line_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "mlflow", None)
    monkeypatch.setenv("CNNRNN_HOME", str(tmp_path / "home"))
    argv = ["train", "sentiment-rnn", "--epochs", "1", "--track", "mlflow"]
    assert cli.main([*argv, "--output", str(tmp_path / "run")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and 'pip install "cnnrnn[mlflow]"' in err
    assert not (tmp_path / "run").exists()  # refused before anything ran
