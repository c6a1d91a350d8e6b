"""TensorBoard logs: every run's epoch metrics and report, a search's HParams."""

import csv

import pytest
import tensorflow as tf
from rich.console import Console

from cnnrnn import apps, runs, tracking, training
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


def test_a_search_writes_hparams_logs_per_trial(tmp_path):
    reviews = write_sentiment_demo(tmp_path / "d", num_reviews=60) / "reviews.csv"
    job = make_job(
        {
            "app": "sentiment-rnn",
            "search": {"algorithm": "random", "max_trials": 2, "retrain_best": False},
            "training": {"epochs": 1},
            "data": {"source": str(reviews), "batch_size": 128, "bucketing": False},
            "space": {
                "learning_rate": {"values": [0.001, 0.01]},
                "units": 4,
                "embedding_dim": 4,
            },
        },
        output=tmp_path / "search",
    )
    run_search(job, console=Console(quiet=True))
    logs = tmp_path / "search" / tracking.LOGS_DIR
    trials = sorted(path.name for path in logs.iterdir())
    assert len(trials) == 2
    for trial in trials:
        plugins = {plugin for _, _, _, plugin in events(logs / trial)}
        assert "hparams" in plugins, (trial, plugins)
        assert "epoch_loss" in scalars(logs / trial / "execution0" / "train")
