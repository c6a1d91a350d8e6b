"""The generic training path: resume after interruption, fine-tuning phase."""

import csv
import os
import signal

import keras
import numpy as np
import pytest
from rich.console import Console

from cnnrnn import apps, interrupts, runs, training
from cnnrnn.config import resolve_config
from cnnrnn.demos.plant_classifier import write_plant_demo
from cnnrnn.errors import CnnrnnError
from cnnrnn.progress import RichProgress


@pytest.fixture(scope="module")
def small_demo(tmp_path_factory):
    return write_plant_demo(
        tmp_path_factory.mktemp("data") / "plants", images_per_class=16, image_size=32
    )


def small_config(source, **training_options):
    overrides = {
        "data": {"source": str(source), "image_size": [32, 32], "batch_size": 16},
        "model": {"depth": 1, "base_filters": 4},
        "training": {"epochs": 4, "early_stopping_patience": 10, **training_options},
    }
    return resolve_config(apps.get_app("plant-classifier"), overrides=overrides)


def history_epochs(run_dir):
    with open(run_dir / runs.HISTORY_FILE, newline="") as handle:
        return [int(row["epoch"]) for row in csv.DictReader(handle)]


def test_interrupted_training_resumes_where_it_stopped(
    small_demo, tmp_path, monkeypatch, seed
):
    app = apps.get_app("plant-classifier")
    config = small_config(small_demo)
    config["data"]["image_size"] = "auto"  # what it chose is saved, and resumes
    console = Console(record=True, width=200)
    original = RichProgress.on_epoch_end

    def interrupt_after_second_epoch(self, epoch, logs=None):
        original(self, epoch, logs)
        if epoch == 1:
            raise KeyboardInterrupt

    monkeypatch.setattr(RichProgress, "on_epoch_end", interrupt_after_second_epoch)
    with pytest.raises(KeyboardInterrupt):
        training.train(app, config=config, run_dir=tmp_path, console=console)
    assert not runs.is_finished(tmp_path)
    assert history_epochs(tmp_path) == [0, 1]

    monkeypatch.setattr(RichProgress, "on_epoch_end", original)
    metrics = training.train(app, config=config, run_dir=tmp_path, console=console)
    output = console.export_text()
    assert "Resuming" in output
    assert "chosen from the data: data.image_size = [32, 32]" in output
    saved = runs.read_json(tmp_path / runs.CONFIG_FILE)
    assert saved["data"]["image_size"] == [32, 32]
    assert history_epochs(tmp_path) == [0, 1, 2, 3]
    assert metrics["epochs"] == 4
    assert runs.is_finished(tmp_path)


def test_resuming_with_another_configuration_is_refused(small_demo, tmp_path):
    runs.write_json(tmp_path / runs.CONFIG_FILE, small_config(small_demo, epochs=9))
    with pytest.raises(runs.RunDirError, match="different configuration"):
        training.train(
            apps.get_app("plant-classifier"),
            config=small_config(small_demo),
            run_dir=tmp_path,
            console=Console(quiet=True),
        )


def test_frozen_backbone_then_fine_tuning(small_demo, tmp_path, seed):
    app = apps.get_app("plant-classifier")
    config = small_config(small_demo, epochs=1, fine_tune_epochs=1)
    config["model"].update(backbone="mobilenet_v1_0.25", augment=False)
    metrics = training.train(
        app, config=config, run_dir=tmp_path, console=Console(quiet=True)
    )
    assert history_epochs(tmp_path) == [0, 1]
    assert metrics["epochs"] == 2
    _, _, model = training.load_run(tmp_path)
    backbone = model.get_layer("plant_classifier_backbone")
    assert any(layer.trainable for layer in backbone.layers)


def test_frozen_backbone_trains_on_precomputed_features(small_demo, tmp_path):
    app = apps.get_app("plant-classifier")
    config = small_config(small_demo, epochs=2, precompute_features=True)
    config["model"].update(backbone="mobilenet_v1_0.25", augment=False)
    console = Console(record=True, width=200)
    metrics = training.train(app, config=config, run_dir=tmp_path, console=console)
    assert "Computed the encoder's features once" in console.export_text()
    assert metrics["epochs"] == 2 and "accuracy" in metrics
    _, _, model = training.load_run(tmp_path)
    assert model.input_shape == (None, 32, 32, 3)  # still takes raw pixels


def test_precomputed_features_then_fine_tuning_keeps_the_best_phase(
    small_demo, tmp_path, seed
):
    """A fine-tuning phase that only got worse leaves the frozen phase's weights."""
    app = apps.get_app("plant-classifier")
    config = small_config(
        small_demo,
        epochs=2,
        precompute_features=True,
        fine_tune_epochs=1,
        fine_tune_learning_rate=50.0,  # diverges
    )
    config["model"].update(backbone="mobilenet_v1_0.25", augment=False)
    console = Console(record=True, width=200)
    metrics = training.train(app, config=config, run_dir=tmp_path, console=console)
    assert "Computed the encoder's features once" in console.export_text()
    assert history_epochs(tmp_path) == [0, 1, 2]
    assert metrics["best_epoch"] <= 2
    _, saved_config, model = training.load_run(tmp_path)
    backbone = model.get_layer("plant_classifier_backbone")
    assert any(layer.trainable for layer in backbone.layers)
    splits = training.load_splits(app, saved_config)
    loss = model.evaluate(splits.validation, verbose=0, return_dict=True)["loss"]
    assert loss == pytest.approx(metrics["best_val_loss"], rel=1e-3)


