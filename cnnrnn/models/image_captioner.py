"""Image captioner: image -> caption (CNN encoder + attention RNN decoder)."""

import keras
import numpy as np

from cnnrnn.errors import check_choice
from cnnrnn.models.backbones import (
    MIN_BACKBONE_SIZE,
    backbone_features,
    check_image_encoder,
)
from cnnrnn.models.checks import (
    check_activation,
    check_bool,
    check_fraction,
    check_image_shape,
    check_int,
    check_optimizer,
    check_positive,
    compile_like,
    make_optimizer,
)
from cnnrnn.models.layers import RNN_TYPES, conv_block
from cnnrnn.models.sampling import check_sampling_options, sample_from_logits
from cnnrnn.tokens import SPECIAL_TOKENS

ATTENTIONS = ("bahdanau", "luong", None)
# The ids of the first tokens of every caption vocabulary (`cnnrnn.tokens`),
# with which `cnnrnn.data.captions` writes captions too.
PAD_ID, UNK_ID, START_ID, END_ID = range(len(SPECIAL_TOKENS))
_CELLS = {"lstm": keras.layers.LSTMCell, "gru": keras.layers.GRUCell}
# Never generated: padding, unknown words and a second start.
_BANNED_IDS = (PAD_ID, UNK_ID, START_ID)


@keras.saving.register_keras_serializable(package="cnnrnn")
class CaptionEmbedding(keras.layers.Embedding):
    """An `Embedding` of caption token ids that keeps the vocabulary.

    The vocabulary (id -> word) and the longest caption are part of the
    layer's config, so they are saved inside `model.keras` and a loaded model
    writes captions in words (see `decode`).

    Args:
        vocabulary: list of str or None. The token of every id, starting
            with `SPECIAL_TOKENS`; None for a model that only knows ids.
            Defaults to None.
        max_length: int. Most words a caption has (without start and end).
            Defaults to 20.
        input_dim: int or None. Number of ids; must be `len(vocabulary)`
            when both are given.
        **kwargs: other `keras.layers.Embedding` arguments.
    """

    def __init__(self, vocabulary=None, max_length=20, input_dim=None, **kwargs):
        if vocabulary is not None:
            vocabulary = [str(token) for token in vocabulary]
            if input_dim not in (None, len(vocabulary)):
                raise ValueError(
                    f"Received: vocab_size={input_dim} with a vocabulary of "
                    f"{len(vocabulary)} tokens. Expected vocab_size="
                    f"{len(vocabulary)}, or leave vocab_size out."
                )
            input_dim = len(vocabulary)
        super().__init__(input_dim=input_dim, **kwargs)
        self.vocabulary = vocabulary
        self.max_length = max_length

    def decode(self, ids):
        """Returns the caption of `ids`: words up to the end token, joined."""
        words = []
        for i in ids:
            if int(i) == END_ID:
                break
            words.append(self.vocabulary[int(i)] if self.vocabulary else f"<{int(i)}>")
        return " ".join(words)

    def get_config(self):
        return {
            **super().get_config(),
            "vocabulary": self.vocabulary,
            "max_length": self.max_length,
        }


