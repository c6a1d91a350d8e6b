"""Series forecaster: the last `lookback` steps -> the next `horizon` steps."""

import keras
import numpy as np

from cnnrnn.errors import check_choice
from cnnrnn.models.checks import (
    check_bool,
    check_fraction,
    check_int,
    check_optimizer,
    check_positive,
    make_optimizer,
)
from cnnrnn.models.layers import RNN_LAYERS, RNN_TYPES


@keras.saving.register_keras_serializable(package="cnnrnn")
class SubtractLastStep(keras.layers.Layer):
    """Each window minus its last step: `(batch, steps, features)`, last row 0.

    The network then sees the shape of the recent past, not its level, and
    forecasts changes from the last value (see `AddLastStep`): a series that
    leaves the range of its training rows (a trend) stays in familiar
    territory.
    """

    def call(self, windows):
        return windows - windows[:, -1:, :]

    def compute_output_shape(self, input_shape):
        return input_shape


@keras.saving.register_keras_serializable(package="cnnrnn")
class AddLastStep(keras.layers.Layer):
    """Adds the last step of the target columns back to forecast changes.

    Called on `[changes, windows]`: `changes` `(batch, horizon, targets)`,
    `windows` `(batch, steps, features)`; returns `changes` plus
    `windows[:, -1, target_indices]` at every step.

    Args:
        target_indices: list of int. The target columns of `windows`.
    """

    def __init__(self, target_indices, **kwargs):
        super().__init__(**kwargs)
        self.target_indices = [int(i) for i in target_indices]

    def call(self, inputs):
        changes, windows = inputs
        last = keras.ops.take(windows[:, -1:, :], self.target_indices, axis=-1)
        return changes + last

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self):
        return {**super().get_config(), "target_indices": self.target_indices}


