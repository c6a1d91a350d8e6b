"""Tiny trained runs of every application, for the serving tests."""

import pytest

from cnnrnn import cli

# Small, quick runs on each application's demo data (one epoch).
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
            run = tmp_path_factory.mktemp("runs") / app
            with pytest.MonkeyPatch.context() as patch:
                patch.setenv("CNNRNN_HOME", str(home))  # demo data written here
                argv = ["train", app, "--output", str(run), "--epochs", "1"]
                assert cli.main([*argv, *TINY_RUNS[app]]) == 0
            runs[app] = run
        return runs[app]

    return get


@pytest.fixture(scope="session")
def demo_home(trained_run, tmp_path_factory):
    """The folder where the tiny runs' demo data were written."""
    trained_run("plant-classifier")
    return next(tmp_path_factory.getbasetemp().glob("home*"))
