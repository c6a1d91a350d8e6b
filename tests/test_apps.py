"""The registry: every application's row is consistent, and its main job learns."""

import inspect
import pathlib

import keras
import pytest
from rich.console import Console

from cnnrnn import apps, training
from cnnrnn.config import resolve_config
from cnnrnn.demos.image_captioner import write_caption_demo
from cnnrnn.errors import CnnrnnError
from cnnrnn.plots import read_history

REAL_SENTIMENT = pathlib.Path(__file__).resolve().parents[2] / "shared/data/sentiment"


@pytest.mark.parametrize("app", apps.APPS.values(), ids=lambda app: app.name)
def test_registry_row_is_consistent(app, tmp_path):
    factory_options = inspect.signature(app.build_model).parameters
    assert set(app.model_from_data) <= set(factory_options)

    data = apps.write_small_demo(app, tmp_path / "demo")
    config = resolve_config(app, overrides={"data": {"source": str(data)}})
    splits = training.load_splits(app, config)
    assert set(splits.model_args) == set(app.model_from_data)
    model = training.build_model(app, {**config, "model_from_data": splits.model_args})
    inputs, targets = next(iter(splits.train))
    assert model.predict(inputs, verbose=0).shape[0] == len(targets)


@pytest.mark.parametrize("app", apps.APPS.values(), ids=lambda app: app.name)
def test_factory_signature_read_from_source_is_that_of_the_factory(app):
    """Model options are resolved from the factory's source, so that a dry run
    starts no backend: it must say what the imported factory takes."""
    factory = app.build_model
    from_source = apps.base._signature_from_source(factory.path)
    assert from_source is not None, f"{factory.path}: keep its defaults literals"
    imported = inspect.signature(factory.target).parameters.values()
    assert [(p.name, p.kind, p.default) for p in from_source.parameters.values()] == [
        (p.name, p.kind, p.default) for p in imported
    ]


def test_a_signature_with_a_default_that_is_not_a_literal_is_imported():
    lazy = apps.Lazy("cnnrnn.errors:check_choice")  # error=ValueError
    assert apps.base._signature_from_source(lazy.path) is None
    assert inspect.signature(lazy).parameters["error"].default is ValueError


def test_backend_check_names_the_backend_to_set(monkeypatch):
    apps.check_backend(apps.get_app("sentiment-rnn"))  # tensorflow
    monkeypatch.setattr(keras.backend, "backend", lambda: "torch")
    apps.check_backend(apps.get_app("plant-classifier"))
    with pytest.raises(
        CnnrnnError,
        match=r"sentiment-rnn needs the tensorflow backend \(active: torch\)\. "
        "Set KERAS_BACKEND=tensorflow",
    ):
        apps.check_backend(apps.get_app("sentiment-rnn"))


def test_unknown_application():
    with pytest.raises(CnnrnnError, match="cnnrnn list"):
        apps.get_app("plant_classifier")


@pytest.mark.slow  # the README's main job; fast: test_config's demo settings,
# tests/models/test_plant_classifier.py::test_learns_stripe_orientation, test_cli
def test_plant_classifier_learns_its_demo_data_with_default_settings(
    tmp_path, monkeypatch
):
    """The README's main job: >= 95% validation and >= 93% test accuracy, and
    no epoch after the best one below 80% (it trains smoothly)."""
    monkeypatch.setenv("CNNRNN_HOME", str(tmp_path / "home"))
    app = apps.get_app("plant-classifier")
    metrics = training.train(
        app,
        config=resolve_config(app),
        run_dir=tmp_path / "run",
        console=Console(quiet=True),
    )
    assert metrics["best_val_accuracy"] >= 0.95
    assert metrics["accuracy"] >= 0.93  # held-out test split, chance is 0.25
    history = read_history(tmp_path / "run" / "history.csv")
    assert min(history["val_accuracy"][metrics["best_epoch"] - 1 :]) >= 0.8


