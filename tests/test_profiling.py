import json

import keras
import numpy as np
import pytest
from keras.src import backend as backend_modules
from keras.src.ops.function import Function
from keras.src.ops.operation import Operation

from cnnrnn.profiling import (
    ModelProfile,
    count_flops,
    format_bytes,
    format_count,
    measure_latency,
    peak_activation_bytes,
    profile_model,
)

pytestmark = pytest.mark.backends

layers = keras.layers


def _chain(input_shape, *chain, dtype="float32"):
    inputs = keras.Input(input_shape, dtype=dtype)
    x = inputs
    for layer in chain:
        x = layer(x)
    return keras.Model(inputs, x)


def _zeros(*shape):
    return np.zeros((1, *shape), "float32")


class _Subclassed(keras.Model):
    def __init__(self, fail=False):
        super().__init__()
        self.dense = layers.Dense(3)
        self.fail = fail

    def call(self, x):
        x = self.dense(x)
        if self.fail:
            raise RuntimeError("failing model")
        return x


@pytest.mark.parametrize(
    "input_shape, chain, flops, params",
    [
        # 3x3 valid conv on 5x5x1: 3*3*2 outputs * (3*3*1) MACs = 162 -> 324;
        # dense 18 -> 3: 18*3 MACs -> 108. Params (9+1)*2 = 20, 18*3+3 = 57.
        ((5, 5, 1), [layers.Conv2D(2, 3), layers.Flatten(), layers.Dense(3)], 432, 77),
        # "same" padding, stride 2 on 6x6x2: 3*3*4 outputs * (3*3*2) MACs = 648.
        # Params 3*3*2*4 + 4 = 76.
        ((6, 6, 2), [layers.Conv2D(4, 3, padding="same", strides=2)], 1296, 76),
        # Depthwise 3x3, multiplier 2 on 5x5x2: 3*3*4 outputs * 3*3 MACs = 324.
        # Params 3*3*2*2 + 4 = 40.
        ((5, 5, 2), [layers.DepthwiseConv2D(3, depth_multiplier=2)], 648, 40),
        # Separable 3x3 -> 4 on 5x5x2: depthwise 3*3*2 outputs * 9 MACs = 162,
        # pointwise 3*3*4 outputs * 2 MACs = 72 -> 2*234. Params 18 + 8 + 4.
        ((5, 5, 2), [layers.SeparableConv2D(4, 3)], 468, 30),
        # Transposed 3x3 -> 4 on 3x3x2: 18 inputs * (3*3*4) MACs = 648.
        # Params 3*3*4*2 + 4 = 76.
        ((3, 3, 2), [layers.Conv2DTranspose(4, 3)], 1296, 76),
        # LSTM(3) on 4 steps of 2 features: per step x (2) @ (2, 12) and
        # h (3) @ (3, 12): 2*(24 + 36) = 120 -> 480. Params 4*3*(2+3+1) = 72.
        ((4, 2), [layers.LSTM(3)], 480, 72),
        # GRU(3), reset_after=True: per step x (2) @ (2, 9) and h (3) @ (3, 9):
        # 2*(18 + 27) = 90 -> 360. Params 3*3*(2+3) + 2*9 (two biases) = 63.
        ((4, 2), [layers.GRU(3)], 360, 63),
        # reset_after=False splits h @ (3, 9) into h @ (3, 6) and (r*h) @ (3, 3):
        # the same MACs. Params 3*3*(2+3+1) = 54.
        ((4, 2), [layers.GRU(3, reset_after=False)], 360, 54),
        # Two LSTM(3), one per direction.
        ((4, 2), [layers.Bidirectional(layers.LSTM(3))], 960, 144),
        # Dense on a sequence: 4 steps * 6*5 MACs = 120. Params 6*5 + 5 = 35.
        ((4, 6), [layers.Dense(5)], 240, 35),
    ],
)
def test_count_flops_matches_hand_computed(input_shape, chain, flops, params):
    model = _chain(input_shape, *chain)
    assert count_flops(model, _zeros(*input_shape)) == flops
    assert model.count_params() == params