@keras.saving.register_keras_serializable(package="cnnrnn")
class AttentionDecoder(keras.layers.Layer):
    """A recurrent decoder that attends over a grid of image features.

    Runs an LSTM or GRU cell over the token embeddings, one step per token,
    from an initial state. At each step it looks at the image features
    through attention:

    - `"bahdanau"` (Show, Attend and Tell): the previous hidden state scores
      every feature with an additive (tanh) attention; the weighted feature
      context is fed to the cell with the token embedding.
    - `"luong"`: the new hidden state scores every feature with a bilinear
      ("general") attention after the cell step.
    - None: no attention (Show and Tell); the image reaches the decoder only
      through the initial state.

    The same `step` runs one token at a time for decoding (see
    `CaptionDecoder`) and the whole sequence for teacher-forced training
    (through `keras.ops.scan`), so both compute exactly the same thing.

    Args:
        rnn_type: `"lstm"` or `"gru"`. Defaults to `"lstm"`.
        units: int. Size of the hidden state. Defaults to 256.
        attention: `"bahdanau"`, `"luong"` or None. Defaults to
            `"bahdanau"`.
        **kwargs: base layer keyword arguments, such as `name`.

    Call arguments:
        embeddings: tensor `(batch, steps, embedding_dim)`.
        features: tensor `(batch, locations, feature_dim)`: the image grid.
        keys: tensor `(batch, locations, attention_dim)`: the features
            projected once for the additive score (`"bahdanau"`; ignored
            otherwise).
        initial_state: list of tensors `(batch, units)`: two for an LSTM,
            one for a GRU.

    Returns:
        A list: the outputs `(batch, steps, units + feature_dim)` (hidden
        state and context of every step; `(batch, steps, units)` without
        attention), then the final states.
    """

    def __init__(self, rnn_type="lstm", units=256, attention="bahdanau", **kwargs):
        super().__init__(**kwargs)
        self.rnn_type = rnn_type
        self.units = units
        self.attention = attention
        self.cell = _CELLS[rnn_type](units, name="cell")

    def build(self, embeddings_shape, features_shape, keys_shape, initial_state_shape):
        # The query is projected to the keys' size (additive score) or to the
        # features' size (bilinear score).
        if self.attention == "bahdanau":
            self.query = keras.layers.Dense(
                keys_shape[-1], use_bias=False, name="query"
            )
            self.score = keras.layers.Dense(1, use_bias=False, name="score")
            self.score.build((None, None, keys_shape[-1]))
            cell_inputs = embeddings_shape[-1] + features_shape[-1]
        else:
            cell_inputs = embeddings_shape[-1]
        if self.attention == "luong":
            self.query = keras.layers.Dense(
                features_shape[-1], use_bias=False, name="query"
            )
        if self.attention:
            self.query.build((None, self.units))
        self.cell.build((None, cell_inputs))

    def step(self, embedding, states, features, keys, training=None):
        """One decoder step: `(embedding (batch, dim), states) -> (output, states)`."""
        if self.attention == "bahdanau":
            context = self._attend(states[0], features, keys)
            inputs = keras.ops.concatenate([embedding, context], axis=-1)
            hidden, states = self.cell(inputs, states, training=training)
        else:
            hidden, states = self.cell(embedding, states, training=training)
            if self.attention is None:
                return hidden, list(states)
            context = self._attend(hidden, features, keys)
        return keras.ops.concatenate([hidden, context], axis=-1), list(states)

    def call(self, embeddings, features, keys, initial_state, training=None):
        steps = embeddings.shape[1]
        if steps is not None:  # a known length: unrolled, faster on every backend
            states, outputs = list(initial_state), []
            for step in range(steps):
                output, states = self.step(
                    embeddings[:, step], states, features, keys, training=training
                )
                outputs.append(output)
            return [keras.ops.stack(outputs, axis=1), *states]

        # The scan carries the states and the last output, and stacks the
        # carries (the TensorFlow backend needs outputs shaped like the carry).
        def body(carry, embedding):
            output, states = self.step(
                embedding, carry[:-1], features, keys, training=training
            )
            carry = [*states, output]
            return carry, carry

        first_output = keras.ops.zeros_like(initial_state[0])
        if self.attention:
            first_output = keras.ops.concatenate(
                [first_output, keras.ops.zeros_like(features[:, 0, :])], axis=-1
            )
        time_major = keras.ops.transpose(embeddings, (1, 0, 2))
        carry, stacked = keras.ops.scan(
            body, [*initial_state, first_output], time_major
        )
        return [keras.ops.transpose(stacked[-1], (1, 0, 2)), *carry[:-1]]

    def compute_output_spec(
        self, embeddings, features, keys, initial_state, training=None
    ):
        batch, steps = embeddings.shape[:2]
        width = self.units + (features.shape[-1] if self.attention else 0)
        outputs = keras.KerasTensor((batch, steps, width), dtype=self.compute_dtype)
        states = [
            keras.KerasTensor((batch, self.units), dtype=self.compute_dtype)
            for _ in initial_state
        ]
        return [outputs, *states]

    def _attend(self, hidden, features, keys):
        """The attention-weighted sum of `features` for `hidden` `(batch, units)`."""
        query = self.query(hidden)[:, None, :]
        if self.attention == "bahdanau":
            scores = self.score(keras.ops.tanh(keys + query))[..., 0]
        else:
            scores = keras.ops.sum(features * query, axis=-1)
        weights = keras.ops.softmax(scores, axis=-1)
        return keras.ops.sum(features * weights[..., None], axis=1)

    def get_config(self):
        return {
            **super().get_config(),
            "rnn_type": self.rnn_type,
            "units": self.units,
            "attention": self.attention,
        }


@keras.saving.register_keras_serializable(package="cnnrnn")
class TokenAccuracy(keras.metrics.Metric):
    """Share of the caption tokens predicted right, padding left out."""

    def __init__(self, name="token_accuracy", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.correct = self.add_variable((), initializer="zeros", name="correct")
        self.total = self.add_variable((), initializer="zeros", name="total")

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true = keras.ops.cast(y_true, "int32")
        predicted = keras.ops.cast(keras.ops.argmax(y_pred, axis=-1), "int32")
        real = keras.ops.cast(y_true != PAD_ID, self.dtype)
        hits = keras.ops.cast(predicted == y_true, self.dtype) * real
        self.correct.assign_add(keras.ops.sum(hits))
        self.total.assign_add(keras.ops.sum(real))

    def result(self):
        return keras.ops.divide_no_nan(self.correct, self.total)

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}


