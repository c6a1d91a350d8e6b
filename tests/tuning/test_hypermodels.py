import dataclasses
import inspect
import math

import keras
import keras_tuner
import numpy as np
import pytest

from cnnrnn.apps import APPS
from cnnrnn.apps.base import COMMON_SPACE
from cnnrnn.config import resolve_config
from cnnrnn.training import RaiseIfInterrupted
from cnnrnn.tuning.hypermodels import FactoryHyperModel
from cnnrnn.tuning.space import check_spec, define, to_choice

# Small data-set arguments, as the data loaders would give them.
MODEL_FROM_DATA = {
    "sentiment-rnn": {
        "vocabulary": ["good", "bad"],
        "num_classes": 2,
        "standardize": APPS["sentiment-rnn"].defaults["data"]["standardize"],
    },
    "char-generator": {"vocabulary": list("ab c\n"), "lowercase": False},
}


def keyword_arguments(factory):
    return {
        parameter.name
        for parameter in inspect.signature(factory).parameters.values()
        if parameter.kind is parameter.KEYWORD_ONLY
    }


def recording(app):
    """The app with a factory that records its arguments, then builds."""
    calls = []

    def build_model(**arguments):
        calls.append(arguments)
        return app.build_model(**arguments)

    return dataclasses.replace(app, build_model=build_model), calls


def test_every_application_searches_the_common_hyperparameters():
    assert issubclass(FactoryHyperModel, keras_tuner.HyperModel)
    for app in APPS.values():
        assert set(COMMON_SPACE) <= set(app.search_space), app.name


@pytest.mark.parametrize("name", sorted(APPS))
def test_default_space_names_are_searchable_factory_arguments(name):
    app = APPS[name]
    space = APPS[name].search_space
    arguments = keyword_arguments(app.build_model)
    assert set(space) <= arguments - {"compile", "name"}
    assert not set(space) & set(app.model_from_data)


@pytest.mark.parametrize("name", sorted(APPS))
def test_default_space_holds_the_default_configuration(name):
    defaults = resolve_config(APPS[name])["model"]
    hp = keras_tuner.HyperParameters()
    for argument, spec in APPS[name].search_space.items():
        check_spec(argument, spec)
        assert define(hp, argument, spec, defaults[argument]) == defaults[argument]
    assert set(hp.values) == set(APPS[name].search_space)


@pytest.mark.parametrize("name", sorted(MODEL_FROM_DATA))
def test_first_trial_builds_the_template(name):
    app, calls = recording(APPS[name])
    defaults = resolve_config(APPS[name])["model"]
    space = APPS[name].search_space
    hypermodel = FactoryHyperModel(
        app,
        model_options=defaults,
        model_from_data=MODEL_FROM_DATA[name],
        space=space,
    )
    hp = keras_tuner.HyperParameters()
    model = hypermodel.build(hp)
    assert isinstance(model, keras.Model)
    (arguments,) = calls
    assert arguments == {**defaults, **MODEL_FROM_DATA[name]}
    assert hp.values == {argument: to_choice(defaults[argument]) for argument in space}


def test_trial_values_and_fixed_values_reach_the_factory():
    app, calls = recording(APPS["sentiment-rnn"])
    defaults = resolve_config(APPS["sentiment-rnn"])["model"]
    space = {
        "units": {"values": [16, 64]},
        "rnn_type": "gru",
        "pooling": {"values": ["last", "attention"]},
    }
    hypermodel = FactoryHyperModel(
        app,
        model_options={**defaults, "embedding_dim": 8},
        model_from_data=MODEL_FROM_DATA["sentiment-rnn"],
        space=space,
    )
    hp = keras_tuner.HyperParameters()
    hp.values.update({"units": 16, "pooling": "last"})
    hypermodel.build(hp)
    (arguments,) = calls
    assert arguments["units"] == 16
    assert arguments["pooling"] == "last"
    assert arguments["rnn_type"] == "gru"
    assert arguments["embedding_dim"] == 8  # from the model options, not searched
    assert arguments["bidirectional"] is True  # not in this space: the default
    assert set(hp.values) == set(space)


class FakeModel:
    """Stands for a compiled model: `fit` returns a history with given losses."""

    def __init__(self, losses):
        self.losses = losses
        self.fit_callbacks = None

    def fit(self, *args, callbacks=(), **kwargs):
        self.fit_callbacks = callbacks
        history = keras.callbacks.History()
        history.history = {"loss": list(self.losses)}
        return history


def hypermodel(trial_callbacks=None):
    return FactoryHyperModel(
        APPS["sentiment-rnn"],
        model_options={},
        model_from_data={},
        space={},
        trial_callbacks=trial_callbacks,
    )


def test_fit_returns_the_history_and_adds_the_trial_and_ctrl_c_callbacks():
    marker = keras.callbacks.Callback()
    model = FakeModel([0.7, 0.5])
    existing = keras.callbacks.Callback()
    history = hypermodel(trial_callbacks=lambda: [marker]).fit(
        keras_tuner.HyperParameters(), model, None, epochs=2, callbacks=[existing]
    )
    assert history.history["loss"] == [0.7, 0.5]
    first, stop_on_ctrl_c, last = model.fit_callbacks
    assert first is existing and last is marker
    assert isinstance(stop_on_ctrl_c, RaiseIfInterrupted)


@pytest.mark.parametrize("loss", [math.nan, math.inf])
def test_a_loss_that_is_not_finite_fails_the_trial(loss):
    model = FakeModel([0.7, loss])
    with pytest.raises(keras_tuner.errors.FailedTrialError, match="epoch 2"):
        hypermodel().fit(keras_tuner.HyperParameters(), model, None, epochs=2)


def test_a_diverging_model_fails_the_trial(seed):
    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Dense(1)(inputs))
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=1e30), loss="mse")
    x = np.full((8, 4), 100.0, dtype="float32")
    y = np.full((8, 1), 1.0, dtype="float32")
    with pytest.raises(keras_tuner.errors.FailedTrialError, match="loss became"):
        hypermodel().fit(
            keras_tuner.HyperParameters(), model, x, y, epochs=3, verbose=0
        )
