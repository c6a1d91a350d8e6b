"""Character generator: characters -> next character, with stepwise sampling."""

import math

import keras
import numpy as np

from cnnrnn.errors import check_choice
from cnnrnn.models.checks import (
    check_fraction,
    check_int,
    check_optimizer,
    check_positive,
    make_optimizer,
)
from cnnrnn.models.layers import RNN_LAYERS, RNN_TYPES
from cnnrnn.models.sampling import check_sampling_options, sample_from_logits
from cnnrnn.tokens import OOV_ID  # `vocabulary[i]` has id `i + 1`

# An empty seed text is read as the start of a line.
_EMPTY_SEED = "\n"


@keras.saving.register_keras_serializable(package="cnnrnn")
class CharEmbedding(keras.layers.Embedding):
    """An `Embedding` of character ids that keeps the character vocabulary.

    The vocabulary is part of the layer's config, so it is saved inside
    `model.keras` and a loaded model can read and write raw text (see
    `encode`, `decode` and `CharSampler`). Id `OOV_ID` (0) stands for
    every character outside the vocabulary; `vocabulary[i]` has id `i + 1`.

    Args:
        vocabulary: list of str or None. The characters, one per entry, or
            None for a model that only knows ids. Defaults to None.
        lowercase: bool. Whether text is lowercased before encoding.
            Defaults to False.
        input_dim: int or None. Number of ids; must be
            `len(vocabulary) + 1` when both are given.
        **kwargs: other `keras.layers.Embedding` arguments.
    """

    def __init__(self, vocabulary=None, lowercase=False, input_dim=None, **kwargs):
        if vocabulary is not None:
            vocabulary = list(vocabulary)
            _check_vocabulary(vocabulary)
            if input_dim not in (None, len(vocabulary) + 1):
                raise ValueError(
                    f"Received: vocab_size={input_dim} with a vocabulary of "
                    f"{len(vocabulary)} characters. Expected vocab_size="
                    f"{len(vocabulary) + 1} (the characters plus the "
                    "out-of-vocabulary id), or leave vocab_size out."
                )
            input_dim = len(vocabulary) + 1
        if input_dim is None:
            raise ValueError("Give a character `vocabulary` or a `vocab_size`.")
        super().__init__(input_dim=input_dim, **kwargs)
        self.vocabulary = vocabulary
        self.lowercase = lowercase
        if vocabulary is not None:
            self._ids = {char: i + 1 for i, char in enumerate(vocabulary)}

    def encode(self, text):
        """Returns the int32 ids of `text` (`OOV_ID` for unknown characters)."""
        self._check_has_vocabulary()
        if self.lowercase:
            text = text.lower()
        return np.array([self._ids.get(char, OOV_ID) for char in text], np.int32)

    def decode(self, ids):
        """Returns the text of `ids` (U+FFFD for `OOV_ID`)."""
        self._check_has_vocabulary()
        table = ["\ufffd", *self.vocabulary]
        return "".join(table[int(i)] for i in ids)

    def unknown_characters(self, text):
        """The distinct characters of `text` outside the vocabulary, in order."""
        self._check_has_vocabulary()
        if self.lowercase:
            text = text.lower()
        return list(dict.fromkeys(char for char in text if char not in self._ids))

    def _check_has_vocabulary(self):
        if self.vocabulary is None:
            raise ValueError(
                "This model has no character vocabulary (it was built with "
                "`vocab_size` only): rebuild it with "
                "`build_char_generator(vocabulary=...)` to read and write text."
            )

    def get_config(self):
        return {
            **super().get_config(),
            "vocabulary": self.vocabulary,
            "lowercase": self.lowercase,
        }


def bits_per_character(y_true, y_pred):
    """Cross-entropy of next-character logits in bits (nats / ln 2)."""
    nats = keras.losses.sparse_categorical_crossentropy(
        y_true, y_pred, from_logits=True
    )
    return nats / math.log(2.0)


@keras.saving.register_keras_serializable(package="cnnrnn")
class BitsPerCharacter(keras.metrics.MeanMetricWrapper):
    """Mean cross-entropy in bits per character (the loss is in nats)."""

    def __init__(self, name="bits_per_char", dtype=None):
        super().__init__(fn=bits_per_character, name=name, dtype=dtype)

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}