def build_image_captioner(
    *,
    image_shape=(32, 32, 3),
    vocab_size=None,
    vocabulary=None,
    vectorizer=None,
    backbone="small_cnn",
    weights=None,
    train_backbone=True,
    encoder_depth=3,
    encoder_filters=16,
    embedding_dim=64,
    rnn_type="lstm",
    units=128,
    attention="bahdanau",
    dropout=0.3,
    max_length=20,
    learning_rate=1e-3,
    optimizer="adam",
    weight_decay=0.0,
    activation="relu",
    compile=True,
    name=None,
):
    """Builds an image captioner with an attention decoder.

    The model takes `(images, tokens)`: images `(batch, height, width, 3)`
    of raw pixels in `[0, 255]`, and caption token ids `(batch, steps)`
    that start with `START_ID` and are padded with `PAD_ID`. It returns
    float32 logits `(batch, steps, vocab_size)` of the token following each
    one (teacher forcing). It is made of:

    1. The encoder, giving a grid of image features: with
       `backbone="small_cnn"`, rescaling to `[0, 1]` and `encoder_depth`
       convolution blocks (see `cnnrnn.models.layers.conv_block`) with
       `encoder_filters * 2**i` filters; with the name of a `keras.applications`
       backbone, its own preprocessing and the backbone without its top
       or pooling. The grid's locations are then projected to `units`
       features (`f"{name}_features"`, a `Dense` layer with `activation`).
    2. The decoder's initial state, from the mean feature (`Dense` + tanh).
    3. `CaptionEmbedding` (which keeps the vocabulary), dropout, then an
       `AttentionDecoder` over the features, dropout and the float32 logits.

    Compiled with the `optimizer` (Adam by default), sparse categorical
    cross-entropy on the logits that ignores the padding (a masked loss), and
    `TokenAccuracy`. Write captions
    with `CaptionDecoder` (or `caption`).

    Args:
        image_shape: tuple of 3 ints. `(height, width, 3)`; at least 32x32
            with a `keras.applications` encoder, at least
            `2**encoder_depth` with `"small_cnn"`. Defaults to
            `(32, 32, 3)`.
        vocab_size: int or None. Number of token ids, for a model without
            words. Defaults to None.
        vocabulary: list of str or None. The token of every id, starting with
            `SPECIAL_TOKENS` (as `cnnrnn.data.captions.load_captions` gives
            it). Defaults to None.
        vectorizer: a `keras.layers.TextVectorization` whose vocabulary
            starts with `SPECIAL_TOKENS`, or None: its vocabulary is used.
            Give exactly one of `vocab_size`, `vocabulary` and `vectorizer`.
        backbone: str. `"small_cnn"`, one of
            `cnnrnn.models.backbones.BACKBONES` or any `keras.applications`
            model name. Defaults to `"small_cnn"`.
        weights: None, `"imagenet"` (Keras's cached ImageNet weights) or the
            path of a weights file (a backbone only). Defaults to None.
        train_backbone: bool. Whether the encoder is trained. Defaults to True.
        encoder_depth: int. Convolution blocks of the small CNN. Defaults
            to 3.
        encoder_filters: int. Filters of the small CNN's first block,
            doubled in each next one. Defaults to 16.
        embedding_dim: int. Size of the token embeddings. Defaults to 64.
        rnn_type: `"lstm"` or `"gru"`. Defaults to `"lstm"`.
        units: int. Size of the decoder state and of the image features.
            Defaults to 128.
        attention: `"bahdanau"`, `"luong"` or None. Defaults to `"bahdanau"`.
        dropout: float. Dropout rate on the embeddings and decoder outputs.
            Defaults to 0.3.
        max_length: int. Most words of a generated caption. Defaults to 20.
        learning_rate: float. Learning rate of the optimizer, positive.
            Defaults to 1e-3.
        optimizer: str. One of `"adam"`, `"rmsprop"`, `"sgd"` (momentum
            0.9). Defaults to `"adam"`.
        weight_decay: float. Decoupled weight decay, >= 0, applied by the
            optimizer to every trainable variable's update (see
            `cnnrnn.models.checks.make_optimizer`); 0 for none. Defaults to
            0.0.
        activation: str. Activation of the `"small_cnn"` convolution blocks
            (ignored with a backbone) and of the `f"{name}_features"` layer:
            one of `"relu"`, `"gelu"`, `"silu"`, `"elu"`. Defaults to
            `"relu"`.
        compile: bool. Whether to compile the model. Defaults to True.
        name: str or None. Model name; also the prefix of the layer names.
            Defaults to `"image_captioner"`.

    Returns:
        A `keras.Model`.

    Raises:
        ValueError: if an argument is invalid.

    Example:

    >>> model = build_image_captioner(
    ...     image_shape=(64, 64, 3), vocabulary=data.model_args["vocabulary"]
    ... )
    >>> caption(model, images, beam_width=3)
    ['a large red circle to the left of a small blue square', ...]
    """
    name = name or "image_captioner"
    vocabulary = _vocabulary(vocab_size, vocabulary, vectorizer)
    image_shape = tuple(image_shape)
    _validate(
        image_shape=image_shape,
        backbone=backbone,
        weights=weights,
        train_backbone=train_backbone,
        encoder_depth=encoder_depth,
        encoder_filters=encoder_filters,
        embedding_dim=embedding_dim,
        rnn_type=rnn_type,
        units=units,
        attention=attention,
        dropout=dropout,
        max_length=max_length,
        learning_rate=learning_rate,
        optimizer=optimizer,
        weight_decay=weight_decay,
        activation=activation,
    )
    images = keras.Input(shape=image_shape, name="image")
    tokens = keras.Input(shape=(None,), dtype="int32", name="tokens")
    grid = _encoder(
        images,
        backbone=backbone,
        weights=weights,
        train_backbone=train_backbone,
        encoder_depth=encoder_depth,
        encoder_filters=encoder_filters,
        image_shape=image_shape,
        activation=activation,
        name=name,
    )
    locations = grid.shape[1] * grid.shape[2]
    states = ("h", "c") if rnn_type == "lstm" else ("h",)
    layers = {
        "grid": keras.layers.Reshape((locations, grid.shape[-1]), name=f"{name}_grid"),
        "features": keras.layers.Dense(
            units, activation=activation, name=f"{name}_features"
        ),
        "mean_feature": keras.layers.GlobalAveragePooling1D(
            name=f"{name}_mean_feature"
        ),
        **{
            f"init_{state}": keras.layers.Dense(
                units, activation="tanh", name=f"{name}_init_{state}"
            )
            for state in states
        },
        "embedding": CaptionEmbedding(
            vocabulary=vocabulary,
            max_length=max_length,
            input_dim=vocab_size,
            output_dim=embedding_dim,
            name=f"{name}_embedding",
        ),
        "embedding_dropout": keras.layers.Dropout(
            dropout, name=f"{name}_embedding_dropout"
        ),
        "decoder": AttentionDecoder(
            rnn_type=rnn_type, units=units, attention=attention, name=f"{name}_decoder"
        ),
        "dropout": keras.layers.Dropout(dropout, name=f"{name}_dropout"),
    }
    if attention == "bahdanau":
        layers["attention_keys"] = keras.layers.Dense(
            units, name=f"{name}_attention_keys"
        )
    layers["logits"] = keras.layers.Dense(
        layers["embedding"].input_dim, dtype="float32", name=f"{name}_logits"
    )
    logits = _decode(layers, grid, tokens)
    model = keras.Model([images, tokens], logits, name=name)
    if compile:
        model.compile(
            optimizer=make_optimizer(
                optimizer, learning_rate, weight_decay=weight_decay
            ),
            loss=keras.losses.SparseCategoricalCrossentropy(
                from_logits=True, ignore_class=PAD_ID
            ),
            metrics=[TokenAccuracy()],
        )
    return model


