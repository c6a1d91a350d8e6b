"""Measured complexity profile of a Keras model: size, FLOPs, memory, latency.

Every number is measured on the model itself, on any Keras backend: FLOPs by
counting the matrix products and convolutions that one forward pass really
runs, activation memory from the tensors of that pass, latency by timing
`predict_on_batch`.

The counters rely on Keras 3 internals, kept in this module: keras ops
dispatch at call time through the active backend's modules
`keras.src.backend.numpy` and `keras.src.backend.nn`; every layer call ends
in `Operation.__call__`; functional models run their graph in
`Function._run_through_graph`; `_flatten_layers` lists the nested layers of
a model.
"""

import contextlib
import dataclasses
import math
import re
import statistics
import time

import keras
import numpy as np
from keras.src import backend as backend_modules
from keras.src.models.functional import Functional
from keras.src.ops.function import Function
from keras.src.ops.operation import Operation

from cnnrnn import private_api

private_api.check("keras", "Model profiling")

# `measure_latency` stops repeating once its timed calls took this long.
_LATENCY_BUDGET_S = 2.0


@dataclasses.dataclass(frozen=True)
class ModelProfile:
    """Complexity profile of a model, per example.

    Attributes:
        name: str. `model.name`.
        parameters: int. `model.count_params()`.
        trainable_parameters: int. Number of trainable parameters.
        flops: int. FLOPs of one example's forward pass in inference mode
            (see `count_flops`).
        activation_bytes: int. Peak activation memory of one example's
            forward pass, in bytes (see `peak_activation_bytes`).
        latency_ms: dict. Maps a batch size to the median milliseconds per
            example of `predict_on_batch` at that batch size.
    """

    name: str
    parameters: int
    trainable_parameters: int
    flops: int
    activation_bytes: int
    latency_ms: dict

    def as_dict(self):
        """Returns the profile as a JSON-serialisable dict.

        Returns:
            A dict of the fields, with the batch sizes of `latency_ms` as str.
        """
        fields = dataclasses.asdict(self)
        fields["latency_ms"] = {str(k): v for k, v in self.latency_ms.items()}
        return fields


def count_flops(model, example):
    """Counts the FLOPs of one forward pass of a model, by running it.

    The model runs once eagerly in inference mode (`model(example,
    training=False)`) while every matrix product and convolution that
    actually executes is counted from the real shapes of its arguments and
    result, with the convention of fvcore and PyTorch's `FlopCounterMode`:
    2 FLOPs per multiply-accumulate in `matmul`, `dot`, `tensordot`,
    `einsum`, `dot_product_attention` and `conv`, `depthwise_conv`,
    `separable_conv`, `conv_transpose`. Element-wise ops, activations,
    pooling, normalisation, bias adds and gathers (`Embedding`) count 0.
    An `einsum` with more than two operands counts as evaluated naively.

    Recurrent layers run unrolled and without fused kernels during the count
    (their `unroll` and `use_cudnn` attributes are restored afterwards), so
    every time step is counted on every backend. Not thread-safe: keras ops run by
    other threads during the count are counted too.

    Args:
        model: `keras.Model`. The model to run.
        example: NumPy array, or a nest of them, holding one example batched
            as the model takes it (leading dimension 1). Strings as a NumPy
            array of dtype `object`.

    Returns:
        int. FLOPs per example.

    Raises:
        ValueError: if `example` does not have a leading dimension of 1.

    Example:

    >>> inputs = keras.Input((4,))
    >>> model = keras.Model(inputs, keras.layers.Dense(3)(inputs))
    >>> count_flops(model, np.zeros((1, 4)))
    24
    """
    inputs = _to_tensors(example)
    with _unrolled_rnns(model), _counting_flops() as counter:
        model(inputs, training=False)
    return counter.flops


def peak_activation_bytes(model, example):
    """Measures the peak activation memory of one forward pass of a model.

    The peak is the largest total size of the tensors alive at once while
    the model runs once eagerly in inference mode: the model's inputs and
    every layer's output, each alive from the layer that produces it until
    its last consumer has run (the model's outputs until the end).

    The layers of nested functional and `Sequential` models count as layers
    of the model, also when another layer runs such a model (as
    `cnnrnn.models.video_classifier.FrameDistributed` runs its frame
    encoder). Other layers are opaque: the temporaries of a wrapper such as
    `Bidirectional`, of a recurrent loop or of a custom layer do not count,
    nor do weights. For a subclassed (non-functional) model only its inputs
    and outputs are seen: the result is their total size.

    A tensor takes the size of its real shape times the size of its dtype;
    string tensors count 0 bytes, since their size depends on the text and
    not on the model. Masks passed to a layer count like any input. Not
    thread-safe: layers called by other threads during the pass are seen
    too.

    Args:
        model: `keras.Model`. The model to run.
        example: NumPy array, or a nest of them, holding one example batched
            as the model takes it (leading dimension 1). Strings as a NumPy
            array of dtype `object`.

    Returns:
        int. Peak activation bytes per example.

    Raises:
        ValueError: if `example` does not have a leading dimension of 1.

    Example:

    >>> inputs = keras.Input((4,))
    >>> model = keras.Model(inputs, keras.layers.Dense(3)(inputs))
    >>> peak_activation_bytes(model, np.zeros((1, 4), "float32"))
    28
    """
    inputs = _to_tensors(example)
    with _recording_calls() as trace:
        outputs = model(inputs, training=False)
    trace.record([], keras.tree.flatten(outputs))
    return trace.peak_bytes()