def build_series_forecaster(
    *,
    lookback,
    horizon,
    num_features=1,
    target_indices=(0,),
    feature_mean=None,
    feature_std=None,
    rnn_type="lstm",
    num_layers=1,
    units=64,
    dropout=0.1,
    linear_skip=True,
    relative=True,
    learning_rate=1e-3,
    optimizer="adam",
    weight_decay=0.0,
    compile=True,
    name=None,
):
    """Builds a recurrent forecaster that takes and returns raw values.

    The model takes float32 windows `(batch, lookback, num_features)` of raw
    values and returns the next `horizon` values of the target features,
    `(batch, horizon, len(target_indices))`, all at once (direct multi-step
    forecasting). It is made of:

    1. `f"{name}_normalization"`: a `Normalization` layer holding
       `feature_mean` and `feature_std` (the training rows' statistics), so a
       saved model needs nothing else.
    2. `num_layers` LSTM or GRU layers of `units` units, dropout, then a
       `Dense` layer to `horizon * len(target_indices)` values.
    3. With `linear_skip`, a linear map of the whole normalised window added
       to that output (an autoregressive model the network corrects: never
       worse to start from, and what wins on short, smooth series).
    4. With `relative`, the network reads each window minus its last step
       (`SubtractLastStep`) and forecasts changes from the last values
       (`AddLastStep`): what a trend or a level shift needs.
    5. `f"{name}_denormalization"`: the targets' statistics applied back.

    Compiled with the `optimizer` (Adam by default), the mean squared error
    and the mean absolute error and root mean squared error as metrics.

    Args:
        lookback: int. Steps of each input window, at least 2.
        horizon: int. Steps forecast, at least 1.
        num_features: int. Columns of the series. Defaults to 1.
        target_indices: list of int. The columns forecast. Defaults to
            `(0,)`.
        feature_mean: list of float or None. Mean of every column (0s when
            None).
        feature_std: list of float or None. Standard deviation of every
            column (1s when None).
        rnn_type: `"lstm"` or `"gru"`. Defaults to `"lstm"`.
        num_layers: int. Stacked recurrent layers, at least 1. Defaults to 1.
        units: int. Units of each recurrent layer. Defaults to 64.
        dropout: float. Dropout after each recurrent layer, in `[0, 1)`.
            Defaults to 0.1.
        linear_skip: bool. Add the linear autoregressive path. Defaults to
            True.
        relative: bool. Read windows relative to their last step and
            forecast changes from it. Defaults to True.
        learning_rate: float. Learning rate of the optimizer, positive.
            Defaults to 1e-3.
        optimizer: str. One of `"adam"`, `"rmsprop"`, `"sgd"`. Defaults to
            `"adam"`.
        weight_decay: float. Decoupled weight decay, >= 0 (see
            `cnnrnn.models.checks.make_optimizer`). Defaults to 0.0.
        compile: bool. Whether to compile the model. Defaults to True.
        name: str or None. Model name and prefix of every layer name.
            Defaults to `"series_forecaster"`.

    Returns:
        A functional `keras.Model`.

    Raises:
        ValueError: if an argument is out of range or unknown.

    Example:

    >>> model = build_series_forecaster(lookback=24, horizon=6)
    >>> model.output_shape
    (None, 6, 1)
    """
    check_int("lookback", lookback, minimum=2)
    check_int("horizon", horizon)
    check_int("num_features", num_features)
    targets = list(target_indices)
    if not targets or any(
        not isinstance(i, int) or not 0 <= i < num_features for i in targets
    ):
        raise ValueError(
            f"Argument `target_indices` must list column positions from 0 to "
            f"{num_features - 1}. Received: target_indices={target_indices!r}"
        )
    mean = np.zeros(num_features) if feature_mean is None else np.array(feature_mean)
    std = np.ones(num_features) if feature_std is None else np.array(feature_std)
    if mean.shape != (num_features,) or std.shape != (num_features,):
        raise ValueError(
            f"Arguments `feature_mean` and `feature_std` need {num_features} "
            f"values each. Received: {len(mean)} and {len(std)}."
        )
    if not (std > 0).all():
        raise ValueError(
            f"Argument `feature_std` must be positive. Received: {list(std)}"
        )
    check_choice("rnn_type", rnn_type, RNN_TYPES)
    check_int("num_layers", num_layers)
    check_int("units", units)
    check_fraction("dropout", dropout)
    check_bool("linear_skip", linear_skip)
    check_bool("relative", relative)
    check_positive("learning_rate", learning_rate)
    check_optimizer(optimizer, weight_decay)
    name = name or "series_forecaster"
    outputs = horizon * len(targets)

    windows = keras.Input(shape=(lookback, num_features), name="windows")
    x = normalized = keras.layers.Normalization(
        mean=mean, variance=std**2, name=f"{name}_normalization"
    )(windows)
    if relative:
        x = SubtractLastStep(name=f"{name}_relative")(normalized)
    seen = x
    for index in range(1, num_layers + 1):
        x = RNN_LAYERS[rnn_type](
            units, return_sequences=index < num_layers, name=f"{name}_{rnn_type}{index}"
        )(x)
        if dropout:
            x = keras.layers.Dropout(dropout, name=f"{name}_dropout{index}")(x)
    x = keras.layers.Dense(outputs, name=f"{name}_forecast")(x)
    if linear_skip:
        flat = keras.layers.Flatten(name=f"{name}_flatten")(seen)
        linear = keras.layers.Dense(
            outputs, kernel_initializer="zeros", name=f"{name}_linear"
        )(flat)
        x = keras.layers.Add(name=f"{name}_add")([x, linear])
    x = keras.layers.Reshape((horizon, len(targets)), name=f"{name}_steps")(x)
    if relative:
        x = AddLastStep(targets, name=f"{name}_from_last")([x, normalized])
    forecast = keras.layers.Normalization(
        mean=mean[targets],
        variance=std[targets] ** 2,
        invert=True,
        dtype="float32",
        name=f"{name}_denormalization",
    )(x)
    model = keras.Model(windows, forecast, name=name)
    if compile:
        model.compile(
            optimizer=make_optimizer(
                optimizer, learning_rate, weight_decay=weight_decay
            ),
            loss="mse",
            metrics=[
                keras.metrics.MeanAbsoluteError(name="mae"),
                keras.metrics.RootMeanSquaredError(name="rmse"),
            ],
        )
    return model