class CaptionDecoder:
    """Writes captions with a trained captioner, one decoder step per token.

    Each image is encoded once; the decoder then runs one step per token,
    carrying its state, so a caption of `n` words costs `n + 1` decoder steps
    instead of `n + 1` passes over a growing prefix. Images are decoded
    together as one batch (and, for beam search, every beam of every image).
    It works with any model built by `build_image_captioner` (also a loaded
    one) on every backend.

    Args:
        model: a `keras.Model` from `build_image_captioner`.

    Raises:
        ValueError: if the model is not an image captioner.

    Example:

    >>> decoder = CaptionDecoder(keras.saving.load_model("run/model.keras"))
    >>> decoder.caption(images, beam_width=3)
    ['a small red circle above a large green square']
    """

    def __init__(self, model):
        layers = _captioner_layers(model)
        self.embedding = layers["embedding"]
        self.attention_decoder = layers["decoder"]
        self.logits_layer = layers["logits"]
        self.encoder_model = keras.Model(
            model.inputs[0],
            [layers["features"].output, layers["keys"].output]
            + [layer.output for layer in layers["initial_state"]],
        )
        self.step_model = _step_model(
            self.embedding, layers["decoder"], layers["logits"], self.encoder_model
        )

    def encode(self, images, *, repeats=1):
        """Returns `(features, keys, states)` for a batch of raw images.

        Each image's rows are repeated `repeats` times (one per beam). The
        features and keys stay backend tensors: every step reads them, and
        converting them from NumPy each time costs more than the step.
        """
        outputs = self.encoder_model.predict_on_batch(np.asarray(images, "float32"))
        features, keys, *states = (
            np.repeat(keras.ops.convert_to_numpy(x), repeats, axis=0) for x in outputs
        )
        features, keys = (keras.ops.convert_to_tensor(x) for x in (features, keys))
        return features, keys, states

    def step(self, ids, features, keys, states):
        """Runs one token `ids (batch,)` from `states`: returns `(logits, states)`."""
        ids = np.asarray(ids, "int32")[:, None]
        # jax and torch refuse a mix of NumPy arrays and backend tensors.
        inputs = [keras.ops.convert_to_tensor(x) for x in (ids, *states)]
        outputs = self.step_model.predict_on_batch(
            [inputs[0], features, keys, *inputs[1:]]
        )
        logits, *states = (keras.ops.convert_to_numpy(x) for x in outputs)
        return logits.astype("float64"), states

    def caption(
        self,
        images,
        *,
        beam_width=1,
        temperature=0.0,
        top_k=None,
        top_p=None,
        length_penalty=1.0,
        max_length=None,
        batch_size=256,
        seed=None,
        return_scores=False,
    ):
        """Writes a caption for every image.

        Args:
            images: array `(num_images, height, width, 3)` of raw pixels in
                `[0, 255]`, the size the model was trained on.
            beam_width: int. 1 decodes greedily (or samples, see
                `temperature`); more keeps the `beam_width` best partial
                captions at each step (beam search). Defaults to 1.
            temperature: float. 0 picks the most probable word; above 0
                draws words at this softmax temperature (beam width 1 only).
                Defaults to 0.0.
            top_k: int or None. When sampling, draw from the `top_k` most
                probable words only. Defaults to None.
            top_p: float or None. When sampling, draw from the smallest set
                of words whose probabilities reach `top_p`. Defaults to None.
            length_penalty: float. Beam search ranks finished captions by
                their log-probability divided by `length ** length_penalty`
                (tokens, end included): 0 favours short captions, 1 ranks by
                mean log-probability per token. Defaults to 1.0.
            max_length: int or None. Most words per caption. Defaults to the
                model's `max_length`.
            batch_size: int. Images decoded together. Defaults to 256.
            seed: int or None. Random seed of sampling. Defaults to None.
            return_scores: bool. Also return each caption's total
                log-probability. Defaults to False.

        Returns:
            A list of captions (str), or of `(caption, log_probability)`
            tuples with `return_scores=True`.

        Raises:
            ValueError: for invalid options, or images of the wrong shape.
        """
        check_caption_options(
            beam_width=beam_width,
            temperature=temperature,
            top_k=top_k,
            top_p=top_p,
            length_penalty=length_penalty,
        )
        max_length = self.embedding.max_length if max_length is None else max_length
        check_int("max_length", max_length)
        check_int("batch_size", batch_size)
        images = self._check_images(images)
        rng = np.random.default_rng(seed)
        results = []
        for start in range(0, len(images), batch_size):
            batch = images[start : start + batch_size]
            if beam_width == 1:
                found = self._sample(batch, max_length, rng, temperature, top_k, top_p)
            else:
                found = self._beam_search(batch, max_length, beam_width, length_penalty)
            results += [
                (self.embedding.decode(ids), float(score)) for ids, score in found
            ]
        return results if return_scores else [text for text, _ in results]

    def _sample(self, images, max_length, rng, temperature, top_k, top_p):
        """Greedy decoding (temperature 0) or sampling: `[(ids, log_prob)]`."""
        features, keys, states = self.encode(images)
        count = len(images)
        ids = np.full(count, START_ID)
        captions = np.full((count, max_length + 1), END_ID)
        scores = np.zeros(count)
        running = np.ones(count, bool)
        for position in range(max_length + 1):
            logits, states = self.step(ids, features, keys, states)
            if position == max_length:  # out of room: the caption ends here
                ids = np.full(count, END_ID)
            else:
                ids = sample_from_logits(
                    logits,
                    rng=rng,
                    temperature=temperature,
                    top_k=top_k,
                    top_p=top_p,
                    banned=_BANNED_IDS,
                )
            log_probs = _log_softmax(logits)
            scores += np.where(running, log_probs[np.arange(count), ids], 0.0)
            captions[running, position] = ids[running]
            running &= ids != END_ID
            if not running.any():
                break
        return list(zip(captions, scores, strict=True))

    def _beam_search(self, images, max_length, beam_width, length_penalty):
        """Beam search: the best finished caption per image, `[(ids, log_prob)]`."""
        features, keys, states = self.encode(images, repeats=beam_width)
        count = len(images)
        # Alive beams: their tokens and total log-probabilities. Only the first
        # beam of each image is live at the start (they all hold `<start>`).
        tokens = np.zeros((count, beam_width, 0), np.int64)
        scores = np.full((count, beam_width), -np.inf)
        scores[:, 0] = 0.0
        finished = [[] for _ in range(count)]  # (normalised score, score, ids)
        ids = np.full(count * beam_width, START_ID)
        for position in range(max_length + 1):
            logits, states = self.step(ids, features, keys, states)
            log_probs = _log_softmax(logits)
            log_probs[:, list(_BANNED_IDS)] = -np.inf
            if position == max_length:  # out of room: every beam ends here
                ends = np.full_like(log_probs, -np.inf)
                ends[:, END_ID] = log_probs[:, END_ID]
                log_probs = ends
            totals = scores[..., None] + log_probs.reshape(count, beam_width, -1)
            flat = totals.reshape(count, -1)
            # 2 * beam_width candidates leave beam_width alive even if half end.
            best = np.argsort(-flat, axis=-1)[:, : 2 * beam_width]
            new_tokens = np.zeros((count, beam_width, position + 1), np.int64)
            new_scores = np.full((count, beam_width), -np.inf)
            origins = np.zeros((count, beam_width), np.int64)
            next_ids = np.full((count, beam_width), END_ID)
            for image in range(count):
                alive = 0
                for candidate in best[image]:
                    score = flat[image, candidate]
                    if not np.isfinite(score) or alive == beam_width:
                        break
                    beam, token = divmod(int(candidate), log_probs.shape[-1])
                    sequence = [*tokens[image, beam], token]
                    if token == END_ID:
                        normalised = score / len(sequence) ** length_penalty
                        finished[image].append((normalised, score, sequence))
                        continue
                    new_tokens[image, alive] = sequence
                    new_scores[image, alive] = score
                    origins[image, alive] = beam
                    next_ids[image, alive] = token
                    alive += 1
                if _beam_done(
                    finished[image],
                    new_scores[image],
                    beam_width,
                    position + 2,
                    length_penalty,
                ):
                    new_scores[image] = -np.inf
            tokens, scores = new_tokens, new_scores
            if not np.isfinite(scores).any():
                break
            gather = (np.arange(count)[:, None] * beam_width + origins).reshape(-1)
            states = [state[gather] for state in states]
            ids = next_ids.reshape(-1)
        results = []
        for hypotheses in finished:
            _, score, sequence = max(hypotheses, key=lambda item: item[0])
            results.append((np.array(sequence), score))
        return results

    def _check_images(self, images):
        images = np.asarray(images, "float32")
        expected = tuple(self.encoder_model.inputs[0].shape[1:])
        if images.ndim == 3:
            images = images[None]
        if images.ndim != 4 or tuple(images.shape[1:]) != expected:
            shape = ", ".join(map(str, expected))
            raise ValueError(
                f"Expected images of shape (num_images, {shape}) (raw pixels, the "
                f"model's image size). Received: {images.shape}"
            )
        return images