def measure_latency(model, example, *, batch_size, repeats=20, warmup=3):
    """Times `model.predict_on_batch` on a batch of copies of one example.

    The example is repeated `batch_size` times along axis 0. After `warmup`
    untimed calls (the first one builds the predict function), the batch is
    predicted up to `repeats` times; the repeats stop early once the timed
    calls took 2 seconds, after at least 3 of them, so a slow model is not
    timed for minutes.

    Args:
        model: `keras.Model`. The model to time.
        example: NumPy array, or a nest of them, holding one example batched
            as the model takes it (leading dimension 1). Strings as a NumPy
            array of dtype `object`.
        batch_size: int. Number of examples per call, at least 1.
        repeats: int. Largest number of timed calls, at least 3. Defaults
            to 20.
        warmup: int. Number of untimed calls first, at least 1. Defaults
            to 3.

    Returns:
        float. Median milliseconds per example.

    Raises:
        ValueError: if an argument is out of range or `example` does not have
            a leading dimension of 1.
    """
    for arg, value, low in (
        ("batch_size", batch_size, 1),
        ("repeats", repeats, 3),
        ("warmup", warmup, 1),
    ):
        if not isinstance(value, int) or value < low:
            raise ValueError(
                f"`{arg}` must be an int >= {low}. Received: {arg}={value!r}"
            )
    batch = keras.tree.map_structure(
        lambda x: np.repeat(x, batch_size, axis=0), _check_example(example)
    )
    for _ in range(warmup):
        model.predict_on_batch(batch)
    times = []
    while len(times) < repeats and (len(times) < 3 or sum(times) < _LATENCY_BUDGET_S):
        start = time.perf_counter()
        model.predict_on_batch(batch)
        times.append(time.perf_counter() - start)
    return statistics.median(times) / batch_size * 1000.0


def profile_model(model, example, *, batch_sizes=(1, 256), repeats=20):
    """Measures the complexity profile of a model.

    Args:
        model: `keras.Model`. The model to profile.
        example: NumPy array, or a nest of them, holding one example batched
            as the model takes it (leading dimension 1). Strings as a NumPy
            array of dtype `object`.
        batch_sizes: tuple of int. Batch sizes to time `predict_on_batch`
            at. Defaults to `(1, 256)`.
        repeats: int. Largest number of timed calls per batch size (see
            `measure_latency`). Defaults to 20.

    Returns:
        A `ModelProfile`.

    Raises:
        ValueError: if `example` does not have a leading dimension of 1 or a
            batch size is not a positive int.

    Example:

    >>> inputs = keras.Input((4,))
    >>> model = keras.Model(inputs, keras.layers.Dense(3)(inputs))
    >>> profile = profile_model(model, np.zeros((1, 4), "float32"))
    >>> profile.parameters, profile.flops
    (15, 24)
    """
    flops = count_flops(model, example)
    activation_bytes = peak_activation_bytes(model, example)
    latency_ms = {
        batch_size: measure_latency(
            model, example, batch_size=batch_size, repeats=repeats
        )
        for batch_size in batch_sizes
    }
    return ModelProfile(
        name=model.name,
        parameters=model.count_params(),
        trainable_parameters=sum(math.prod(w.shape) for w in model.trainable_weights),
        flops=flops,
        activation_bytes=activation_bytes,
        latency_ms=latency_ms,
    )


def format_bytes(n):
    """Formats a number of bytes for a table, in powers of 1000.

    Args:
        n: int. Number of bytes.

    Returns:
        str, such as `"512 B"`, `"1.2 MB"`.
    """
    return _format_scaled(n, ("B", "kB", "MB", "GB", "TB"))


def format_count(n):
    """Formats a count (parameters, FLOPs) for a table, in powers of 1000.

    Args:
        n: int. The count.

    Returns:
        str, such as `"512"`, `"3.4 M"`.
    """
    return _format_scaled(n, ("", "k", "M", "G", "T"))


