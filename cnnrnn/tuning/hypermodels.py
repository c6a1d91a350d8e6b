"""The Keras Tuner HyperModel of every application: hyperparameters -> factory
arguments.

`build(hp)` declares the job's search space on `hp` (by default the
application's `App.search_space`) and calls the application's factory; every
hyperparameter's default is the factory's default, so a search's first trial
is the plain template.
"""

import math

import keras_tuner

from cnnrnn.training import RaiseIfInterrupted
from cnnrnn.tuning.space import define


class FactoryHyperModel(keras_tuner.HyperModel):
    """Maps hyperparameters onto an application's model factory.

    Args:
        app: `cnnrnn.apps.App`. The application.
        model_options: dict. The factory arguments of the run configuration
            (`config["model"]`): the defaults of the searched arguments and
            the values of the others.
        model_from_data: dict. The factory arguments the data sets.
        space: dict. The merged search space (see `cnnrnn.tuning.space`).
        trial_callbacks: callable or None. `trial_callbacks()` returns Keras
            callbacks added to every trial's fit (progress, tracking; made per
            trial, so they need not be deep-copyable). Defaults to None.
    """

    def __init__(
        self, app, *, model_options, model_from_data, space, trial_callbacks=None
    ):
        super().__init__(name=app.name)
        self.app = app
        self.model_options = dict(model_options)
        self.model_from_data = dict(model_from_data)
        self.space = space
        self.trial_callbacks = trial_callbacks

    def build(self, hp):
        arguments = dict(self.model_options)
        for name, spec in self.space.items():
            arguments[name] = define(hp, name, spec, self.model_options.get(name))
        return self.app.build_model(**arguments, **self.model_from_data)

    def fit(self, hp, model, *args, callbacks=(), **kwargs):
        """Fits the trial's model; a loss that is not finite fails the trial."""
        callbacks = [*callbacks, RaiseIfInterrupted()]
        if self.trial_callbacks is not None:
            callbacks += self.trial_callbacks()
        history = model.fit(*args, callbacks=callbacks, **kwargs)
        for epoch, loss in enumerate(history.history.get("loss", []), start=1):
            if not math.isfinite(loss):
                raise keras_tuner.errors.FailedTrialError(
                    f"The training loss became {loss} at epoch {epoch}: this "
                    "trial's learning rate or optimizer diverges."
                )
        return history
