"""Tiny trained runs of every application, for the serving tests: each on
a few examples of its demo data (`App.small_demo`), for one epoch."""

import os

import pytest
from filelock import FileLock

from cnnrnn import cli, runs
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
def shared_folder(tmp_path_factory):
    """A folder every xdist worker of this test session shares."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@pytest.fixture(scope="session")
def trained_run(shared_folder):
    """`trained_run(app)`: the folder of a tiny run of `app`, trained once per
    test session, whichever worker asks first (the others wait for it)."""

    def get(app):
        run = shared_folder / "serving-runs" / app
        run.parent.mkdir(exist_ok=True)
        with FileLock(f"{run}.lock"):
            if not runs.is_finished(run):
                spec = APPS[app]
                folder = shared_folder / "serving-home" / "demo" / app
                spec.write_demo_data(folder, **spec.small_demo)
                data = folder / spec.demo_source if spec.demo_source else folder
                argv = ["train", app, "--data", str(data), "--output", str(run)]
                argv += ["--epochs", "1", "--overwrite", *TINY_RUNS[app]]
                assert cli.main(argv) == 0
        return run

    return get


@pytest.fixture(scope="session")
def demo_home(trained_run, shared_folder):
    """The folder whose `demo/<app>` holds each tiny run's data."""
    trained_run("plant-classifier")
    return shared_folder / "serving-home"