def _format_scaled(n, units):
    value, unit = float(n), units[0]
    for larger in units[1:]:
        if abs(value) < 999.95:  # Would not round to 1000.0.
            break
        value, unit = value / 1000, larger
    if unit == units[0]:
        return f"{n:.0f} {unit}".rstrip()
    return f"{value:.1f} {unit}"


def _check_example(example):
    for x in keras.tree.flatten(example):
        shape = np.shape(x)
        if not shape or shape[0] != 1:
            raise ValueError(
                "`example` must hold one example (leading dimension 1). "
                f"Received: an input of shape {shape}"
            )
    return example


def _to_tensors(example):
    return keras.tree.map_structure(
        keras.ops.convert_to_tensor, _check_example(example)
    )


# ---------------------------------------------------------------------------
# FLOPs


def _shape(x):
    # Python numbers and (on some backends) variables are not tensors.
    return tuple(keras.ops.shape(x) if keras.ops.is_tensor(x) else np.shape(x))


def _size(x):
    return math.prod(_shape(x))


def _matmul_flops(result, x1, x2):
    return 2 * _size(result) * _shape(x1)[-1]


def _dot_flops(result, x1, x2):
    if not _shape(x1) or not _shape(x2):
        return 0  # A product with a scalar is element-wise.
    return _matmul_flops(result, x1, x2)


def _tensordot_flops(result, x1, x2, axes=2):
    shape = _shape(x1)
    if isinstance(axes, int):
        contracted = shape[len(shape) - axes :]
    else:
        x1_axes = axes[0] if isinstance(axes[0], (list, tuple)) else [axes[0]]
        contracted = [shape[axis] for axis in x1_axes]
    if not contracted:
        return 0  # An outer product is element-wise.
    return 2 * _size(result) * math.prod(contracted)


def _einsum_flops(result, subscripts, *operands, **kwargs):
    inputs, _, output = subscripts.replace(" ", "").partition("->")
    terms = inputs.split(",")
    sizes = {}
    labels_in = set()
    for term, operand in zip(terms, operands, strict=True):
        shape = _shape(operand)
        head, ellipsis, tail = term.partition("...")
        labels = list(head)
        if ellipsis:
            broadcast = len(shape) - len(head) - len(tail)
            labels += [f"...{i}" for i in range(broadcast, 0, -1)]
        labels += list(tail)
        for label, size in zip(labels, shape, strict=True):
            sizes[label] = max(size, sizes.get(label, 1))
        labels_in.update(labels)
    if "->" in subscripts:
        labels_out = set(output.replace("...", "")) | {
            label for label in labels_in if label.startswith("...")
        }
        summed = labels_in - labels_out
    else:
        letters = [c for c in inputs if c.isalpha()]
        summed = {c for c in letters if letters.count(c) > 1}
    if not summed or len(operands) < 2:
        return 0  # Element-wise products, transposes and reductions.
    return 2 * (len(operands) - 1) * math.prod(sizes.values())


def _dot_product_attention_flops(result, query, key, *args, **kwargs):
    # Q.K^T and probs.V: 2 * key_length MACs per query and per output element.
    return 2 * _shape(key)[1] * (_size(query) + _size(result))


def _conv_flops(result, inputs, kernel, *args, **kwargs):
    # kernel: (*spatial, input_channels / groups, filters).
    return 2 * _size(result) * math.prod(_shape(kernel)[:-1])


def _depthwise_conv_flops(result, inputs, kernel, *args, **kwargs):
    # kernel: (*spatial, input_channels, depth_multiplier).
    return 2 * _size(result) * math.prod(_shape(kernel)[:-2])


def _separable_conv_flops(
    result, inputs, depthwise_kernel, pointwise_kernel, *args, **kwargs
):
    # The depthwise output has the positions of the result and the channels
    # that the pointwise kernel, (*ones, channels, filters), reads.
    *_, channels, filters = _shape(pointwise_kernel)
    depthwise_outputs = _size(result) // filters * channels
    depthwise = 2 * depthwise_outputs * math.prod(_shape(depthwise_kernel)[:-2])
    return depthwise + 2 * _size(result) * channels


def _conv_transpose_flops(result, inputs, kernel, *args, **kwargs):
    # kernel: (*spatial, filters, input_channels); every input element
    # multiplies a whole (*spatial, filters) slice.
    return 2 * _size(inputs) * math.prod(_shape(kernel)[:-1])


_FLOP_RULES = {
    "numpy": {
        "matmul": _matmul_flops,
        "dot": _dot_flops,
        "tensordot": _tensordot_flops,
        "einsum": _einsum_flops,
    },
    "nn": {
        "dot_product_attention": _dot_product_attention_flops,
        "conv": _conv_flops,
        "depthwise_conv": _depthwise_conv_flops,
        "separable_conv": _separable_conv_flops,
        "conv_transpose": _conv_transpose_flops,
    },
}