@pytest.mark.parametrize("rnn", [layers.LSTM, layers.GRU])
def test_rnn_flops_scale_with_sequence_length(rnn):
    model = _chain((None, 2), rnn(3))
    four_steps = count_flops(model, _zeros(4, 2))
    assert four_steps > 0
    assert count_flops(model, _zeros(8, 2)) == 2 * four_steps


def test_embedding_is_a_gather():
    model = _chain((4,), layers.Embedding(10, 3), dtype="int32")
    assert count_flops(model, np.zeros((1, 4), "int32")) == 0


def test_count_flops_of_attention():
    inputs = keras.Input((4, 6))
    # Scores 4x6 @ 6x4 (96 MACs), weighted sum 4x4 @ 4x6 (96 MACs).
    attention = keras.Model(inputs, layers.Attention()([inputs, inputs]))
    assert count_flops(attention, _zeros(4, 6)) == 2 * (96 + 96)
    # 2 heads of size 3: query, key and value projections 4 * 6*6 MACs each,
    # scores 2 heads * 4x3 @ 3x4 = 96, weighted sum 96, output 4 * 6*6 = 144.
    outputs = layers.MultiHeadAttention(num_heads=2, key_dim=3)(inputs, inputs)
    multi_head = keras.Model(inputs, outputs)
    assert count_flops(multi_head, _zeros(4, 6)) == 2 * (3 * 144 + 96 + 96 + 144)


class _Ops(keras.Model):
    def __init__(self, function):
        super().__init__()
        self.function = function

    def call(self, x):
        return self.function(x)


_W = np.ones((4, 5), "float32")


@pytest.mark.parametrize(
    "function, flops",
    [
        # (3, 4) @ (4, 5): 3*5 outputs * 4 MACs.
        (lambda x: keras.ops.einsum("...ij,jk->...ik", x, _W), 2 * 15 * 4),
        (lambda x: keras.ops.tensordot(x, _W, axes=([2], [0])), 2 * 15 * 4),
        (lambda x: keras.ops.einsum("bij,bij->bij", x, x), 0),  # Element-wise.
        (lambda x: keras.ops.dot(x, 2.0), 0),  # Scaling.
        # 2 heads, 3 queries, 5 keys, size 4: Q.K^T 2*3*5*4 MACs, then as many.
        (
            lambda x: keras.ops.dot_product_attention(
                keras.ops.ones((1, 3, 2, 4)),
                keras.ops.ones((1, 5, 2, 4)),
                keras.ops.ones((1, 5, 2, 4)),
            ),
            2 * 2 * 120,
        ),
    ],
)
def test_count_flops_of_ops(function, flops):
    assert count_flops(_Ops(function), np.ones((1, 3, 4), "float32")) == flops


def test_count_flops_of_nested_and_subclassed_models():
    inner = _chain((4,), layers.Dense(8), layers.Dense(2))
    nested = _chain((4,), inner, layers.Dense(1))
    # 4*8 + 8*2 + 2*1 MACs.
    assert count_flops(nested, _zeros(4)) == 2 * (32 + 16 + 2)
    sequential = keras.Sequential([layers.Dense(3)])  # Built by the count.
    assert count_flops(sequential, _zeros(4)) == 2 * 12
    # Building a subclassed model calls it symbolically: not counted.
    assert count_flops(_Subclassed(), _zeros(4)) == 2 * 12


def test_count_flops_restores_what_it_patches():
    matmul = backend_modules.numpy.matmul
    conv = backend_modules.nn.conv
    lstm = layers.LSTM(3)
    count_flops(_chain((4, 2), lstm), _zeros(4, 2))
    assert backend_modules.numpy.matmul is matmul
    assert backend_modules.nn.conv is conv
    assert lstm.unroll is False

    with pytest.raises(RuntimeError, match="failing model"):
        count_flops(_Subclassed(fail=True), _zeros(4))
    assert backend_modules.numpy.matmul is matmul


def test_peak_activation_bytes_restores_what_it_patches():
    call = Operation.__call__
    run_through_graph = Function._run_through_graph
    with pytest.raises(RuntimeError, match="failing model"):
        peak_activation_bytes(_Subclassed(fail=True), _zeros(4))
    assert Operation.__call__ is call
    assert Function._run_through_graph is run_through_graph


