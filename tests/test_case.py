"""Checks shared by the tests of every application model.

Import them in a test module with `from test_case import run_model_smoke_test`
(pytest puts `tests/` on `sys.path` because `tests/conftest.py` lives there).
"""

import contextlib
import importlib.util

import keras
import numpy as np
import pytest


def tensorflow_only(why):
    """Skips a test of the `backends` subset on jax and torch, saying why."""
    return pytest.mark.skipif(
        keras.backend.backend() != "tensorflow",
        reason=f"tensorflow backend only: {why}",
    )


# Keras preprocessing layers such as TextVectorization run TensorFlow inside,
# on every backend; a GPU machine with only jax or torch has no TensorFlow.
needs_tensorflow_package = pytest.mark.skipif(
    importlib.util.find_spec("tensorflow") is None,
    reason="needs the tensorflow package (TextVectorization)",
)


def learning_check(test):
    """Marks a multi-epoch learning check: tensorflow only, traced (`graph`).

    On jax and torch the subset trains one step (smoke tests) and checks the
    forward pass against tensorflow's; whole fits take minutes on a CPU there.
    """
    return tensorflow_only("a multi-epoch learning check")(pytest.mark.graph(test))


@contextlib.contextmanager
def keras_steps(*, eager):
    """Runs Keras's train and predict steps eagerly, or as traced
    `tf.function`s as a user's training does (tensorflow; elsewhere nothing
    changes). `tests/models` runs them eagerly (see its `conftest.py`)."""
    if keras.backend.backend() != "tensorflow":
        yield
        return
    import tensorflow as tf

    before = tf.config.functions_run_eagerly()
    tf.config.run_functions_eagerly(eager)
    try:
        yield
    finally:
        tf.config.run_functions_eagerly(before)


def run_model_smoke_test(model, x, y, *, expected_output_shape, py_dataset=True):
    """Checks that a compiled model predicts, trains and rebuilds from its config.

    It predicts and trains one step traced (`keras_steps`: every configuration
    of a factory is checked in graph mode once), on a `keras.utils.PyDataset`
    (the input that every backend takes; tf.data needs TensorFlow), or with
    `train_on_batch` for inputs that a `PyDataset` cannot hold. The rebuilt
    model is called directly (eagerly) on numeric inputs: tracing a second
    model's predict function would double the cost of the test and check
    nothing more.

    Args:
        model: compiled `keras.Model` with a single output.
        x: inputs of one small batch.
        y: targets of that batch.
        expected_output_shape: tuple. Shape of `model.predict(x)`.
        py_dataset: bool. Whether `x` fits a `PyDataset` (Keras's takes no
            strings). Defaults to True.
    """
    with keras_steps(eager=False):
        outputs = model.predict(x, verbose=0)
        assert outputs.shape == tuple(expected_output_shape)

        if py_dataset:
            logs = model.fit(_OneBatch(x, y), epochs=1, verbose=0).history
            loss = logs["loss"][-1]
        else:
            logs = model.train_on_batch(x, y, return_dict=True)
            loss = logs["loss"]
    assert np.isfinite(loss), logs

    rebuilt = model.__class__.from_config(model.get_config())
    assert rebuilt.output_shape == model.output_shape
    assert [layer.name for layer in rebuilt.layers] == [
        layer.name for layer in model.layers
    ]
    rebuilt_outputs = rebuilt(x) if py_dataset else rebuilt.predict(x, verbose=0)
    assert tuple(keras.ops.shape(rebuilt_outputs)) == outputs.shape


class _OneBatch(keras.utils.PyDataset):
    """A `PyDataset` of one batch `(x, y)`."""

    def __init__(self, x, y):
        super().__init__()
        self.batch = (x, y)

    def __len__(self):
        return 1

    def __getitem__(self, index):
        return self.batch


def run_saving_test(model, x, tmp_path, *, atol=1e-6):
    """Checks that a model saved to `.keras` loads safely with the same outputs.

    Args:
        model: `keras.Model` using only serialisable (registered) layers.
        x: inputs to compare the outputs on.
        tmp_path: `pathlib.Path` of a scratch folder (the `tmp_path` fixture).
        atol: float. Largest allowed absolute difference. Defaults to 1e-6.

    Returns:
        The loaded model.
    """
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_allclose(
        loaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=atol
    )
    return loaded


def assert_learns(model, x, y, *, epochs, min_accuracy, batch_size=8):
    """Fits a compiled model on small learnable data and checks its accuracy.

    The model must be compiled with the `"accuracy"` metric. After fitting, it
    is evaluated on the same data in inference mode (no dropout or
    augmentation, batch norm moving statistics), so the check also covers the
    path a saved model predicts with.

    Args:
        model: compiled `keras.Model`.
        x: training inputs.
        y: training targets.
        epochs: int. Number of epochs to fit.
        min_accuracy: float. Accuracy the fitted model must reach.
        batch_size: int. Defaults to 8.

    Returns:
        The `keras.callbacks.History` of the fit.
    """
    with keras_steps(eager=False):
        history = model.fit(x, y, epochs=epochs, batch_size=batch_size, verbose=0)
        logs = model.evaluate(x, y, batch_size=batch_size, return_dict=True, verbose=0)
    accuracy = logs["accuracy"]
    assert accuracy >= min_accuracy, (
        f"accuracy {accuracy:.3f} < {min_accuracy} after {epochs} epochs; "
        f"history: {history.history}"
    )
    return history


def assert_optimizer_kind(optimizer, kind):
    """Checks that an optimizer is of class `kind` (not a subclass such as AdamW).

    The torch backend gives each Keras optimizer a subclass of the same name.
    """
    assert isinstance(optimizer, kind), optimizer
    assert type(optimizer).__name__ == kind.__name__, optimizer


def assert_unfrozen_but_batch_norm(backbone):
    """Every layer of a fine-tuned backbone trains, but its batch norm layers."""
    for layer in backbone.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            assert not layer.trainable, layer.name
        elif layer.weights:
            assert layer.trainable, layer.name