def feature_models(model, *, learning_rate=None):
    """Splits an image captioner for training on precomputed encoder features.

    With a frozen backbone encoder (`train_backbone=False`) the grid of
    features of every image never changes, so it can be computed once
    (`image_features`) and the decoder trained on it (`head`): no backbone
    pass per epoch. `head` shares its weights with `model`: fitting it trains
    `model`, which still takes raw pixels and is the model to save.

    Args:
        model: `keras.Model` made by `build_image_captioner` with a
            `keras.applications` encoder and `train_backbone=False`.
        learning_rate: float or None. Learning rate of `head`, positive, or
            None for the one of `model`'s optimizer. Defaults to None.

    Returns:
        A tuple `(image_features, head)`: `image_features` maps images to
        the encoder's grid `(batch, rows, columns, channels)`, for inference
        only; `head` maps `(grid, tokens)` to next-token logits and is
        compiled like `model` (see `cnnrnn.models.checks.compile_like`).

    Raises:
        ValueError: if `model` is not an image captioner with a frozen
            backbone encoder.

    Example:

    >>> model = build_image_captioner(
    ...     vocab_size=20, backbone="mobilenet_v1_0.25", train_backbone=False
    ... )
    >>> image_features, head = feature_models(model)
    >>> image_features.output_shape
    (None, 1, 1, 256)
    """
    _captioner_layers(model)
    layers = {layer.name: layer for layer in model.layers}
    backbone = layers.get(f"{model.name}_backbone")
    if backbone is None or backbone.trainable_weights:
        raise ValueError(
            "Precomputing features needs an image captioner with a frozen "
            "backbone encoder: build with backbone=<a keras.applications model> "
            f"and train_backbone=False. Received: model={model.name!r}"
        )
    grid = layers[f"{model.name}_grid"].input
    image_features = keras.Model(
        model.inputs[0], grid, name=f"{model.name}_image_features"
    )
    prefix = f"{model.name}_"
    roles = {
        name.removeprefix(prefix): layer
        for name, layer in layers.items()
        if name.startswith(prefix)
    }
    grid_input = keras.Input(shape=grid.shape[1:], name="grid")
    tokens = keras.Input(shape=(None,), dtype="int32", name="tokens")
    head = keras.Model(
        [grid_input, tokens],
        _decode(roles, grid_input, tokens),
        name=f"{model.name}_head",
    )
    compile_like(head, model, learning_rate)
    return image_features, head


