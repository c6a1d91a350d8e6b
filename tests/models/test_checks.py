import keras
import numpy as np
import pytest
from test_case import assert_optimizer_kind

from cnnrnn.models.checks import (
    ACTIVATIONS,
    OPTIMIZERS,
    check_activation,
    check_optimizer,
    make_optimizer,
    with_learning_rate,
)
from cnnrnn.models.layers import conv_block

pytestmark = pytest.mark.backends


@pytest.mark.parametrize(
    ("name", "cls"),
    [
        ("adam", keras.optimizers.Adam),
        ("rmsprop", keras.optimizers.RMSprop),
        ("sgd", keras.optimizers.SGD),
    ],
)
def test_make_optimizer(name, cls):
    assert name in OPTIMIZERS
    optimizer = make_optimizer(name, 1e-2)
    assert_optimizer_kind(optimizer, cls)
    assert float(optimizer.learning_rate) == pytest.approx(1e-2)
    assert optimizer.weight_decay is None
    decayed = make_optimizer(name, 1e-2, weight_decay=1e-4)
    assert decayed.weight_decay == pytest.approx(1e-4)


def test_sgd_has_momentum():
    optimizer = make_optimizer("sgd", 1e-2, weight_decay=0)
    assert optimizer.momentum == 0.9
    assert optimizer.weight_decay is None


def test_weight_decay_shrinks_weights_without_gradient():
    variable = keras.Variable(np.ones(3, "float32"))
    optimizer = make_optimizer("adam", 0.1, weight_decay=0.5)
    optimizer.apply([keras.ops.zeros(3)], [variable])
    # Decoupled: variable -= learning_rate * weight_decay * variable.
    np.testing.assert_allclose(keras.ops.convert_to_numpy(variable), 0.95, rtol=1e-6)


@pytest.mark.parametrize(
    ("optimizer", "weight_decay", "message"),
    [
        (
            "adamw",
            0.0,
            r"Received: optimizer='adamw'\. Expected one of 'adam', 'rmsprop', 'sgd'\.",
        ),
        ("Adam", 0.0, "optimizer='Adam'"),
        (None, 0.0, "optimizer=None"),
        ("adam", -1e-4, r"`weight_decay` must be a number >= 0\. .*=-0\.0001"),
        ("adam", None, "weight_decay=None"),
        ("adam", "0.1", "weight_decay='0.1'"),
        ("adam", True, "weight_decay=True"),
        ("adam", float("nan"), "weight_decay=nan"),
        ("adam", float("inf"), "weight_decay=inf"),
    ],
)
def test_check_optimizer_refuses(optimizer, weight_decay, message):
    with pytest.raises(ValueError, match=message):
        check_optimizer(optimizer, weight_decay)
    with pytest.raises(ValueError, match=message):
        make_optimizer(optimizer, 1e-3, weight_decay=weight_decay)


def test_check_activation():
    for activation in ACTIVATIONS:
        check_activation(activation)
    with pytest.raises(
        ValueError,
        match=r"Received: activation='tanh'\. Expected one of 'relu', 'gelu', "
        r"'silu', 'elu'\.",
    ):
        check_activation("tanh")


def test_with_learning_rate_keeps_kind_and_settings():
    optimizer = make_optimizer("sgd", 1e-2, weight_decay=1e-4)
    fresh = with_learning_rate(optimizer, 1e-5)
    assert fresh is not optimizer
    assert_optimizer_kind(fresh, keras.optimizers.SGD)
    assert fresh.momentum == 0.9
    assert fresh.weight_decay == pytest.approx(1e-4)
    assert float(fresh.learning_rate) == pytest.approx(1e-5)
    wrapped = keras.optimizers.LossScaleOptimizer(optimizer)
    assert_optimizer_kind(with_learning_rate(wrapped, 1e-5), keras.optimizers.SGD)


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_conv_block_activation_names(activation):
    inputs = keras.Input(shape=(8, 8, 3))
    model = keras.Model(inputs, conv_block(inputs, 4, name="b", activation=activation))
    names = [layer.name for layer in model.layers]
    assert names == [
        names[0],
        "b_conv1",
        "b_bn1",
        f"b_{activation}1",
        "b_conv2",
        "b_bn2",
        f"b_{activation}2",
        "b_pool",
    ]
    layer = model.get_layer(f"b_{activation}1")
    if activation == "relu":
        assert type(layer) is keras.layers.ReLU
    else:
        assert type(layer) is keras.layers.Activation
        assert layer.activation.__name__ == activation