def build_char_generator(
    *,
    vocabulary=None,
    vocab_size=None,
    lowercase=False,
    embedding_dim=64,
    rnn_type="lstm",
    num_layers=2,
    units=256,
    dropout=0.1,
    learning_rate=2e-3,
    optimizer="adam",
    weight_decay=0.0,
    compile=True,
    name=None,
):
    """Builds a character-level language model (sequence to sequence).

    The model maps a `(batch, steps)` tensor of character ids to
    `(batch, steps, vocab_size)` logits of the next character at every step:
    a `CharEmbedding` (which also keeps the character vocabulary, so it is
    saved with the model), `num_layers` LSTM or GRU layers returning
    sequences, each followed by dropout, and a float32 `Dense` layer of
    logits, so the model also works under a `"mixed_float16"` policy.
    Compiled, it is trained on every step with sparse categorical
    cross-entropy from logits (the loss, in nats per character) and reports
    accuracy and `bits_per_char`.

    Generate text with `CharSampler(model)` or `generate(model, ...)`: they
    run the recurrent layers one step at a time and carry their states. The
    layers are plain Keras layers: the model runs on the tensorflow, jax and
    torch backends. `CharEmbedding` and `BitsPerCharacter` are registered:
    import `cnnrnn.models` before `keras.saving.load_model`.

    Args:
        vocabulary: list of str or None. The characters the model reads and
            writes, one per entry, as `cnnrnn.data.chars.load_char_corpus`
            finds them. Defaults to None.
        vocab_size: int or None. Number of ids, for a model that only knows
            ids; `len(vocabulary) + 1` when a vocabulary is given. Give at
            least one of `vocabulary` and `vocab_size`. Defaults to None.
        lowercase: bool. Whether text is lowercased before encoding, as the
            training corpus was. Defaults to False.
        embedding_dim: int. Size of the character embeddings, at least 1.
            Defaults to 64.
        rnn_type: str. `"lstm"` or `"gru"`. Defaults to `"lstm"`.
        num_layers: int. Number of stacked recurrent layers, at least 1.
            Defaults to 2.
        units: int. Units of every recurrent layer, at least 1.
            Defaults to 256.
        dropout: float. Dropout rate after every recurrent layer, in
            `[0, 1)`. Defaults to 0.1.
        learning_rate: float. Learning rate of the optimizer, positive.
            Defaults to 2e-3.
        optimizer: str. One of `"adam"`, `"rmsprop"`, `"sgd"` (momentum
            0.9). Defaults to `"adam"`.
        weight_decay: float. Decoupled weight decay, >= 0, applied by the
            optimizer to every trainable variable's update (see
            `cnnrnn.models.checks.make_optimizer`); 0 for none. Defaults to
            0.0.
        compile: bool. Whether to compile the model. Defaults to True.
        name: str or None. Model name and prefix of every layer name.
            Defaults to `"char_generator"`.

    Returns:
        A functional `keras.Model`.

    Raises:
        ValueError: if an argument is out of range or unknown, or if the
            vocabulary and `vocab_size` disagree.

    Example:

    >>> model = build_char_generator(vocabulary=list("abc "), units=32)
    >>> model.output_shape
    (None, None, 5)
    >>> generate(model, "ab", length=10, seed=0)[0]  # untrained: random text
    """
    if vocab_size is not None:
        check_int("vocab_size", vocab_size, minimum=2)
    check_int("embedding_dim", embedding_dim)
    check_choice("rnn_type", rnn_type, RNN_TYPES)
    check_int("num_layers", num_layers)
    check_int("units", units)
    check_fraction("dropout", dropout)
    check_positive("learning_rate", learning_rate)
    check_optimizer(optimizer, weight_decay)
    name = name or "char_generator"

    ids = keras.Input(shape=(None,), dtype="int32", name=f"{name}_ids")
    x = CharEmbedding(
        vocabulary=vocabulary,
        lowercase=lowercase,
        input_dim=vocab_size,
        output_dim=embedding_dim,
        name=f"{name}_embedding",
    )(ids)
    for index in range(1, num_layers + 1):
        x = RNN_LAYERS[rnn_type](
            units, return_sequences=True, name=f"{name}_{rnn_type}{index}"
        )(x)
        if dropout:
            x = keras.layers.Dropout(dropout, name=f"{name}_dropout{index}")(x)
    num_ids = vocab_size or len(vocabulary) + 1
    logits = keras.layers.Dense(num_ids, dtype="float32", name=f"{name}_logits")(x)
    model = keras.Model(ids, logits, name=name)
    if compile:
        model.compile(
            optimizer=make_optimizer(
                optimizer, learning_rate, weight_decay=weight_decay
            ),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=["accuracy", BitsPerCharacter()],
        )
    return model


