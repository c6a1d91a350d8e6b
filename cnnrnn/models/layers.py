"""Building blocks shared by the application models."""

import keras

from cnnrnn.models.checks import compile_classifier

# The recurrent layers that every factory with an `rnn_type` argument offers.
RNN_TYPES = ("lstm", "gru")
RNN_LAYERS = {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU}


def conv_block(x, filters, *, name, activation="relu"):
    """Applies two 3x3 convolutions, each with batch norm and activation, then pools.

    Every convolution is `Conv2D(filters, 3, padding="same", use_bias=False)`
    followed by `BatchNormalization` and the activation (the norm makes a
    bias redundant). The norm's moving statistics use momentum 0.9 (as in
    PyTorch and keras-hub's ResNet) rather than Keras' 0.99, so they settle
    within a few epochs on small datasets. A 2x2 `MaxPooling2D` then halves
    the height and width.

    Args:
        x: tensor of shape `(batch, height, width, channels)`.
        filters: int. Number of filters of both convolutions.
        name: str. Prefix of the layer names: `f"{name}_conv1"`,
            `f"{name}_bn1"`, `f"{name}_relu1"`, ..., `f"{name}_pool"`.
        activation: str. Name of a Keras activation, such as `"relu"`,
            `"gelu"`, `"silu"` or `"elu"`. `"relu"` is a `keras.layers.ReLU`
            layer named `f"{name}_relu{i}"`; any other is a
            `keras.layers.Activation` named `f"{name}_{activation}{i}"`.
            Defaults to `"relu"`.

    Returns:
        Tensor of shape `(batch, height // 2, width // 2, filters)`.

    Example:

    >>> inputs = keras.Input(shape=(16, 16, 3))
    >>> conv_block(inputs, 8, name="block1").shape
    (None, 8, 8, 8)
    """
    for i in (1, 2):
        x = keras.layers.Conv2D(
            filters, 3, padding="same", use_bias=False, name=f"{name}_conv{i}"
        )(x)
        x = keras.layers.BatchNormalization(momentum=0.9, name=f"{name}_bn{i}")(x)
        if activation == "relu":
            x = keras.layers.ReLU(name=f"{name}_relu{i}")(x)
        else:
            x = keras.layers.Activation(activation, name=f"{name}_{activation}{i}")(x)
    return keras.layers.MaxPooling2D(2, name=f"{name}_pool")(x)


@keras.saving.register_keras_serializable(package="cnnrnn")
class ImageAugmentation(keras.layers.Layer):
    """Random flips, rotation, zoom and contrast, active only in training.

    Keras' random preprocessing layers augment whenever `training` is not
    passed, so a model that holds them directly augments when it is called as
    `model(x)` or exported with `model.export()`. This layer wraps them and
    makes inference (no augmentation) the default.

    Args:
        flip: str or None. `RandomFlip` mode. Defaults to
            `"horizontal_and_vertical"`.
        rotation: float. `RandomRotation` factor (fraction of a full turn).
            Defaults to 0.1.
        zoom: float. `RandomZoom` height factor. Defaults to 0.1.
        contrast: float. `RandomContrast` factor. Defaults to 0.1.
        seed: int or None. Seed of the random layers.
        **kwargs: base layer keyword arguments, such as `name`.

    Example:

    >>> augment = ImageAugmentation(rotation=0.2)
    >>> augment(keras.ops.zeros((2, 16, 16, 3)), training=True).shape
    (2, 16, 16, 3)
    """

    def __init__(
        self,
        flip="horizontal_and_vertical",
        rotation=0.1,
        zoom=0.1,
        contrast=0.1,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.flip, self.rotation, self.zoom = flip, rotation, zoom
        self.contrast, self.seed = contrast, seed
        self.augmentations = [
            keras.layers.RandomFlip(flip, seed=seed) if flip else None,
            keras.layers.RandomRotation(rotation, seed=seed) if rotation else None,
            keras.layers.RandomZoom(zoom, seed=seed) if zoom else None,
            keras.layers.RandomContrast(contrast, seed=seed) if contrast else None,
        ]
        self.augmentations = [layer for layer in self.augmentations if layer]

    def build(self, input_shape):
        for layer in self.augmentations:
            layer.build(input_shape)

    def call(self, inputs, training=False):
        if not training:
            return inputs
        for layer in self.augmentations:
            inputs = layer(inputs, training=True)
        return inputs

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "flip": self.flip,
            "rotation": self.rotation,
            "zoom": self.zoom,
            "contrast": self.contrast,
            "seed": self.seed,
        }