class _FlopCounter:
    def __init__(self):
        self.flops = 0
        self._depth = 0

    def wrap(self, function, rule):
        def counted(*args, **kwargs):
            # Count the outermost call only: a backend function may call
            # another counted one (separable_conv -> depthwise_conv).
            self._depth += 1
            try:
                result = function(*args, **kwargs)
            finally:
                self._depth -= 1
            # Symbolic calls only infer shapes (building a subclassed model).
            if self._depth == 0 and not backend_modules.in_symbolic_scope():
                self.flops += int(rule(result, *args, **kwargs))
            return result

        return counted


@contextlib.contextmanager
def _counting_flops():
    counter = _FlopCounter()
    originals = []
    try:
        for module_name, rules in _FLOP_RULES.items():
            module = getattr(backend_modules, module_name)
            for name, rule in rules.items():
                function = getattr(module, name)
                originals.append((module, name, function))
                setattr(module, name, counter.wrap(function, rule))
        yield counter
    finally:
        for module, name, function in originals:
            setattr(module, name, function)


@contextlib.contextmanager
def _unrolled_rnns(model):
    rnns = [
        layer
        for layer in model._flatten_layers()
        if isinstance(layer, keras.layers.RNN)
    ]
    # LSTM and GRU also run fused kernels (cuDNN, or torch's own on any
    # device) whenever `use_cudnn` allows; those bypass the counted ops.
    saved = [(rnn.unroll, getattr(rnn, "use_cudnn", None)) for rnn in rnns]
    try:
        for rnn in rnns:
            rnn.unroll = True
            if hasattr(rnn, "use_cudnn"):
                rnn.use_cudnn = False
        yield
    finally:
        for rnn, (unroll, use_cudnn) in zip(rnns, saved, strict=True):
            rnn.unroll = unroll
            if hasattr(rnn, "use_cudnn"):
                rnn.use_cudnn = use_cudnn


# ---------------------------------------------------------------------------
# Activation memory


def _is_graph(operation):
    """Whether an operation only runs the layers of its functional graph."""
    if isinstance(operation, keras.Sequential):
        return True
    return isinstance(operation, Functional) and type(operation).call is Functional.call


def _tensor_bytes(x):
    dtype = keras.backend.standardize_dtype(x.dtype)
    if dtype == "string":
        return 0
    bits = 8 if dtype == "bool" else int(re.search(r"\d+", dtype).group())
    return _size(x) * math.ceil(bits / 8)


class _Trace:
    """The tensors that each layer call of a forward pass reads and writes."""

    def __init__(self):
        # Each step is (inputs, outputs), lists of tensors, in the order the
        # calls return. Keeping the tensors keeps their ids unique.
        self.steps = []

    def record(self, inputs, outputs):
        self.steps.append(
            (
                [x for x in inputs if keras.ops.is_tensor(x)],
                [x for x in outputs if keras.ops.is_tensor(x)],
            )
        )

    def peak_bytes(self):
        first, last, sizes = {}, {}, {}
        for step, (inputs, outputs) in enumerate(self.steps):
            for x in inputs + outputs:
                first.setdefault(id(x), step)
                last[id(x)] = step
                sizes[id(x)] = _tensor_bytes(x)
        alive = [0] * len(self.steps)
        for key, size in sizes.items():
            for step in range(first[key], last[key] + 1):
                alive[step] += size
        return max(alive)


@contextlib.contextmanager
def _recording_calls():
    """Records the eager calls of the nodes of functional graphs.

    A node is an operation (layer or op) that a functional graph calls, or
    the outermost call. Functional and `Sequential` models are not recorded
    themselves: the nodes of their graphs are.
    """
    trace = _Trace()
    original_call = Operation.__call__
    original_run = Function._run_through_graph
    # One entry per running call or graph run: whether calls made now are
    # graph nodes.
    frames = []

    def call(operation, *args, **kwargs):
        recorded = (
            (not frames or frames[-1])
            and not _is_graph(operation)
            and not backend_modules.in_symbolic_scope()
        )
        inputs = keras.tree.flatten((args, kwargs))
        if recorded:
            # The inputs are alive while the layers that this one runs do.
            trace.record(inputs, [])
        frames.append(False)
        try:
            outputs = original_call(operation, *args, **kwargs)
        finally:
            frames.pop()
        if recorded:
            trace.record(inputs, keras.tree.flatten(outputs))
        return outputs

    def run_through_graph(function, *args, **kwargs):
        frames.append(True)
        try:
            return original_run(function, *args, **kwargs)
        finally:
            frames.pop()

    Operation.__call__ = call
    Function._run_through_graph = run_through_graph
    try:
        yield trace
    finally:
        Operation.__call__ = original_call
        Function._run_through_graph = original_run
