"""Search jobs end to end: `cnnrnn tune` per application, resume, failures, memory."""

import csv
import json
import signal
import subprocess
import sys
import time

import keras_tuner
import pytest
from jobs import CHEAP_CELL, review_data, write_job
from rich.console import Console

from cnnrnn import cli, runs
from cnnrnn.demos.char_generator import write_char_demo
from cnnrnn.demos.image_captioner import write_caption_demo
from cnnrnn.demos.plant_classifier import write_plant_demo
from cnnrnn.demos.sentiment_rnn import write_sentiment_demo
from cnnrnn.demos.video_classifier import write_video_demo
from cnnrnn.errors import CnnrnnError, DataError
from cnnrnn.tuning import make_job, run_search, search

QUIET = Console(quiet=True)
# Small sizes for the sentiment searches below: every trial takes a second.
SMALL = {"units": 8, "embedding_dim": 8, "num_layers": 1, "bidirectional": False}


# Tiny data and small fixed sizes, so a trial takes a few seconds.
TINY = {
    "plant-classifier": (
        lambda d: write_plant_demo(d, images_per_class=8, image_size=32),
        {"image_size": [32, 32], "batch_size": 16},
        {"depth": 2, "base_filters": 8},
    ),
    "sentiment-rnn": (
        lambda d: write_sentiment_demo(d, num_reviews=120) / "reviews.csv",
        {"batch_size": 16},
        {"units": 32, "embedding_dim": 32, "num_layers": 1},
    ),
    "char-generator": (
        lambda d: write_char_demo(d, num_speeches=40) / "play.txt",
        {"sequence_length": 20, "batch_size": 16},
        {"units": 128, "embedding_dim": 32, "num_layers": 1},
    ),
    "video-classifier": (
        lambda d: write_video_demo(d, clips_per_class=4, num_frames=4, image_size=16),
        {"num_frames": 4, "image_size": [16, 16], "batch_size": 4},
        {"encoder_depth": 2, "encoder_filters": 8, "encoder_units": 64},
    ),
    "image-captioner": (
        lambda d: write_caption_demo(d, num_scenes=30, image_size=32),
        {"batch_size": 16},
        {"encoder_depth": 2, "encoder_filters": 8, "units": 64, "embedding_dim": 32},
    ),
}