@keras.saving.register_keras_serializable(package="cnnrnn")
class ReverseChannels(keras.layers.Layer):
    """Reverses the last axis: RGB images become BGR, as Caffe-trained models want.

    Example:

    >>> pixel = keras.ops.convert_to_tensor([[[[1.0, 2.0, 3.0]]]])
    >>> keras.ops.convert_to_numpy(ReverseChannels()(pixel))[0, 0, 0]
    array([3., 2., 1.], dtype=float32)
    """

    def call(self, inputs):
        return keras.ops.flip(inputs, axis=-1)


@keras.saving.register_keras_serializable(package="cnnrnn")
class BoundSequenceLength(keras.layers.Layer):
    """Keeps padded token ids between 1 and `max_length` tokens long.

    Takes the `(batch, steps)` integer ids of a vectorizer that pads with 0 at
    the end, such as `keras.layers.TextVectorization(output_mode="int")`.
    Sequences longer than `max_length` keep their first `max_length` ids.
    A sequence with no tokens at all (an empty text, or only punctuation)
    becomes the single id `empty_value`, the out-of-vocabulary id by default:
    recurrent layers fail on a batch with zero steps, and cuDNN fails on a
    sequence that is masked throughout. Padding is otherwise left as it is, so
    each batch stays only as long as its longest sequence.

    Args:
        max_length: int or None. Largest number of ids kept per sequence, or
            None to keep them all. Defaults to None.
        empty_value: int. Id that stands for an empty sequence. Defaults to 1,
            the out-of-vocabulary id of `TextVectorization`.
        **kwargs: base layer keyword arguments, such as `name`.

    Example:

    >>> ids = keras.ops.convert_to_tensor([[5, 6, 7, 8], [0, 0, 0, 0]])
    >>> keras.ops.convert_to_numpy(BoundSequenceLength(max_length=3)(ids))
    array([[5, 6, 7],
           [1, 0, 0]], dtype=int32)
    """

    def __init__(self, max_length=None, empty_value=1, **kwargs):
        super().__init__(**kwargs)
        self.max_length = max_length
        self.empty_value = empty_value

    def call(self, inputs):
        if self.max_length is not None:
            inputs = inputs[:, : self.max_length]
        # The padding column makes a first step exist even in a batch of length 0.
        first = keras.ops.pad(inputs, [[0, 0], [0, 1]])[:, :1]
        has_tokens = keras.ops.any(keras.ops.not_equal(inputs, 0), axis=1)
        first = keras.ops.where(
            keras.ops.expand_dims(has_tokens, 1),
            first,
            keras.ops.cast(self.empty_value, first.dtype),
        )
        return keras.ops.concatenate([first, inputs[:, 1:]], axis=1)

    def compute_output_shape(self, input_shape):
        batch, steps = input_shape
        if steps is not None and self.max_length is not None:
            steps = min(steps, self.max_length)
        return (batch, None if steps is None else max(steps, 1))

    def get_config(self):
        return {
            **super().get_config(),
            "max_length": self.max_length,
            "empty_value": self.empty_value,
        }


