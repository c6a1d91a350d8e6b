"""Tiny trained runs of every application, for the serving tests: each on
a few examples of its demo data (`App.small_demo`), for one epoch."""

import pytest

from cnnrnn import cli
from cnnrnn.apps import APPS

# Small models, quick to train.
TINY_RUNS = {
    "plant-classifier": ["--set", "model.depth=1", "--set", "model.base_filters=4"],
    "sentiment-rnn": ["--set", "model.units=8", "--set", "model.embedding_dim=8"],
    "char-generator": ["--set", "model.units=16", "--set", "data.sequence_length=20"],
    "video-classifier": [
        "--set", "model.units=4", "--set", "model.encoder_filters=4",
        "--set", "model.encoder_depth=1", "--set", "model.encoder_units=8",
        "--set", "data.num_frames=4", "--set", "data.image_size=[16, 16]",
    ],
    "image-captioner": [
        "--set", "model.units=16", "--set", "model.embedding_dim=8",
        "--set", "model.encoder_depth=1", "--set", "model.encoder_filters=4",
        "--set", "data.image_size=[32, 32]",
    ],
    "series-forecaster": ["--set", "model.units=8"],
}  # fmt: skip


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory):
    """`trained_run(app)`: the folder of a tiny run of `app`, trained once."""
    runs = {}
    home = tmp_path_factory.mktemp("home")

    def get(app):
        if app not in runs:
            spec = APPS[app]
            folder = spec.write_demo_data(home / "demo" / app, **spec.small_demo)
            data = folder / spec.demo_source if spec.demo_source else folder
            run = tmp_path_factory.mktemp("runs") / app
            argv = ["train", app, "--data", str(data), "--output", str(run)]
            assert cli.main([*argv, "--epochs", "1", *TINY_RUNS[app]]) == 0
            runs[app] = run
        return runs[app]

    return get


@pytest.fixture(scope="session")
def demo_home(trained_run, tmp_path_factory):
    """The folder whose `demo/<app>` holds each tiny run's data."""
    trained_run("plant-classifier")
    return next(tmp_path_factory.getbasetemp().glob("home*"))