def check_caption_options(
    *, beam_width=1, temperature=0.0, top_k=None, top_p=None, length_penalty=1.0
):
    """Raises `ValueError` for decoding options `CaptionDecoder.caption` refuses."""
    check_int("beam_width", beam_width)
    check_sampling_options(temperature=temperature, top_k=top_k, top_p=top_p)
    if beam_width > 1 and temperature != 0:
        raise ValueError(
            "Beam search is deterministic: pass temperature=0 with "
            f"beam_width={beam_width}, or beam_width=1 to sample."
        )
    if isinstance(length_penalty, bool) or not isinstance(length_penalty, int | float):
        raise ValueError(
            "Argument `length_penalty` must be a number. "
            f"Received: length_penalty={length_penalty!r}"
        )


def caption(model, images, **options):
    """Writes captions for images: `CaptionDecoder(model).caption(images, ...)`.

    Args:
        model: a `keras.Model` from `build_image_captioner`.
        images: array `(num_images, height, width, 3)` of raw pixels.
        **options: `beam_width`, `temperature`, `top_k`, `top_p`,
            `length_penalty`, `max_length`, `batch_size`, `seed` and
            `return_scores`, as in `CaptionDecoder.caption`.

    Returns:
        A list of captions, one per image.

    Example:

    >>> caption(model, load_image_files(["beach.jpg"], image_size=64))
    ['a large blue square above a small yellow circle']
    """
    return CaptionDecoder(model).caption(images, **options)