@keras.saving.register_keras_serializable(package="cnnrnn")
class MaskedGlobalMaxPooling1D(keras.layers.Layer):
    """Global max pooling over time that ignores masked (padding) steps.

    `keras.layers.GlobalMaxPooling1D` ignores the mask, so padding steps take
    part in the maximum and the result of a sequence depends on how long the
    other sequences of its batch are. This layer takes the maximum over the
    unmasked steps only; a sequence masked throughout pools to zeros.

    Args:
        **kwargs: base layer keyword arguments, such as `name`.

    Example:

    >>> x = keras.ops.convert_to_tensor([[[1.0], [5.0]], [[2.0], [9.0]]])
    >>> mask = keras.ops.convert_to_tensor([[True, True], [True, False]])
    >>> keras.ops.convert_to_numpy(MaskedGlobalMaxPooling1D()(x, mask=mask))
    array([[5.],
           [2.]], dtype=float32)
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs, mask=None):
        if mask is None:
            return keras.ops.max(inputs, axis=1)
        mask = keras.ops.expand_dims(keras.ops.cast(mask, "bool"), -1)
        lowest = keras.ops.cast(float("-inf"), inputs.dtype)
        pooled = keras.ops.max(keras.ops.where(mask, inputs, lowest), axis=1)
        return keras.ops.where(
            keras.ops.any(mask, axis=1), pooled, keras.ops.zeros_like(pooled)
        )

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[2])


@keras.saving.register_keras_serializable(package="cnnrnn")
class AttentionPooling1D(keras.layers.Layer):
    """Additive (Bahdanau) attention pooling over time with a masked softmax.

    Scores every step as `score_t = v . tanh(W h_t + b)`, turns the scores
    into weights with a softmax over the unmasked steps (masked steps weigh
    exactly 0; a sequence masked throughout pools to zeros) and returns the
    weighted sum of the steps. The softmax runs in float32, also under a
    mixed-precision policy.

    Args:
        units: int. Size of the hidden layer that scores the steps.
        **kwargs: base layer keyword arguments, such as `name`.

    Example:

    >>> pool = AttentionPooling1D(16)
    >>> keras.ops.shape(pool(keras.ops.ones((2, 5, 8))))
    (2, 8)
    """

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.supports_masking = True

    def build(self, input_shape):
        features = input_shape[-1]
        self.kernel = self.add_weight(
            name="kernel", shape=(features, self.units), initializer="glorot_uniform"
        )
        self.bias = self.add_weight(
            name="bias", shape=(self.units,), initializer="zeros"
        )
        self.score_kernel = self.add_weight(
            name="score_kernel", shape=(self.units, 1), initializer="glorot_uniform"
        )

    def call(self, inputs, mask=None):
        hidden = keras.ops.tanh(keras.ops.matmul(inputs, self.kernel) + self.bias)
        scores = keras.ops.squeeze(keras.ops.matmul(hidden, self.score_kernel), -1)
        scores = keras.ops.cast(scores, "float32")
        if mask is not None:
            mask = keras.ops.cast(mask, "bool")
            scores = keras.ops.where(mask, scores, -1e9)
        weights = keras.ops.exp(scores - keras.ops.max(scores, axis=1, keepdims=True))
        if mask is not None:
            weights = weights * keras.ops.cast(mask, "float32")
        total = keras.ops.sum(weights, axis=1, keepdims=True)
        weights = weights / keras.ops.maximum(total, keras.config.epsilon())
        weights = keras.ops.cast(keras.ops.expand_dims(weights, -1), inputs.dtype)
        return keras.ops.sum(inputs * weights, axis=1)

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[2])

    def get_config(self):
        return {**super().get_config(), "units": self.units}


@keras.saving.register_keras_serializable(package="cnnrnn")
class WordDropout(keras.layers.Layer):
    """Replaces random words by the out-of-vocabulary id while training.

    Takes `(batch, steps)` integer word ids padded with 0. In training, each
    word (an id above `unknown_id`) becomes `unknown_id` with probability
    `rate`; in inference the ids pass unchanged. A vocabulary learned from
    the training texts holds every training word, so without this the model
    never sees the out-of-vocabulary id before a new text brings one: it
    learns what an unknown word means, and to lean on no single word.

    Args:
        rate: float. Probability that a word is replaced, in `[0, 1)`.
        unknown_id: int. The out-of-vocabulary id. Defaults to 1, that of
            `TextVectorization`.
        seed: int or None. Seed of the random replacements. Defaults to None.
        **kwargs: base layer keyword arguments, such as `name`.

    Example:

    >>> ids = keras.ops.convert_to_tensor([[5, 6, 7, 0]])
    >>> keras.ops.convert_to_numpy(WordDropout(0.5)(ids))  # inference: unchanged
    array([[5, 6, 7, 0]], dtype=int32)
    """

    def __init__(self, rate, unknown_id=1, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.rate = rate
        self.unknown_id = unknown_id
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs, training=None):
        if not training or not self.rate:
            return inputs
        draw = keras.random.uniform(keras.ops.shape(inputs), seed=self.seed_generator)
        dropped = keras.ops.logical_and(
            keras.ops.greater(inputs, self.unknown_id), draw < self.rate
        )
        return keras.ops.where(
            dropped, keras.ops.cast(self.unknown_id, inputs.dtype), inputs
        )

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "rate": self.rate,
            "unknown_id": self.unknown_id,
            "seed": self.seed,
        }


@keras.saving.register_keras_serializable(package="cnnrnn")
class NgramBag(keras.layers.Layer):
    """Mean of word and word-pair embeddings: a fastText-style bag of n-grams.

    Takes `(batch, steps)` integer word ids padded with 0 (such as
    `keras.layers.TextVectorization(output_mode="int")` writes). Every word
    id has an embedding, and so has every pair of neighbouring words, hashed
    into `num_buckets` rows (`(first * 10007 + second) % num_buckets`, in
    int32 without overflow for `num_buckets` up to `2**16`). The
    layer returns the mean of the embeddings of a text's words and word pairs,
    ignoring the padding; a text with no words gives zeros. Word order beyond
    neighbouring pairs is lost, which is what makes the bag robust on small
    data sets: a linear layer on it is a bigram classifier.

    Args:
        vocabulary_size: int. Number of word ids, the padding id 0 included.
        output_dim: int. Size of the embeddings and of the output.
        num_buckets: int. Rows of the hashed word-pair embedding, at most
            `2**16`. Defaults to `2**16`.
        **kwargs: base layer keyword arguments, such as `name`.

    Example:

    >>> bag = NgramBag(vocabulary_size=10, output_dim=4)
    >>> ids = keras.ops.convert_to_tensor([[2, 3, 0], [0, 0, 0]])
    >>> keras.ops.shape(bag(ids))
    (2, 4)
    """

    def __init__(self, vocabulary_size, output_dim, num_buckets=2**16, **kwargs):
        super().__init__(**kwargs)
        self.vocabulary_size = vocabulary_size
        self.output_dim = output_dim
        self.num_buckets = num_buckets
        self.words = keras.layers.Embedding(vocabulary_size, output_dim, name="words")
        self.pairs = keras.layers.Embedding(num_buckets, output_dim, name="pairs")

    def build(self, input_shape):
        self.words.build(input_shape)
        self.pairs.build(input_shape)

    def call(self, inputs):
        ids = keras.ops.cast(inputs, "int32")
        words = keras.ops.cast(keras.ops.not_equal(ids, 0), self.compute_dtype)
        first, second = ids[:, :-1], ids[:, 1:]
        buckets = self.num_buckets
        pair_ids = ((first % buckets) * 10007 + second % buckets) % buckets
        pairs = words[:, :-1] * words[:, 1:]
        total = keras.ops.sum(
            self.words(ids) * words[..., None], axis=1
        ) + keras.ops.sum(self.pairs(pair_ids) * pairs[..., None], axis=1)
        count = keras.ops.sum(words, axis=1) + keras.ops.sum(pairs, axis=1)
        return total / keras.ops.maximum(count, 1.0)[:, None]

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.output_dim)

    def get_config(self):
        return {
            **super().get_config(),
            "vocabulary_size": self.vocabulary_size,
            "output_dim": self.output_dim,
            "num_buckets": self.num_buckets,
        }


def classifier_model(
    inputs,
    features,
    *,
    num_classes,
    dropout,
    learning_rate,
    compile,
    name,
    optimizer="adam",
    weight_decay=0.0,
):
    """Ends a classifier: dropout, a float32 softmax, then the (compiled) model.

    The softmax is float32 so that the model works under a mixed-precision
    policy. With `compile=True` it is compiled by `compile_classifier`.

    Args:
        inputs: the model's `keras.Input` tensor(s).
        features: tensor of shape `(batch, features)`.
        num_classes: int. Number of classes.
        dropout: float. Dropout rate before the softmax.
        learning_rate: float. Learning rate, used when compiling.
        compile: bool. Whether to compile the model.
        name: str. Model name and prefix of the layer names.
        optimizer: str. One of `"adam"`, `"rmsprop"`, `"sgd"`, used when
            compiling. Defaults to `"adam"`.
        weight_decay: float. Decoupled weight decay of the optimizer, used
            when compiling. Defaults to 0.0.

    Returns:
        A functional `keras.Model` returning class probabilities.
    """
    x = keras.layers.Dropout(dropout, name=f"{name}_dropout")(features)
    outputs = keras.layers.Dense(
        num_classes, activation="softmax", dtype="float32", name=f"{name}_predictions"
    )(x)
    model = keras.Model(inputs, outputs, name=name)
    if compile:
        compile_classifier(
            model, learning_rate, optimizer=optimizer, weight_decay=weight_decay
        )
    return model