@pytest.mark.parametrize(
    "devices",
    [
        {"strategy": "mirrored", "precision": "float32"},
        {"strategy": "one_device", "precision": "mixed_float16"},
    ],
    ids=["mirrored", "mixed_float16"],
)
def test_training_under_a_strategy_or_mixed_precision(
    small_demo, tmp_path, devices, seed, monkeypatch
):
    import tensorflow as tf

    setups, built = [], []
    configure, build_model = training.devices.configure, training.build_model

    def spy_configure(**options):
        setups.append(configure(**options))
        return setups[-1]

    def spy_build_model(app, config):
        model = build_model(app, config)
        built.append((model, tf.distribute.get_strategy()))
        return model

    monkeypatch.setattr(training.devices, "configure", spy_configure)
    monkeypatch.setattr(training, "build_model", spy_build_model)
    config = small_config(small_demo, epochs=1)
    config["devices"].update(devices)
    console = Console(record=True, width=200)
    try:
        metrics = training.train(
            apps.get_app("plant-classifier"),
            config=config,
            run_dir=tmp_path,
            console=console,
        )
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert runs.is_finished(tmp_path)
    (setup,) = setups
    ((model, strategy),) = built
    precision, strategy_name = devices["precision"], devices["strategy"]
    assert (setup.precision, setup.strategy_name) == (precision, strategy_name)
    assert f"(backend tensorflow, {precision}, {strategy_name})" in (
        console.export_text()
    )
    # The model was built inside the strategy's scope, with the policy's dtypes.
    assert strategy is setup.strategy
    if strategy_name == "mirrored":
        assert isinstance(strategy, tf.distribute.MirroredStrategy)
    compute_dtype = "float16" if precision == "mixed_float16" else "float32"
    assert model.dtype_policy.name == precision
    _, _, loaded = training.load_run(tmp_path)
    for trained in (model, loaded):
        # The first layer with weights (a convolution; the output layer is
        # float32 under any policy).
        layer = next(layer for layer in trained.layers if layer.weights)
        assert layer.compute_dtype == compute_dtype, layer.name
        assert layer.variable_dtype == "float32", layer.name
    # The reported accuracy is the saved model's on the test split.
    _, split, recomputed = training.evaluate_run(tmp_path)
    assert split == metrics["evaluated_on"] == "test"
    assert metrics["accuracy"] == pytest.approx(recomputed["accuracy"], abs=1e-6)


def test_a_time_budget_stops_training_after_the_epoch_that_reaches_it(
    small_demo, tmp_path
):
    app = apps.get_app("plant-classifier")
    config = small_config(small_demo, epochs=4, max_minutes=1e-4)  # 6 ms
    metrics = training.train(
        app, config=config, run_dir=tmp_path, console=Console(quiet=True)
    )
    assert history_epochs(tmp_path) == [0] and metrics["epochs"] == 1
    assert runs.is_finished(tmp_path)


@pytest.mark.parametrize("budget", [0, -1, True, "10"])
def test_a_time_budget_must_be_a_positive_number(small_demo, tmp_path, budget):
    with pytest.raises(CnnrnnError, match="max_minutes=.*Expected a positive number"):
        training.train(
            apps.get_app("plant-classifier"),
            config=small_config(small_demo, max_minutes=budget),
            run_dir=tmp_path,
            console=Console(quiet=True),
        )


def test_ctrl_c_dropped_by_a_finalizer_still_stops_training_at_the_next_batch(capsys):
    """Python drops a KeyboardInterrupt raised in a finalizer (as between two
    search trials); within `remembered` the next batch raises it again."""

    class PressesCtrlCWhenCollected:
        def __del__(self):
            os.kill(os.getpid(), signal.SIGINT)
            for _ in range(1000):  # the handler runs here, and raises here
                pass

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    data = np.zeros((8, 2)), np.zeros((8, 1))
    with interrupts.remembered():
        PressesCtrlCWhenCollected()  # collected at once: the interrupt is dropped
        with pytest.raises(KeyboardInterrupt):
            model.fit(*data, epochs=3, callbacks=[training.RaiseIfInterrupted()])
    assert "Exception ignored" not in capsys.readouterr().err
    model.fit(*data, epochs=1, verbose=0)  # outside, forgotten


def test_ctrl_c_while_a_checkpoint_is_written_stops_after_it(
    small_demo, tmp_path, monkeypatch
):
    """Ctrl-C pressed during a weights write: the file is finished first (a
    half-written one made the run impossible to resume), then training stops
    at the next batch, and the run resumes."""
    app = apps.get_app("plant-classifier")
    config = small_config(small_demo)
    save_weights = keras.Model.save_weights
    saved_after_the_press = []

    def press_ctrl_c_while_saving(self, filepath, *args, **kwargs):
        if not saved_after_the_press:
            os.kill(os.getpid(), signal.SIGINT)
            for _ in range(1000):  # where the interrupt would land
                pass
        save_weights(self, filepath, *args, **kwargs)
        saved_after_the_press.append(filepath)

    monkeypatch.setattr(keras.Model, "save_weights", press_ctrl_c_while_saving)
    quiet = Console(quiet=True)
    with pytest.raises(KeyboardInterrupt):
        training.train(app, config=config, run_dir=tmp_path, console=quiet)
    assert saved_after_the_press  # the write the press fell in was finished
    assert history_epochs(tmp_path) == [0]  # stopped in the next epoch

    monkeypatch.setattr(keras.Model, "save_weights", save_weights)
    training.train(app, config=config, run_dir=tmp_path, console=quiet)
    assert history_epochs(tmp_path) == [0, 1, 2, 3]
