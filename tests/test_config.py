import json

import pytest

from cnnrnn import apps
from cnnrnn.config import current_names, load_config_file, resolve_config
from cnnrnn.errors import CnnrnnError

APP = apps.get_app("plant-classifier")


def test_defaults_hold_every_factory_option():
    config = resolve_config(APP, overrides={"data": {"source": "my_photos"}})
    assert config["app"] == "plant-classifier"
    assert config["model"]["depth"] == 4  # the application's, over the factory's
    assert config["model"]["base_filters"] == 32  # the factory's
    assert "num_classes" not in config["model"]
    assert config["training"]["epochs"] == 40
    assert config["devices"] == {"precision": "auto", "strategy": "auto"}


def test_the_demo_data_gets_its_showcase_settings_and_own_data_does_not(tmp_path):
    demo = resolve_config(APP)
    assert demo["data"]["image_size"] == [32, 32]
    assert demo["model"]["base_filters"] == 16
    assert demo["model"]["depth"] == 3
    own = resolve_config(APP, overrides={"data": {"source": "my_photos"}})
    assert own["data"]["image_size"] == "auto"
    assert own["model"]["base_filters"] == 32
    assert own["model"]["depth"] == 4
    path = tmp_path / "config.toml"
    path.write_text('[data]\nsource = "my_photos"\n')
    assert resolve_config(APP, file_config=load_config_file(path)) == own
    # On the demo, a file and the command line still win over the showcase.
    mine = resolve_config(APP, overrides={"model": {"base_filters": 8}})
    assert mine["model"]["base_filters"] == 8
    assert mine["data"]["image_size"] == [32, 32]


@pytest.mark.parametrize("name", [n for n, app in apps.APPS.items() if app.demo])
def test_each_demo_gets_its_own_showcase_settings_and_own_data_the_defaults(name):
    app = apps.get_app(name)
    demo = resolve_config(app)
    own = resolve_config(app, overrides={"data": {"source": "my_data"}})
    for section, options in app.demo.items():
        for key, value in options.items():
            assert demo[section][key] == value
            assert own[section][key] != value, f"{section}.{key}"


def test_overrides_win_over_the_file_which_wins_over_defaults(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text("[model]\ndepth = 2\ndropout = 0.4\n[training]\nepochs = 3\n")
    config = resolve_config(
        APP, file_config=load_config_file(path), overrides={"model": {"depth": 4}}
    )
    assert config["model"]["depth"] == 4
    assert config["model"]["dropout"] == 0.4
    assert config["training"]["epochs"] == 3


def test_json_config_and_a_previous_run_config_load(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(
        '{"app": "plant-classifier", "model": {"depth": 2}, "data_info": {}}'
    )
    assert load_config_file(path) == {"model": {"depth": 2}}


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"model": {"num_layers": 2}}, "Unknown model option 'num_layers'"),
        ({"inference": {"beam_width": 2}}, "Unknown inference option 'beam_width'"),
        ({"data": {"imagesize": 3}}, "Unknown data option 'imagesize'"),
        ({"optimizer": {"lr": 1}}, "Unknown config section 'optimizer'"),
    ],
)
def test_unknown_options_are_named(overrides, message):
    with pytest.raises(CnnrnnError, match=message):
        resolve_config(APP, overrides=overrides)


def test_missing_config_file(tmp_path):
    with pytest.raises(CnnrnnError, match="not found"):
        load_config_file(tmp_path / "nope.toml")


def test_old_option_names_read_as_the_new_ones(tmp_path):
    """Config files and run directories written before the renames still load."""
    old = {
        "app": "video-classifier",
        "data": {"source": "clips", "frame_size": [48, 48]},
        "model": {
            "frame_encoder": "small_cnn",
            "train_encoder": True,
            "rnn_layers": 2,
            "rnn_units": 32,
        },
        "model_from_data": {"frame_shape": [48, 48, 3], "num_frames": 8},
        "training": {"epochs": 3, "beam_width": 2},
    }
    new = current_names(old)
    assert new["data"] == {"source": "clips", "image_size": [48, 48]}
    assert new["model"] == {
        "backbone": "small_cnn",
        "train_backbone": True,
        "num_layers": 2,
        "units": 32,
    }
    assert new["model_from_data"] == {"image_shape": [48, 48, 3], "num_frames": 8}
    assert new["training"] == {"epochs": 3}
    assert new["inference"] == {"beam_width": 2}
    assert old["training"] == {"epochs": 3, "beam_width": 2}  # not changed in place
    path = tmp_path / "config.json"
    path.write_text(json.dumps({**old, "training": {"epochs": 3}}))
    config = resolve_config(
        apps.get_app("video-classifier"), file_config=load_config_file(path)
    )
    assert config["model"]["units"] == 32 and config["data"]["image_size"] == [48, 48]
    captioner = resolve_config(
        apps.get_app("image-captioner"), overrides={"training": {"beam_width": 5}}
    )
    assert captioner["inference"] == {"beam_width": 5}
    assert "beam_width" not in captioner["training"]


@pytest.mark.parametrize(
    "name, option",
    [
        ("video-classifier", "num_workers"),
        ("plant-classifier", "data_dir"),
        ("plant-classifier", "class_names"),
        ("char-generator", "vocabulary"),
    ],
)
def test_every_option_of_the_data_loader_is_a_data_option(name, option):
    config = resolve_config(apps.get_app(name), overrides={"data": {option: None}})
    assert config["data"][option] is None


@pytest.mark.parametrize(
    "text, message",
    [
        ('{"model": {"depth": 2,}}', "not valid JSON \\(line 1 column 23"),
        ('[{"model": {"depth": 2}}]', "not a JSON object"),
        ('"model"', "not a JSON object"),
        ('{"model": [2]}', "section 'model' is not an object"),
    ],
)
def test_a_broken_json_config_file_is_a_one_line_error(tmp_path, text, message):
    path = tmp_path / "config.json"
    path.write_text(text)
    with pytest.raises(CnnrnnError, match=message) as caught:
        load_config_file(path)
    assert f"'{path}'" in str(caught.value)


def test_a_config_file_that_is_a_json_list_is_a_one_line_cli_error(tmp_path, capsys):
    from cnnrnn import cli

    path = tmp_path / "config.json"
    path.write_text('[{"model": {"depth": 2}}]')
    code = cli.main(["train", "plant-classifier", "--config", str(path)])
    err = capsys.readouterr().err
    assert code == 1 and len(err.strip().splitlines()) == 1, err
    assert str(path) in err and "not a JSON object" in err
    assert "Traceback" not in err and "Error:" not in err