class CharSampler:
    """Generates text from a character model one step at a time.

    The sampler runs the model's recurrent layers on one character per step
    and carries their states between steps, so each new character costs one
    step of the network instead of a pass over a whole window. The seed
    text is read in one pass. It works with any model built by
    `build_char_generator` (also a loaded one) on every backend.

    Args:
        model: a `keras.Model` from `build_char_generator` with a
            vocabulary.

    Raises:
        ValueError: if the model is not a character generator.

    Example:

    >>> sampler = CharSampler(keras.saving.load_model("run/model.keras"))
    >>> for chars in sampler.stream("ROMEO:", length=100, seed=1):
    ...     print(chars[0], end="")
    """

    def __init__(self, model):
        self.embedding, self._rnns, self._head = _generator_layers(model)
        self.embedding._check_has_vocabulary()
        self._stepper = _stepper(self.embedding, self._rnns, self._head)

    def start(self, seed_text, num_samples=1):
        """Reads `seed_text`: returns the next-character logits and the states.

        Args:
            seed_text: str. Text to continue; empty means the start of a line.
            num_samples: int. Batch size. Defaults to 1.

        Returns:
            A tuple `(logits, states)`: NumPy logits of shape
            `(num_samples, vocab_size)` and the list of recurrent states.

        Raises:
            ValueError: if the seed text holds characters the model has never
                seen (name them), or is empty and the vocabulary has no
                newline.
        """
        seed_text = seed_text or _EMPTY_SEED
        unknown = self.embedding.unknown_characters(seed_text)
        if unknown:
            raise ValueError(
                f"The seed text holds characters the model never saw in training: "
                f"{''.join(unknown)!r}. Remove or replace them (the model knows "
                f"{''.join(self.embedding.vocabulary)!r})."
            )
        ids = np.tile(self.embedding.encode(seed_text), (num_samples, 1))
        states = [
            np.zeros((num_samples, size), self._state_dtype)
            for size in self._state_sizes()
        ]
        return self.step(ids, states)

    def step(self, ids, states):
        """Runs `ids` of shape `(batch, steps)` from `states`.

        Returns:
            A tuple `(logits, states)`: NumPy logits of the next character
            after the last step, shape `(batch, vocab_size)`, and the new
            states.
        """
        outputs = self._stepper.predict_on_batch([np.asarray(ids, np.int32), *states])
        logits, *states = (keras.ops.convert_to_numpy(x) for x in outputs)
        return logits, states

    def stream(
        self,
        seed_text="",
        *,
        length=500,
        temperature=1.0,
        top_k=None,
        top_p=None,
        num_samples=1,
        stop=None,
        seed=None,
    ):
        """Yields the generated characters step by step.

        Args:
            seed_text: str. Text to continue (not repeated in the output).
                Defaults to `""`: start of a line.
            length: int. Largest number of characters per sample.
                Defaults to 500.
            temperature: float. Softmax temperature; 0 picks the most likely
                character every time. Defaults to 1.0.
            top_k: int or None. Draw from the `top_k` most likely characters
                only. Defaults to None.
            top_p: float or None. Draw from the smallest set of characters
                whose probabilities reach `top_p`. Defaults to None.
            num_samples: int. Samples generated together, as one batch.
                Defaults to 1.
            stop: str or None. A sample ends once its text ends with `stop`
                (included). Defaults to None.
            seed: int or None. Random seed: the same seed, model and options
                give the same text. Defaults to None.

        Yields:
            A list of `num_samples` strings per step: each sample's new
            character, or `""` once the sample has stopped.
        """
        check_int("length", length, minimum=0)
        check_int("num_samples", num_samples)
        check_sampling_options(temperature=temperature, top_k=top_k, top_p=top_p)
        if stop is not None and not (isinstance(stop, str) and stop):
            raise ValueError(
                f"Argument `stop` must be a non-empty string. Received: {stop!r}"
            )
        rng = np.random.default_rng(seed)
        logits, states = self.start(seed_text, num_samples)
        texts = [""] * num_samples
        running = np.ones(num_samples, bool)
        for position in range(length):
            ids = sample_from_logits(
                logits,
                rng=rng,
                temperature=temperature,
                top_k=top_k,
                top_p=top_p,
                banned=(OOV_ID,),
            )
            chars = [
                self.embedding.vocabulary[i - 1] if alive else ""
                for i, alive in zip(ids, running, strict=True)
            ]
            yield chars
            for sample, char in enumerate(chars):
                texts[sample] += char
                if stop and char and texts[sample].endswith(stop):
                    running[sample] = False
            if not running.any() or position == length - 1:
                return
            logits, states = self.step(ids[:, None], states)

    def generate(self, seed_text="", **options):
        """Returns the generated texts, one per sample.

        Args:
            seed_text: str. Text to continue. Defaults to `""`.
            **options: the options of `stream`.

        Returns:
            A list of `num_samples` strings (without the seed text).
        """
        texts = [""] * options.get("num_samples", 1)
        for chars in self.stream(seed_text, **options):
            texts = [text + char for text, char in zip(texts, chars, strict=True)]
        return texts

    @property
    def _state_dtype(self):
        return self._rnns[0].compute_dtype

    def _state_sizes(self):
        return [size for layer in self._rnns for size in _state_sizes(layer)]