@pytest.mark.parametrize("app_name", list(TINY))
def test_tune_writes_trials_best_config_plots_and_best_run(app_name, tmp_path, capsys):
    """Every application searches; the first one runs two trials and retrains.

    Proposing a second trial and retraining the best (a `cnnrnn train` run of
    `best_config.json`) are the same code for every application, so one
    application checks them; the others run one trial each.
    """
    write_data, data, fixed = TINY[app_name]
    first = app_name == next(iter(TINY))
    max_trials = 2 if first else 1
    source = write_data(tmp_path / "data")
    job = write_job(
        tmp_path / "job.toml",
        {
            "app": app_name,
            "output": str(tmp_path / "search"),
            "search": {
                "algorithm": "random",
                "max_trials": max_trials,
                "retrain_best": first,
            },
            "training": {"epochs": 1},
            "data": {"source": str(source), **data},
            "space": fixed,
        },
    )
    assert cli.main(["tune", str(job)]) == 0
    out = tmp_path / "search"
    trials = json.loads((out / "trials.json").read_text())
    assert [t["status"] for t in trials] == ["COMPLETED"] * max_trials
    with open(out / "trials.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == max_trials
    assert "learning_rate" in rows[0] and "val_loss" in rows[0]
    summary = runs.read_json(out / "summary.json")
    assert summary["completed"] == max_trials
    assert summary["best_trial"] in {str(i) for i in range(max_trials)}
    best = runs.read_json(out / "best_config.json")
    assert set(best) == {
        "app", "data", "model", "training", "inference", "devices", "tracking"
    }  # fmt: skip
    for name, value in summary["best_hyperparameters"].items():
        assert best["model"][name] == (None if value == "none" else value)
    assert runs.is_finished(out / "best") == first
    for plot in ("objective.png", "hyperparameters.png"):
        assert (out / "plots" / plot).stat().st_size > 0
    assert f"Results: {out}" in capsys.readouterr().out


def test_first_trial_is_the_template_and_seeds_repeat(reviews, tmp_path, monkeypatch):
    """What the oracle proposes; the trials train nothing (a random search's
    proposals do not depend on scores). The slow distributed test checks
    that a seeded search's scores and weights repeat too."""
    monkeypatch.setattr(
        keras_tuner.Tuner, "run_trial", lambda self, trial, *a, **k: {"val_loss": 1.0}
    )
    table = {
        "app": "sentiment-rnn",
        "search": {"algorithm": "random", "max_trials": 2, "retrain_best": False},
        "training": {"epochs": 1},
        "data": review_data(reviews),
        "model": SMALL,
        # The rest of the default space is searched.
        "space": {"units": {"values": [8, 16]}, "embedding_dim": 8, "num_layers": 1,
                  **CHEAP_CELL},
    }  # fmt: skip

    def proposals(seed, folder):
        table["search"]["seed"] = seed
        run_search(make_job(table, output=tmp_path / folder), console=QUIET)
        trials = json.loads((tmp_path / folder / "trials.json").read_text())
        return [t["hyperparameters"] for t in trials]

    first = proposals(7, "a")
    defaults = {"learning_rate": 1e-3, "dropout": 0.3, "optimizer": "adam",
                "weight_decay": 0.0, "units": 8}  # fmt: skip
    assert {k: first[0][k] for k in defaults} == defaults
    assert proposals(7, "b") == first
    assert proposals(8, "c") != first


def test_failed_trials_are_recorded_and_the_search_goes_on(reviews, tmp_path):
    job = make_job(
        {
            "app": "sentiment-rnn",
            "search": {
                "algorithm": "grid",
                "max_trials": 4,
                "max_params": 30000,
                "retrain_best": False,
            },
            "training": {"epochs": 1},
            "data": review_data(reviews),
            "model": {"units": 8},
            "space": {
                "units": {"values": [8, 128]},
                "num_layers": 1,
                "embedding_dim": 8,
                "learning_rate": 1e-3,
                "dropout": 0.0,
                "optimizer": "adam",
                "weight_decay": 0.0,
                "rnn_type": {"values": ["lstm", "gru"]},
                "pooling": "max",
                "bidirectional": False,
                "word_dropout": 0.0,
                "ngram_dim": 0,
            },
        },  # fmt: skip
        output=tmp_path / "search",
    )
    summary = run_search(job, console=QUIET)
    trials = json.loads((tmp_path / "search" / "trials.json").read_text())
    assert summary["trials"] == 4 and summary["failed"] == 2
    for trial in trials:
        big = trial["hyperparameters"]["units"] == 128
        assert trial["status"] == ("FAILED" if big else "COMPLETED")
        if big:
            assert "Oversized model" in trial["message"]
    with open(tmp_path / "search" / "trials.csv", newline="") as handle:
        assert sum(row["status"] == "FAILED" for row in csv.DictReader(handle)) == 2


@pytest.mark.slow  # ten trials: over a minute on 2 cores
def test_memory_stays_flat_over_ten_trials(reviews, tmp_path, monkeypatch):
    """Resident memory after each of 10 trials (sizes vary between trials).

    Every trial's model, optimizer and traced functions are freed
    (`clear_session` and garbage collection between trials), so memory stays
    on a plateau after the first trials. Measured on 2 CPU cores: 812 to
    863 MB after every trial, moving up and down by up to 30 MB as the
    allocator caches come and go; the bound allows twice that from trial 4
    to 10, far below what keeping ten models' graphs alive would add.
    """
    rss = []
    stop = search.results.TrialClock.stop

    def stop_and_measure(self, trial_id):
        stop(self, trial_id)
        with open("/proc/self/statm") as handle:
            rss.append(int(handle.read().split()[1]) * 4096)

    monkeypatch.setattr(search.results.TrialClock, "stop", stop_and_measure)
    job = make_job(
        {
            "app": "sentiment-rnn",
            "search": {"algorithm": "random", "max_trials": 10, "retrain_best": False},
            "training": {"epochs": 1},
            "data": review_data(reviews),
            "space": {
                "units": {"values": [16, 32, 64]},
                "num_layers": 1,
                "embedding_dim": {"values": [16, 64]},
            },
        },  # fmt: skip
        output=tmp_path / "search",
    )
    run_search(job, console=QUIET)
    assert len(rss) == 10
    growth = rss[-1] - rss[3]
    assert growth < 60 * 2**20, [round(r / 2**20) for r in rss]


def test_output_folders_are_never_clobbered(reviews, tmp_path):
    table = {
        "app": "sentiment-rnn",
        "search": {"max_trials": 1, "retrain_best": False},
        "training": {"epochs": 1},
        "data": review_data(reviews),
        "model": SMALL,
        "space": {"units": 8, "embedding_dim": 8, "num_layers": 1, **CHEAP_CELL},
    }
    run_search(make_job(table, output=tmp_path / "s"), console=QUIET)
    table["space"]["units"] = 16
    with pytest.raises(CnnrnnError, match="different search: pass --overwrite"):
        run_search(make_job(table, output=tmp_path / "s"), console=QUIET)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "mine.txt").write_text("keep")
    with pytest.raises(CnnrnnError, match="holds no cnnrnn search"):
        run_search(make_job(table, output=tmp_path / "other"), console=QUIET)
    assert (tmp_path / "other" / "mine.txt").read_text() == "keep"
    summary = run_search(
        make_job(table, output=tmp_path / "s"), overwrite=True, console=QUIET
    )
    (trial,) = json.loads((tmp_path / "s" / "trials.json").read_text())
    assert summary["trials"] == 1 and trial["hyperparameters"]["units"] == 16


