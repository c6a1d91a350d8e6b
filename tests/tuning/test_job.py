import io
import json
import pathlib
import sys

import keras_tuner
import pytest
from rich.console import Console

from cnnrnn.apps import APPS
from cnnrnn.errors import CnnrnnError
from cnnrnn.tuning import dry_run, load_job, make_job
from cnnrnn.tuning.job import ALGORITHMS, SEARCH_DEFAULTS
from cnnrnn.tuning.space import define

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

JOB_DIR = pathlib.Path(__file__).resolve().parents[2] / "tuning"
JOB_FILES = sorted(JOB_DIR.glob("*.toml"))


def job(**table):
    return make_job({"app": "sentiment-rnn", **table})


def printed(job):
    buffer = io.StringIO()
    dry_run(job, Console(file=buffer, width=200))
    return buffer.getvalue()


def test_a_minimal_job_takes_the_defaults():
    result = job()
    assert result.app is APPS["sentiment-rnn"]
    assert result.search == SEARCH_DEFAULTS
    assert result.space == APPS["sentiment-rnn"].search_space
    assert result.output == pathlib.Path("tuning_runs/sentiment-rnn")
    assert result.direction == "min"  # val_loss
    assert result.path is None
    assert "source" not in result.config["data"]


def test_unknown_top_level_key():
    with pytest.raises(CnnrnnError, match="unknown key.*serach"):
        job(serach={"max_trials": 3})


def test_missing_app():
    with pytest.raises(CnnrnnError, match='add app = "NAME"'):
        make_job({"search": {"max_trials": 3}})


def test_unknown_app_lists_the_applications():
    with pytest.raises(CnnrnnError, match="Unknown application 'sentiment'") as info:
        make_job({"app": "sentiment"})
    for name in APPS:
        assert name in str(info.value)


def test_unknown_search_option_lists_the_known_ones():
    with pytest.raises(CnnrnnError, match="max_trails") as info:
        job(search={"max_trails": 3})
    for name in SEARCH_DEFAULTS:
        assert name in str(info.value)


@pytest.mark.parametrize(
    "search, message",
    [
        ({"algorithm": "tpe"}, "algorithm='tpe'. Expected one of random"),
        ({"max_trials": 0}, "max_trials=0. Expected an integer >= 1"),
        ({"max_trials": "10"}, "max_trials='10'"),
        ({"max_trials": 2.5}, "max_trials=2.5"),
        ({"max_trials": True}, "max_trials=True"),
        ({"executions_per_trial": 0}, "executions_per_trial=0"),
        ({"max_consecutive_failed_trials": -1}, "max_consecutive_failed_trials"),
        ({"hyperband_factor": 1}, "hyperband_factor=1. Expected an integer >= 2"),
        ({"direction": "up"}, "direction='up'. Expected 'min' or 'max'"),
        ({"max_params": 0}, "max_params=0"),
        ({"max_params": "1M"}, "max_params='1M'"),
    ],
)
def test_bad_search_options(search, message):
    with pytest.raises(CnnrnnError, match=message):
        job(search=search)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_every_algorithm_is_accepted(algorithm):
    assert job(search={"algorithm": algorithm}).search["algorithm"] == algorithm


def test_search_options_are_kept():
    search = {"max_trials": 3, "max_params": 100_000, "seed": 7, "retrain_best": False}
    assert job(search=search).search == {**SEARCH_DEFAULTS, **search}


@pytest.mark.parametrize(
    "objective, direction",
    [
        ("val_loss", "min"),
        ("loss", "min"),
        ("val_bits_per_char", "min"),
        ("val_accuracy", "max"),
        ("val_token_accuracy", "max"),
    ],
)
def test_direction_is_inferred_from_the_objective(objective, direction):
    assert job(search={"objective": objective}).direction == direction


def test_an_explicit_direction_wins():
    assert job(search={"objective": "val_loss", "direction": "max"}).direction == "max"
    result = job(search={"objective": "val_accuracy", "direction": "min"})
    assert result.direction == "min"


def test_output_default_table_and_override():
    assert job().output == pathlib.Path("tuning_runs/sentiment-rnn")
    assert job(output="runs/search").output == pathlib.Path("runs/search")
    overridden = make_job(
        {"app": "sentiment-rnn", "output": "runs/search"}, output="elsewhere"
    )
    assert overridden.output == pathlib.Path("elsewhere")


def test_load_job_output_override(tmp_path):
    path = tmp_path / "job.toml"
    path.write_text('app = "char-generator"\noutput = "runs/chars"\n')
    assert load_job(path).output == pathlib.Path("runs/chars")
    assert load_job(path, output=tmp_path / "o").output == tmp_path / "o"
    assert load_job(path).path == path


def test_model_data_and_training_sections_reach_the_config():
    result = job(
        model={"units": 32, "rnn_type": "gru"},
        data={"batch_size": 8, "source": "reviews.csv"},
        training={"epochs": 2},
        devices={"precision": "float32"},
    )
    assert result.config["model"]["units"] == 32
    assert result.config["model"]["rnn_type"] == "gru"
    assert result.config["data"]["batch_size"] == 8
    assert result.config["data"]["source"] == "reviews.csv"
    assert result.config["training"]["epochs"] == 2
    assert result.config["devices"]["precision"] == "float32"
    assert "units" in printed(result) and "32" in printed(result)


