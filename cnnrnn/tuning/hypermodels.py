"""One Keras Tuner HyperModel per application: hyperparameters -> factory arguments.

Each HyperModel's `build(hp)` declares its search space on `hp` and calls the
application's factory; every hyperparameter's default is the factory's
default, so a search's first trial is the plain template.
"""

import math

import keras_tuner

from cnnrnn.tuning.space import define

# Hyperparameters every application searches: names are factory arguments.
COMMON_SPACE = {
    "learning_rate": {"min": 1e-4, "max": 1e-2, "sampling": "log"},
    "dropout": {"min": 0.0, "max": 0.5, "step": 0.1},
    "optimizer": {"values": ["adam", "rmsprop", "sgd"]},
    # Decoupled: each step shrinks a weight by learning_rate * weight_decay.
    "weight_decay": {"values": [0.0, 1e-3, 1e-2, 0.02, 0.05]},
}
_RNN_TYPES = {"values": ["lstm", "gru"]}
_ACTIVATIONS = {"values": ["relu", "gelu", "silu", "elu"]}


class FactoryHyperModel(keras_tuner.HyperModel):
    """Maps hyperparameters onto an application's model factory.

    Args:
        app: `cnnrnn.apps.App`. The application.
        model_options: dict. The factory arguments of the run configuration
            (`config["model"]`): the defaults of the searched arguments and
            the values of the others.
        model_from_data: dict. The factory arguments the data sets.
        space: dict. The merged search space (see `cnnrnn.tuning.space`).
        progress: callable or None. `progress()` returns a Keras callback
            added to every trial's fit (it is made per trial, so it need not
            be deep-copyable). Defaults to None.
    """

    default_space = COMMON_SPACE

    def __init__(self, app, *, model_options, model_from_data, space, progress=None):
        super().__init__(name=app.name)
        self.app = app
        self.model_options = dict(model_options)
        self.model_from_data = dict(model_from_data)
        self.space = space
        self.progress = progress

    def build(self, hp):
        arguments = dict(self.model_options)
        for name, spec in self.space.items():
            arguments[name] = define(hp, name, spec, self.model_options.get(name))
        return self.app.build_model(**arguments, **self.model_from_data)

    def fit(self, hp, model, *args, callbacks=(), **kwargs):
        """Fits the trial's model; a loss that is not finite fails the trial."""
        callbacks = list(callbacks)
        if self.progress is not None:
            callbacks.append(self.progress())
        history = model.fit(*args, callbacks=callbacks, **kwargs)
        for epoch, loss in enumerate(history.history.get("loss", []), start=1):
            if not math.isfinite(loss):
                raise keras_tuner.errors.FailedTrialError(
                    f"The training loss became {loss} at epoch {epoch}: this "
                    "trial's learning rate or optimizer diverges."
                )
        return history


class PlantClassifierHyperModel(FactoryHyperModel):
    default_space = {
        **COMMON_SPACE,
        "depth": {"min": 2, "max": 4},
        "base_filters": {"values": [16, 32, 64]},
        "activation": _ACTIVATIONS,
        "augment": {"boolean": True},
    }


class SentimentRNNHyperModel(FactoryHyperModel):
    default_space = {
        **COMMON_SPACE,
        "rnn_type": _RNN_TYPES,
        "bidirectional": {"boolean": True},
        "num_layers": {"min": 1, "max": 2},
        "units": {"values": [32, 64, 128]},
        "embedding_dim": {"values": [32, 64, 128]},
        "pooling": {"values": ["last", "max", "attention"]},
    }


class CharGeneratorHyperModel(FactoryHyperModel):
    default_space = {
        **COMMON_SPACE,
        "rnn_type": _RNN_TYPES,
        "num_layers": {"min": 1, "max": 3},
        "units": {"values": [128, 256, 512]},
        "embedding_dim": {"values": [32, 64, 128]},
    }


class VideoClassifierHyperModel(FactoryHyperModel):
    default_space = {
        **COMMON_SPACE,
        "encoder_depth": {"min": 2, "max": 4},
        "encoder_filters": {"values": [8, 16, 32]},
        "encoder_units": {"values": [64, 128, 256]},
        "activation": _ACTIVATIONS,
        "rnn_type": _RNN_TYPES,
        "bidirectional": {"boolean": True},
        "rnn_layers": {"min": 1, "max": 2},
        "rnn_units": {"values": [32, 64, 128]},
    }


class ImageCaptionerHyperModel(FactoryHyperModel):
    default_space = {
        **COMMON_SPACE,
        "encoder_depth": {"min": 2, "max": 4},
        "encoder_filters": {"values": [8, 16, 32]},
        "activation": _ACTIVATIONS,
        "units": {"values": [64, 128, 256]},
        "embedding_dim": {"values": [32, 64, 128]},
        "rnn_type": _RNN_TYPES,
        "attention": {"values": ["bahdanau", "luong", "none"]},
    }


HYPERMODELS = {
    "plant-classifier": PlantClassifierHyperModel,
    "sentiment-rnn": SentimentRNNHyperModel,
    "char-generator": CharGeneratorHyperModel,
    "video-classifier": VideoClassifierHyperModel,
    "image-captioner": ImageCaptionerHyperModel,
}