def test_dry_run_prints_the_space_and_trains_nothing(tmp_path, capsys):
    job = write_job(
        tmp_path / "job.toml",
        {"app": "char-generator", "output": str(tmp_path / "out"),
         "search": {"algorithm": "hyperband"}, "training": {"epochs": 9},
         "space": {"units": {"values": [128, 256]}, "rnn_type": "gru"}},
    )  # fmt: skip
    assert cli.main(["tune", str(job), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "one of 128, 256" in out and "fixed: 'gru'" in out
    assert "Hyperband brackets up to 9 epochs" in out
    assert not (tmp_path / "out").exists()


def _completed(folder):
    done = set()
    for path in folder.glob("tuner/trial_*/trial.json"):
        try:
            trial = json.loads(path.read_text())
        except ValueError:  # being written
            continue
        if trial["status"] == "COMPLETED":
            done.add(trial["trial_id"])
    return done


@pytest.mark.parametrize(
    "algorithm, stop",
    # Slow (half a minute to a minute each, to keep the default run short):
    # a killed random search resumes like an interrupted one (Ctrl-C, with
    # its exit code and message checked), and so do grid and Bayesian search
    # (the same Keras Tuner oracle state); Hyperband also runs a reference.
    [
        ("random", "SIGINT"),
        pytest.param("random", "SIGKILL", marks=pytest.mark.slow),
        pytest.param("grid", "SIGKILL", marks=pytest.mark.slow),
        pytest.param("bayesian", "SIGKILL", marks=pytest.mark.slow),
        pytest.param("hyperband", "SIGKILL", marks=pytest.mark.slow),
    ],
)
def test_a_stopped_search_resumes_without_rerunning_finished_trials(
    algorithm, stop, reviews, tmp_path, capsys
):
    space = {"units": {"values": [8, 16]}, "embedding_dim": {"values": [8, 16]},
             "num_layers": 1, "learning_rate": {"values": [0.001, 0.003]},
             "dropout": 0.3, "optimizer": "adam", "weight_decay": 0.0,
             **CHEAP_CELL}  # fmt: skip
    table = {
        "app": "sentiment-rnn",
        "search": {"algorithm": algorithm, "max_trials": 4, "retrain_best": False},
        "training": {"epochs": 3 if algorithm == "hyperband" else 1},
        "data": review_data(reviews),
        "model": {"units": 8, "embedding_dim": 8, "learning_rate": 0.001},
        "space": space,
    }

    def tune(folder):
        """The `cnnrnn` arguments of a search into `tmp_path / folder`."""
        job = write_job(
            tmp_path / f"{folder}.toml", {**table, "output": str(tmp_path / folder)}
        )
        return ["tune", str(job)]

    def command(folder):
        return [sys.executable, "-m", "cnnrnn.cli", *tune(folder)]

    log = tmp_path / "first.log"
    with open(log, "w") as handle:
        process = subprocess.Popen(command("search"), stdout=handle, stderr=handle)
        deadline = time.monotonic() + 240
        while len(_completed(tmp_path / "search")) < 2 and process.poll() is None:
            assert time.monotonic() < deadline, "the search did not progress"
            time.sleep(0.1)
        process.send_signal(getattr(signal, stop))
        process.wait(timeout=60)
    before = _completed(tmp_path / "search")
    assert len(before) >= 2, log.read_text()[-2000:]
    if stop == "SIGINT":
        output = log.read_text()
        assert process.returncode == 130, output[-2000:]
        assert "Interrupted. Run the same command again to resume the search." in (
            output
        )
        assert "Traceback" not in output

    # Resumed in this process (a new interpreter would only start TensorFlow
    # again): what it knows of the first search is on disk.
    assert cli.main(tune("search")) == 0
    started = {
        line.split(":")[0].split()[1]
        for line in capsys.readouterr().out.splitlines()
        if line.startswith("trial ")
    }
    assert not started & before  # no finished trial ran again
    trials = json.loads((tmp_path / "search" / "trials.json").read_text())
    assert all(t["status"] == "COMPLETED" for t in trials)
    if algorithm == "hyperband":  # its budget is its bracket schedule
        reference = subprocess.run(
            command("reference"), capture_output=True, timeout=300
        )
        assert reference.returncode == 0
        expected = len(json.loads((tmp_path / "reference" / "trials.json").read_text()))
    else:
        expected = table["search"]["max_trials"]
    assert len(trials) == expected


def test_a_job_whose_data_fails_leaves_no_output_folder(tmp_path):
    job = make_job(
        {"app": "sentiment-rnn", "data": {"source": str(tmp_path / "missing.csv")}},
        output=tmp_path / "search",
    )
    with pytest.raises(DataError, match="does not exist"):
        run_search(job, console=QUIET)
    assert not (tmp_path / "search").exists()