@pytest.mark.slow  # fast: tests/models/test_sentiment.py::test_learns_word_order
def test_sentiment_rnn_learns_its_demo_data_with_default_settings(
    tmp_path, monkeypatch
):
    """Word order decides the demo labels; the default RNN reaches >= 95%."""
    monkeypatch.setenv("CNNRNN_HOME", str(tmp_path / "home"))
    app = apps.get_app("sentiment-rnn")
    metrics = training.train(
        app,
        config=resolve_config(app),
        run_dir=tmp_path / "run",
        console=Console(quiet=True),
    )
    assert metrics["accuracy"] >= 0.95  # held-out test split, chance is 0.5


@pytest.mark.slow  # fast: test_char_generator.py::test_learns_a_repeated_phrase
def test_char_generator_learns_its_demo_play(tmp_path, monkeypatch):
    """The demo's settings: far below the 5.6 bits of a uniform guess."""
    monkeypatch.setenv("CNNRNN_HOME", str(tmp_path / "home"))
    app = apps.get_app("char-generator")
    metrics = training.train(
        app,
        config=resolve_config(app),
        run_dir=tmp_path / "run",
        console=Console(quiet=True),
    )
    assert metrics["best_val_bits_per_char"] < 1.0, metrics
    samples = (tmp_path / "run" / metrics["samples_file"]).read_text()
    assert ":\n" in samples  # speaker names end in a colon and a line break


@pytest.mark.slow  # fast: test_video_classifier.py::test_learns_motion_that_the_...
def test_video_classifier_learns_its_demo_motion(tmp_path, monkeypatch):
    """Only motion tells the demo classes apart; defaults reach >= 95% test."""
    monkeypatch.setenv("CNNRNN_HOME", str(tmp_path / "home"))
    app = apps.get_app("video-classifier")
    metrics = training.train(
        app,
        config=resolve_config(app),
        run_dir=tmp_path / "run",
        console=Console(quiet=True),
    )
    assert metrics["accuracy"] >= 0.95, metrics  # held-out test split, chance 0.25


@pytest.mark.skipif(not REAL_SENTIMENT.is_dir(), reason="../shared/data is absent")
def test_sentiment_rnn_on_real_review_sentences(tmp_path):
    """Both real files, stratified 80/20 split: at least 80% test accuracy."""
    corpus = tmp_path / "reviews.tsv"
    corpus.write_bytes(
        b"".join(
            (REAL_SENTIMENT / name).read_bytes()
            for name in ("amazon_cells_labelled.txt", "imdb_labelled.txt")
        )
    )
    app = apps.get_app("sentiment-rnn")
    data = {"source": str(corpus), "validation_split": 0.1, "test_split": 0.2}
    metrics = training.train(
        app,
        config=resolve_config(app, overrides={"data": data}),
        run_dir=tmp_path / "run",
        console=Console(quiet=True),
    )
    assert metrics["accuracy"] >= 0.8, metrics["accuracy"]


@pytest.mark.slow  # fast: test_image_captioner.py::test_learns_to_caption_colours
def test_image_captioner_learns_unseen_colour_shape_pairs(tmp_path):
    """Default model on fewer scenes: test scenes pair colours and shapes unseen."""
    app = apps.get_app("image-captioner")
    scenes = write_caption_demo(tmp_path / "scenes", num_scenes=600, image_size=32)
    config = resolve_config(
        app,
        overrides={"data": {"source": str(scenes)}, "training": {"epochs": 8}},
    )
    metrics = training.train(
        app, config=config, run_dir=tmp_path / "run", console=Console(quiet=True)
    )
    # The best constant caption scores 0.40 on the demo test split.
    assert metrics["bleu_4"] >= 0.7, metrics


@pytest.mark.slow
def test_image_captioner_reaches_bleu_4_of_0_6_with_default_settings(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("CNNRNN_HOME", str(tmp_path / "home"))
    app = apps.get_app("image-captioner")
    metrics = training.train(
        app,
        config=resolve_config(app),
        run_dir=tmp_path / "run",
        console=Console(quiet=True),
    )
    assert metrics["bleu_4"] >= 0.6, metrics