def test_example_must_hold_one_example():
    model = _chain((4,), layers.Dense(3))
    with pytest.raises(ValueError, match="leading dimension 1"):
        count_flops(model, np.zeros((2, 4)))


def test_peak_activation_bytes_of_a_chain():
    # float32: input 2*4 = 8 bytes, 32 after each Dense(8), 4 at the end.
    # Dense 1: 8 + 32, Dense 2: 32 + 32, Dense 3: 32 + 4.
    model = _chain((2,), layers.Dense(8), layers.Dense(8), layers.Dense(1))
    assert peak_activation_bytes(model, _zeros(2)) == 64


def test_peak_activation_bytes_with_a_skip_connection():
    inputs = keras.Input((4,))
    a = layers.Dense(8)(inputs)
    b = layers.Dense(8)(a)
    c = layers.Add()([a, b])
    model = keras.Model(inputs, layers.Dense(1)(c))
    # a (32 bytes) stays alive until Add, which holds a, b and c: 3 * 32.
    assert peak_activation_bytes(model, _zeros(4)) == 96


def test_peak_activation_bytes_sees_inside_nested_models():
    inner = _chain((4,), layers.Dense(16), layers.Dense(2))
    model = _chain((4,), inner, layers.Dense(1))
    # Inside the inner model, Dense(16) holds 16 + 64 bytes.
    assert peak_activation_bytes(model, _zeros(4)) == 80
    # A subclassed model is opaque: its input (16) and output (12).
    assert peak_activation_bytes(_Subclassed(), _zeros(4)) == 28


def _text_model():
    vectorizer = layers.TextVectorization()
    vectorizer.adapt(["the movie was good", "the plot was bad", "a good plot"])
    texts = keras.Input((), dtype="string")
    x = layers.Embedding(vectorizer.vocabulary_size(), 4)(vectorizer(texts))
    x = layers.LSTM(3)(x)
    return keras.Model(texts, layers.Dense(2)(x))


@pytest.mark.skipif(
    keras.backend.backend() != "tensorflow", reason="string tensors need tensorflow"
)
def test_profile_of_a_string_input_model():
    model = _text_model()
    example = np.array(["the movie was good"], dtype=object)
    # 4 words; per LSTM step 2*(4*12 + 3*12) = 168; Dense 2*3*2 = 12.
    assert count_flops(model, example) == 4 * 168 + 12
    # Strings count 0: int64 ids 4*8 = 32 bytes, embeddings 4*4*4 = 64.
    assert peak_activation_bytes(model, example) == 32 + 64
    profile = profile_model(model, example, batch_sizes=(1, 4), repeats=3)
    assert profile.flops == 4 * 168 + 12


def test_measure_latency_is_per_example():
    model = _chain((4,), layers.Dense(3))
    for batch_size in (1, 4):
        latency = measure_latency(
            model, _zeros(4), batch_size=batch_size, repeats=3, warmup=1
        )
        assert isinstance(latency, float)
        assert latency > 0
    with pytest.raises(ValueError, match="batch_size"):
        measure_latency(model, _zeros(4), batch_size=0)


def test_profile_model_fields_are_json_serialisable():
    model = _chain((4,), layers.Dense(3))
    profile = profile_model(model, _zeros(4), batch_sizes=(1, 4), repeats=3)
    assert isinstance(profile, ModelProfile)
    assert (profile.name, profile.parameters, profile.trainable_parameters) == (
        model.name,
        15,
        15,
    )
    assert (profile.flops, profile.activation_bytes) == (24, 28)
    assert set(profile.latency_ms) == {1, 4}
    fields = json.loads(json.dumps(profile.as_dict()))
    assert set(fields["latency_ms"]) == {"1", "4"}
    assert fields["flops"] == 24


def test_format_helpers():
    assert format_bytes(512) == "512 B"
    assert format_bytes(1_234_567) == "1.2 MB"
    assert format_count(512) == "512"
    assert format_count(3_400_000) == "3.4 M"
    assert format_count(999_999) == "1.0 M"