def _beam_done(finished, alive_scores, beam_width, next_length, length_penalty):
    """Whether an image's search can stop: enough captions, none to beat them.

    The best alive beam, normalised at the next length, cannot beat the
    worst of the `beam_width` best finished captions (the usual heuristic).
    """
    if len(finished) < beam_width or not np.isfinite(alive_scores).any():
        return not np.isfinite(alive_scores).any()
    worst_kept = sorted(item[0] for item in finished)[-beam_width]
    best_alive = alive_scores.max() / next_length**length_penalty
    return best_alive < worst_kept


def _log_softmax(logits):
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def _decode(layers, grid, tokens):
    """Wires the layers after the encoder: `(grid, tokens) -> logits`."""
    features = layers["features"](layers["grid"](grid))
    keys = features
    if "attention_keys" in layers:
        keys = layers["attention_keys"](features)
    mean = layers["mean_feature"](features)
    initial_state = [
        layers[f"init_{state}"](mean)
        for state in ("h", "c")
        if f"init_{state}" in layers
    ]
    x = layers["embedding_dropout"](layers["embedding"](tokens))
    x, *_ = layers["decoder"](x, features, keys, initial_state)
    return layers["logits"](layers["dropout"](x))


def _captioner_layers(model):
    """The layers `CaptionDecoder` needs, by the names the factory gives them."""
    embeddings = [
        layer for layer in model.layers if isinstance(layer, CaptionEmbedding)
    ]
    decoders = [layer for layer in model.layers if isinstance(layer, AttentionDecoder)]
    if len(embeddings) != 1 or len(decoders) != 1:
        raise ValueError(
            f"Model {model.name!r} is not an image captioner (CaptionEmbedding, "
            "AttentionDecoder): build it with `build_image_captioner`."
        )
    names = {layer.name for layer in model.layers}
    prefix = model.name
    keys = f"{prefix}_attention_keys"
    states = ("h", "c") if decoders[0].rnn_type == "lstm" else ("h",)
    return {
        "embedding": embeddings[0],
        "decoder": decoders[0],
        "features": model.get_layer(f"{prefix}_features"),
        "keys": model.get_layer(keys if keys in names else f"{prefix}_features"),
        "initial_state": [model.get_layer(f"{prefix}_init_{s}") for s in states],
        "logits": model.get_layer(f"{prefix}_logits"),
    }