@pytest.mark.parametrize(
    "section, key",
    [
        ("model", "num_units"),
        ("model", "vocabulary"),  # set by the data
        ("data", "image_size"),
        ("training", "epoch"),
        ("devices", "gpus"),
    ],
)
def test_unknown_section_options_raise(section, key):
    with pytest.raises(CnnrnnError, match=f"Unknown {section} option '{key}'"):
        job(**{section: {key: 1}})


@pytest.mark.parametrize("name", ["vocabulary", "num_classes", "compile", "name"])
def test_space_rejects_data_set_and_plumbing_arguments(name):
    with pytest.raises(CnnrnnError, match=f"Unknown hyperparameter '{name}'"):
        job(space={name: {"values": [1, 2]}})


def test_space_is_merged_over_the_default_space():
    result = job(
        space={
            "learning_rate": {"max": 3e-3},
            "units": 64,
            "recurrent_dropout": {"values": [0.0, 0.2]},
        }
    )
    default_space = APPS["sentiment-rnn"].search_space
    narrowed = {**default_space["learning_rate"], "max": 3e-3}
    assert result.space["learning_rate"] == narrowed
    assert result.space["units"] == 64
    assert result.space["recurrent_dropout"] == {"values": [0.0, 0.2]}
    assert default_space["learning_rate"]["max"] == 1e-2  # not modified


@pytest.mark.parametrize("name", sorted(APPS))
def test_record_is_json_serialisable(name):
    result = make_job(
        {"app": name, "space": {"learning_rate": {"min": 1e-3}, "dropout": 0.2}}
    )
    record = result.record()
    assert json.loads(json.dumps(record)) == record
    assert record["app"] == name
    assert record["space"] == result.space


def test_missing_job_file_points_at_the_example_jobs(tmp_path):
    with pytest.raises(CnnrnnError, match="not found") as error:
        load_job(tmp_path / "nope.toml")
    assert "plant_classifier.toml" in str(error.value)  # the shipped examples


def test_invalid_toml(tmp_path):
    path = tmp_path / "job.toml"
    path.write_text('app = "sentiment-rnn"\n[search\n')
    with pytest.raises(CnnrnnError, match="not valid TOML"):
        load_job(path)


def test_errors_name_the_job_file(tmp_path):
    path = tmp_path / "job.toml"
    path.write_text('app = "sentiment-rnn"\n[search]\nalgorithm = "tpe"\n')
    with pytest.raises(CnnrnnError, match="job.toml"):
        load_job(path)


def test_dry_run_prints_space_and_budget():
    text = printed(job(search={"max_trials": 4}, training={"epochs": 3}))
    for name in APPS["sentiment-rnn"].search_space:
        assert name in text
    assert "4 trials" in text and "at most 3 epochs" in text
    hyperband = printed(job(search={"algorithm": "hyperband"}))
    assert "Hyperband brackets" in hyperband


def test_there_is_a_job_file_for_every_application():
    apps = {tomllib.loads(path.read_text())["app"] for path in JOB_FILES}
    assert apps == set(APPS)


@pytest.mark.parametrize("path", JOB_FILES, ids=lambda path: path.name)
def test_job_files_load_and_run_on_demo_data(path):
    table = tomllib.loads(path.read_text())
    assert "source" not in table.get("data", {})  # runnable as is, on demo data
    result = load_job(path)
    assert result.app.name == path.stem.replace("_", "-")
    assert result.search["objective"].startswith("val_")  # demo data is split
    assert result.output == pathlib.Path("tuning_runs") / result.app.name
    text = printed(result)
    assert result.app.name in text and result.search["algorithm"] in text
    hp = keras_tuner.HyperParameters()
    for name, spec in result.space.items():
        define(hp, name, spec, result.config["model"][name])
    assert set(hp.values) == set(result.space)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"search": {"max_params": True}}, "max_params=True"),
        ({"search": {"objective": 3}}, "Expected a metric name"),
        ({"search": {"seed": "x"}}, "seed='x'"),
        ({"search": {"retrain_best": "yes"}}, "retrain_best='yes'"),
        ({"space": 3}, "space must be a table"),
        ({"space": {"units": {"values": [32, 128]}}}, "default 64 is not among"),
    ],
)
def test_more_mistakes_are_caught_when_the_job_loads(changes, message):
    table = {"app": "sentiment-rnn", **changes}
    with pytest.raises(CnnrnnError, match=message):
        make_job(table)


def test_a_job_with_the_old_option_names_reads_them_as_the_new_ones():
    job = make_job(
        {
            "app": "video-classifier",
            "data": {"frame_size": [16, 16]},
            "model": {"rnn_layers": 2, "frame_encoder": "small_cnn"},
            "space": {"rnn_units": {"values": [32, 64]}},
        }
    )
    assert job.config["data"]["image_size"] == [16, 16]
    assert job.config["model"]["num_layers"] == 2
    assert job.space["units"] == {"values": [32, 64]}
    assert "rnn_units" not in job.space
