"""{{ cookiecutter.project_name }}'s own tests: config, model, training, prediction."""

import pathlib

import pytest
from cnnrnn import runs, training
from cnnrnn.apps import get_app, write_small_demo
from cnnrnn.config import load_config_file, resolve_config

import predict
import train

ROOT = pathlib.Path(__file__).resolve().parents[1]
APP = get_app("{{ cookiecutter._app }}")


@pytest.fixture(scope="module")
def config():
    return resolve_config(APP, file_config=load_config_file(ROOT / "config.toml"))


@pytest.fixture(scope="module")
def demo_data(tmp_path_factory):
    """A small copy of the generated demo data, so that training takes seconds."""
    return write_small_demo(APP, tmp_path_factory.mktemp("demo") / "data")


def test_config_loads_with_the_chosen_options(config):
    chosen = load_config_file(ROOT / "config.toml")
    for section, options in chosen.items():
        for name, value in options.items():
            assert config[section][name] == value, f"[{section}] {name}"


def test_model_builds_from_the_config(config, demo_data):
    splits = training.load_splits(APP, config, source=str(demo_data))
{%- if cookiecutter.num_classes is defined %}
    arguments = {**splits.model_args, "num_classes": {{ cookiecutter.num_classes }}}
    model = APP.build_model(**config["model"], **arguments)
    assert model.output_shape == (None, {{ cookiecutter.num_classes }})
{%- else %}
    model = APP.build_model(**config["model"], **splits.model_args)
    assert model.count_params() > 0
{%- endif %}


def test_one_epoch_on_demo_data_then_a_prediction(demo_data, tmp_path, capsys):
    run = tmp_path / "run"
    options = ["--data", str(demo_data), "--epochs", "1", "--output", str(run)]
    assert train.main(options) == 0
    assert runs.is_finished(run)
    capsys.readouterr()
{%- if cookiecutter._test_sample.text is defined %}
    sample = "{{ cookiecutter._test_sample.text }}"
{%- else %}
    demo = pathlib.Path(demo_data)  # a folder of examples, or one data file
    sample = str(demo if demo.is_file() else next(demo.rglob("{{ cookiecutter._test_sample.glob }}")))
{%- endif %}
    assert predict.main([str(run), sample, "--json"]) == 0
    assert sample in capsys.readouterr().out
{%- if cookiecutter.include_tuning_job == "yes" %}


def test_the_search_job_loads():
    from cnnrnn.tuning import load_job

    job = load_job(ROOT / "tuning" / "search.toml")
    assert job.app is APP
{%- endif %}
{%- if cookiecutter.include_notebook == "yes" %}


def test_the_notebook_is_valid_python():
    import json

    notebook = json.loads((ROOT / "notebooks" / "explore.ipynb").read_text())
    for cell in notebook["cells"]:
        if cell["cell_type"] == "code":
            compile("".join(cell["source"]), "explore.ipynb", "exec")
{%- endif %}
