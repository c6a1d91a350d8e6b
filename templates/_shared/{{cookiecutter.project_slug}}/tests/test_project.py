{%- set app = cookiecutter._app -%}
"""{{ cookiecutter.project_name }}'s own tests: config, model, training, prediction."""

import pathlib

import pytest
from cnnrnn import runs, training
from cnnrnn.apps import get_app
from cnnrnn.config import load_config_file, resolve_config
from cnnrnn.data import demo

import predict
import train

ROOT = pathlib.Path(__file__).resolve().parents[1]
APP = get_app("{{ app }}")


@pytest.fixture(scope="module")
def config():
    return resolve_config(APP, file_config=load_config_file(ROOT / "config.toml"))


@pytest.fixture(scope="module")
def demo_data(tmp_path_factory):
    """A small copy of the generated demo data, so that training takes seconds."""
    folder = tmp_path_factory.mktemp("demo") / "data"
{%- if app == "plant-classifier" %}
    return demo.write_plant_demo(folder, images_per_class=6, image_size=32)
{%- elif app == "sentiment-rnn" %}
    return demo.write_sentiment_demo(folder, num_reviews=60) / "reviews.csv"
{%- elif app == "char-generator" %}
    return demo.write_char_demo(folder, num_speeches=30) / "play.txt"
{%- elif app == "video-classifier" %}
    return demo.write_video_demo(folder, clips_per_class=3, num_frames=6, frame_size=16)
{%- elif app == "image-captioner" %}
    return demo.write_caption_demo(folder, num_scenes=24, image_size=32)
{%- endif %}


def test_config_loads_with_the_chosen_options(config):
{%- if app == "plant-classifier" %}
    assert config["data"]["image_size"] == [{{ cookiecutter.image_size }}] * 2
    assert config["model"]["depth"] == {{ cookiecutter.depth }}
{%- elif app == "sentiment-rnn" %}
    assert config["model"]["rnn_type"] == "{{ cookiecutter.rnn_type }}"
    assert config["model"]["units"] == {{ cookiecutter.units }}
{%- elif app == "char-generator" %}
    assert config["model"]["rnn_type"] == "{{ cookiecutter.rnn_type }}"
    assert config["data"]["sequence_length"] == {{ cookiecutter.sequence_length }}
{%- elif app == "video-classifier" %}
    assert config["model"]["rnn_type"] == "{{ cookiecutter.rnn_type }}"
    assert config["data"]["num_frames"] == {{ cookiecutter.num_frames }}
{%- elif app == "image-captioner" %}
    assert config["model"]["attention"] == "{{ cookiecutter.attention }}"
    assert config["data"]["image_size"] == [{{ cookiecutter.image_size }}] * 2
{%- endif %}


def test_model_builds_from_the_config(config, demo_data):
    splits = training.load_splits(APP, config, source=str(demo_data))
{%- if app in ("plant-classifier", "sentiment-rnn", "video-classifier") %}
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
{%- if app == "sentiment-rnn" %}
    sample = "A wonderful film"
{%- elif app == "char-generator" %}
    assert predict.main([str(run), "The "]) == 0
    assert capsys.readouterr().out.startswith("The ")
{%- elif app == "video-classifier" %}
    sample = str(next(pathlib.Path(demo_data).rglob("*.mp4")))
{%- else %}
    sample = str(next(pathlib.Path(demo_data).rglob("*.png")))
{%- endif %}
{%- if app != "char-generator" %}
    assert predict.main([str(run), sample, "--json"]) == 0
    assert sample in capsys.readouterr().out
{%- endif %}
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