def generate(model, seed_text="", **options):
    """Generates text from a character model: `CharSampler(model).generate(...)`.

    Args:
        model: a `keras.Model` from `build_char_generator`.
        seed_text: str. Text to continue. Defaults to `""`.
        **options: `length`, `temperature`, `top_k`, `top_p`, `num_samples`,
            `stop` and `seed`, as in `CharSampler.stream`.

    Returns:
        A list of `num_samples` generated strings.

    Example:

    >>> generate(model, "ROMEO:", length=200, temperature=0.8, seed=1)[0]
    """
    return CharSampler(model).generate(seed_text, **options)


def next_char_probabilities(model, text):
    """Probabilities of the character following `text`, by running the model.

    Args:
        model: a `keras.Model` from `build_char_generator`.
        text: str. Non-empty text.

    Returns:
        A float NumPy array of shape `(vocab_size,)` (index 0: unknown).
    """
    embedding, _, _ = _generator_layers(model)
    ids = embedding.encode(text)[None, :]
    logits = keras.ops.convert_to_numpy(model.predict_on_batch(ids))[0, -1]
    return keras.ops.convert_to_numpy(keras.ops.softmax(logits.astype("float64")))


def _generator_layers(model):
    """The embedding, recurrent layers and head of a `build_char_generator` model."""
    layers = [
        layer
        for layer in model.layers
        if not isinstance(layer, keras.layers.InputLayer)
    ]
    kinds_ok = (
        len(layers) >= 3
        and isinstance(layers[0], CharEmbedding)
        and isinstance(layers[-1], keras.layers.Dense)
        and all(
            isinstance(layer, keras.layers.RNN | keras.layers.Dropout)
            for layer in layers[1:-1]
        )
    )
    rnns = [layer for layer in layers[1:-1] if isinstance(layer, keras.layers.RNN)]
    if not kinds_ok or not rnns:
        raise ValueError(
            f"Model {model.name!r} is not a character generator (CharEmbedding, "
            "recurrent layers, Dense): build it with `build_char_generator`."
        )
    return layers[0], rnns, layers[-1]


def _stepper(embedding, rnns, head):
    """A model `(ids, *states) -> (last logits, *states)` sharing the weights."""
    ids = keras.Input(shape=(None,), dtype="int32")
    state_inputs, state_outputs = [], []
    x = embedding(ids)
    for layer in rnns:
        config = {
            **layer.get_config(),
            "return_state": True,
            "name": f"{layer.name}_step",
        }
        stepping = layer.__class__.from_config(config)
        states = [
            keras.Input(shape=(size,), dtype=layer.compute_dtype)
            for size in _state_sizes(layer)
        ]
        x, *new_states = stepping(x, initial_state=states)
        stepping.set_weights(layer.get_weights())
        state_inputs += states
        state_outputs += new_states
    logits = head(x[:, -1, :])
    return keras.Model([ids, *state_inputs], [logits, *state_outputs])


def _state_sizes(layer):
    """The sizes of a recurrent layer's states (two for an LSTM, one for a GRU)."""
    sizes = layer.cell.state_size
    return list(sizes) if isinstance(sizes, list | tuple) else [sizes]


def _check_vocabulary(vocabulary):
    """Raises `ValueError` unless `vocabulary` holds distinct single characters."""
    if not vocabulary or not all(
        isinstance(c, str) and len(c) == 1 for c in vocabulary
    ):
        raise ValueError(
            "Argument `vocabulary` must be a non-empty list of single characters. "
            f"Received: vocabulary={vocabulary!r:.80}"
        )
    if len(set(vocabulary)) != len(vocabulary):
        raise ValueError(
            "Argument `vocabulary` holds a character twice: list each once."
        )