def _step_model(embedding, decoder, logits_layer, encoder_model):
    """A model `(ids (batch, 1), features, keys, *states) -> (logits, *states)`."""
    features, keys, *states = (
        keras.Input(shape=tuple(x.shape[1:]), dtype=x.dtype)
        for x in encoder_model.outputs
    )
    ids = keras.Input(shape=(1,), dtype="int32")
    x = embedding(ids)
    x, *new_states = decoder(x, features, keys, states)
    logits = logits_layer(x[:, 0, :])
    return keras.Model([ids, features, keys, *states], [logits, *new_states])


def _vocabulary(vocab_size, vocabulary, vectorizer):
    """The vocabulary to build with (None with `vocab_size` only)."""
    given = [arg for arg in (vocab_size, vocabulary, vectorizer) if arg is not None]
    if len(given) != 1:
        raise ValueError(
            "Give exactly one of `vocab_size`, `vocabulary` and `vectorizer`. "
            f"Received: vocab_size={vocab_size!r}, vocabulary of "
            f"{None if vocabulary is None else len(vocabulary)} tokens, "
            f"vectorizer={vectorizer!r}"
        )
    if vocab_size is not None:
        check_int("vocab_size", vocab_size, minimum=len(SPECIAL_TOKENS) + 1)
        return None
    if vectorizer is not None:
        if not isinstance(vectorizer, keras.layers.TextVectorization):
            raise ValueError(
                "Argument `vectorizer` must be a keras.layers.TextVectorization. "
                f"Received: vectorizer={vectorizer!r}"
            )
        vocabulary = vectorizer.get_vocabulary()
    vocabulary = [str(token) for token in vocabulary]
    if tuple(vocabulary[: len(SPECIAL_TOKENS)]) != SPECIAL_TOKENS or len(
        vocabulary
    ) <= len(SPECIAL_TOKENS):
        raise ValueError(
            f"The vocabulary must start with {list(SPECIAL_TOKENS)} and hold some "
            f"words. Received: {vocabulary[:6]!r}..."
        )
    if len(set(vocabulary)) != len(vocabulary):
        raise ValueError("The vocabulary holds a token twice: list each once.")
    return vocabulary


def _encoder(
    images,
    *,
    backbone,
    weights,
    train_backbone,
    encoder_depth,
    encoder_filters,
    image_shape,
    activation,
    name,
):
    """The grid of image features, `(batch, rows, columns, channels)`."""
    if backbone != "small_cnn":
        return backbone_features(
            images,
            backbone,
            weights=weights,
            train_backbone=train_backbone,
            image_shape=image_shape,
            name=name,
            pooling=None,
        )
    x = keras.layers.Rescaling(1 / 255, name=f"{name}_rescaling")(images)
    for i in range(encoder_depth):
        x = conv_block(
            x,
            encoder_filters * 2**i,
            name=f"{name}_block{i + 1}",
            activation=activation,
        )
    return x


def _validate(
    *,
    image_shape,
    backbone,
    weights,
    train_backbone,
    encoder_depth,
    encoder_filters,
    embedding_dim,
    rnn_type,
    units,
    attention,
    dropout,
    max_length,
    learning_rate,
    optimizer,
    weight_decay,
    activation,
):
    check_image_shape("image_shape", image_shape)
    check_image_encoder("backbone", backbone, weights=weights)
    check_bool("train_backbone", train_backbone)
    check_int("encoder_depth", encoder_depth)
    check_int("encoder_filters", encoder_filters)
    check_int("embedding_dim", embedding_dim)
    check_choice("rnn_type", rnn_type, RNN_TYPES)
    check_int("units", units)
    check_choice("attention", attention, ATTENTIONS)
    check_fraction("dropout", dropout)
    check_int("max_length", max_length)
    check_positive("learning_rate", learning_rate)
    check_optimizer(optimizer, weight_decay)
    check_activation(activation)
    pretrained = backbone != "small_cnn"
    min_size = MIN_BACKBONE_SIZE if pretrained else 2**encoder_depth
    if min(image_shape[:2]) < min_size:
        reason = (
            f"backbone={backbone!r}" if pretrained else f"encoder_depth={encoder_depth}"
        )
        raise ValueError(
            f"Images must be at least {min_size}x{min_size} with {reason}. "
            f"Received: image_shape={image_shape!r}"
        )
