"""Sentiment RNN: raw text -> sentiment class (Embedding + LSTM/GRU)."""

from collections import Counter

import keras

from cnnrnn.data.word_vectors import read_word_vectors
from cnnrnn.errors import check_choice
from cnnrnn.models.checks import (
    check_bool,
    check_fraction,
    check_int,
    check_optimizer,
    check_positive,
)
from cnnrnn.models.layers import (
    RNN_LAYERS,
    RNN_TYPES,
    AttentionPooling1D,
    BoundSequenceLength,
    MaskedGlobalMaxPooling1D,
    NgramBag,
    WordDropout,
    classifier_model,
)

POOLINGS = ("last", "max", "attention")
# Tokens that `TextVectorization` reserves for padding and out-of-vocabulary words.
_RESERVED_TOKENS = ("", "[UNK]")


def build_sentiment_rnn(
    *,
    vocabulary=None,
    vectorizer=None,
    num_classes=2,
    raw_text=True,
    standardize="lower_and_strip_punctuation",
    max_length=None,
    rnn_type="lstm",
    bidirectional=True,
    num_layers=1,
    units=64,
    embedding_dim=64,
    embeddings=None,
    dropout=0.3,
    recurrent_dropout=0.0,
    pooling="attention",
    ngram_dim=0,
    word_dropout=0.0,
    learning_rate=1e-3,
    optimizer="adam",
    weight_decay=0.0,
    compile=True,
    name=None,
):
    """Builds a text classifier that takes raw strings (or word ids).

    The model takes a batch of raw strings. A `TextVectorization` layer inside
    the model turns them into word ids, padded with 0 only up to the longest
    text of the batch, so a saved model takes raw strings too. With
    `raw_text=False` the model takes those word ids instead (see below). The ids go
    through an `Embedding` with `mask_zero=True`: every later layer ignores the
    padding, and a text gets the same prediction whatever the length of the
    other texts of its batch. `num_layers` LSTM or GRU layers follow
    (bidirectional by default), then a pooling over time, a dropout layer and
    a float32 softmax `Dense` layer, so the model also works under a
    `"mixed_float16"` dtype policy.

    Texts longer than `max_length` words keep their first `max_length`
    words. A text with no words at all (empty, or only punctuation) is read as
    one out-of-vocabulary word.

    The string input needs the tensorflow backend. `model.predict` in Keras
    3.15 rejects NumPy arrays of dtype `str` (`<U...`); pass a `tf.data`
    dataset, a `tf.Tensor` of strings, or a NumPy array of dtype `object`
    (calling `model(texts)` accepts any of them). On the jax and torch
    backends build the model with `raw_text=False`: it takes `(batch, steps)`
    int word ids, 0 for padding, such as a `TextVectorization` outside the
    model writes (that layer needs the tensorflow package, not the backend).
    `split_vectorizer` turns a raw-text model into its vectorizer and such a
    word-id model with the same weights. The custom layers live in
    `cnnrnn.models.layers`: import `cnnrnn.models` before
    `keras.saving.load_model`.

    Args:
        vocabulary: list of str or None. Words of the vectorizer, most
            frequent first, without the padding token `""` and the
            out-of-vocabulary token `"[UNK]"` (as in
            `TextVectorization.get_vocabulary()[2:]`). Give exactly one of
            `vocabulary` and `vectorizer`. Defaults to None.
        vectorizer: `keras.layers.TextVectorization` or None. An adapted
            vectorizer with `output_mode="int"`, used as it is (with its own
            name, standardization and padding). Defaults to None.
        num_classes: int. Number of classes, at least 2. Defaults to 2.
        raw_text: bool. Whether the model takes raw strings (its vectorizer
            inside; tensorflow backend only) or word ids (every backend; the
            vectorizer, or `vocabulary`, only sets the number of ids).
            Defaults to True.
        standardize: str or None. `TextVectorization` standardization of the
            vectorizer built from `vocabulary`: `"lower_and_strip_punctuation"`,
            `"lower"`, `"strip_punctuation"` or None. Ignored with a
            `vectorizer`. Defaults to `"lower_and_strip_punctuation"`.
        max_length: int or None. Largest number of words read per text, at
            least 1, or None to read whole texts. Defaults to None.
        rnn_type: str. `"lstm"` or `"gru"`. Defaults to `"lstm"`.
        bidirectional: bool. Whether every recurrent layer reads the text in
            both directions (`keras.layers.Bidirectional`). Defaults to True.
        num_layers: int. Number of stacked recurrent layers, at least 1.
            Defaults to 1.
        units: int. Units of every recurrent layer (per direction), at least
            1. Defaults to 64.
        embedding_dim: int. Size of the word embeddings, at least 1.
            Ignored with `embeddings`. Defaults to 64.
        embeddings: str, path or None. A pretrained word vectors file (GloVe
            or word2vec text format, see
            `cnnrnn.data.word_vectors.read_word_vectors`) whose vectors start
            the embeddings of the vocabulary's words (then trained further);
            its vectors' size is the embedding size. Words not in the file
            start from small random vectors (`embedding_coverage` counts
            them). None: random embeddings. Defaults to None.
        ngram_dim: int. Size of a bag-of-n-grams branch (`NgramBag`: the mean
            of word and word-pair embeddings) whose features join the
            recurrent ones before the classifier, or 0 for none. Defaults to
            0.
        word_dropout: float. Probability that a training word is read as
            the out-of-vocabulary word (`WordDropout`), in `[0, 1)`: the
            model learns what to make of words it has not seen, which texts
            of another domain are full of. Defaults to 0.0.
        dropout: float. Input dropout of the recurrent layers and dropout
            rate before the classifier, in `[0, 1)`. Defaults to 0.3.
        recurrent_dropout: float. Dropout of the recurrent state, in
            `[0, 1)`. Anything but 0 rules out the fast cuDNN kernels on a
            GPU. Defaults to 0.0.
        pooling: str. How the steps of the last recurrent layer become one
            vector: `"last"` (its output at the last word of each text; the
            first word for the backward direction), `"max"` (maximum over the
            words, see `MaskedGlobalMaxPooling1D`) or `"attention"` (learned
            weighted sum over the words, see `AttentionPooling1D`; the best
            of the three on the real review sentences). Defaults to
            `"attention"`.
        learning_rate: float. Learning rate of the optimizer, positive.
            Defaults to 1e-3.
        optimizer: str. One of `"adam"`, `"rmsprop"`, `"sgd"` (momentum
            0.9). Defaults to `"adam"`.
        weight_decay: float. Decoupled weight decay, >= 0, applied by the
            optimizer to every trainable variable's update (see
            `cnnrnn.models.checks.make_optimizer`); 0 for none. Defaults to
            0.0.
        compile: bool. Whether to compile the model with the optimizer,
            sparse categorical cross-entropy and accuracy. Defaults to True.
        name: str or None. Model name and prefix of every layer name (but a
            given `vectorizer`'s). Defaults to `"sentiment_rnn"`.

    Returns:
        A functional `keras.Model` mapping a `(batch,)` string tensor (with
        `raw_text=False`: `(batch, steps)` int word ids) to
        `(batch, num_classes)` class probabilities.

    Raises:
        ValueError: if an argument is out of range or unknown, or if not
            exactly one of `vocabulary` and `vectorizer` is given.

    Example:

    >>> model = build_sentiment_rnn(vocabulary=["good", "bad", "not"])
    >>> model.output_shape
    (None, 2)

    On jax or torch, with the vectorizer outside the model:

    >>> vectorizer = keras.layers.TextVectorization(vocabulary=["good", "bad"])
    >>> model = build_sentiment_rnn(vectorizer=vectorizer, raw_text=False)
    >>> ids = keras.ops.convert_to_numpy(vectorizer(["good film", "bad"]))
    >>> model.predict(ids).shape
    (2, 2)
    """
    _validate(
        vocabulary=vocabulary,
        vectorizer=vectorizer,
        num_classes=num_classes,
        raw_text=raw_text,
        max_length=max_length,
        rnn_type=rnn_type,
        num_layers=num_layers,
        units=units,
        embedding_dim=embedding_dim,
        ngram_dim=ngram_dim,
        word_dropout=word_dropout,
        dropout=dropout,
        recurrent_dropout=recurrent_dropout,
        pooling=pooling,
        learning_rate=learning_rate,
        optimizer=optimizer,
        weight_decay=weight_decay,
    )
    name = name or "sentiment_rnn"
    if raw_text:
        if vectorizer is None:
            vectorizer = keras.layers.TextVectorization(
                vocabulary=list(vocabulary),
                standardize=standardize,
                output_mode="int",
                output_sequence_length=None,
                name=f"{name}_vectorizer",
            )
        inputs = keras.Input(shape=(), dtype="string", name="texts")
        x = vectorizer(inputs)
        vocabulary_size = vectorizer.vocabulary_size()
    else:
        inputs = x = keras.Input(shape=(None,), dtype="int32", name="token_ids")
        vocabulary_size = (
            vectorizer.vocabulary_size()
            if vocabulary is None
            else len(vocabulary) + len(_RESERVED_TOKENS)
        )
    x = BoundSequenceLength(max_length, name=f"{name}_length")(x)
    if word_dropout:
        x = WordDropout(word_dropout, name=f"{name}_word_dropout")(x)
    ids = x
    pretrained = embeddings and read_word_vectors(
        embeddings, _words(vocabulary, vectorizer)
    )
    embedding = keras.layers.Embedding(
        vocabulary_size,
        pretrained.matrix.shape[1] if pretrained else embedding_dim,
        mask_zero=True,
        name=f"{name}_embedding",
    )
    x = embedding(x)
    if pretrained:
        embedding.embeddings.assign(pretrained.matrix)
    for i in range(1, num_layers + 1):
        rnn = RNN_LAYERS[rnn_type](
            units,
            dropout=dropout,
            recurrent_dropout=recurrent_dropout,
            return_sequences=i < num_layers or pooling != "last",
            name=f"{name}_{rnn_type}{i}" if bidirectional else f"{name}_rnn{i}",
        )
        if bidirectional:
            rnn = keras.layers.Bidirectional(rnn, name=f"{name}_rnn{i}")
        x = rnn(x)
    if pooling == "max":
        x = MaskedGlobalMaxPooling1D(name=f"{name}_pool")(x)
    elif pooling == "attention":
        x = AttentionPooling1D(units, name=f"{name}_pool")(x)
    if ngram_dim:
        bag = NgramBag(vocabulary_size, ngram_dim, name=f"{name}_ngrams")(ids)
        x = keras.layers.Concatenate(name=f"{name}_features")([x, bag])
    return classifier_model(
        inputs,
        x,
        num_classes=num_classes,
        dropout=dropout,
        learning_rate=learning_rate,
        optimizer=optimizer,
        weight_decay=weight_decay,
        compile=compile,
        name=name,
    )


def embedding_coverage(*, embeddings=None, vocabulary=None, **_):
    """How many of a sentiment model's words its `embeddings` file covers.

    Takes the model's factory arguments (those of a run's configuration).

    Returns:
        `{"embeddings": summary}` (see `WordVectors.summary`), or `{}`
        without an `embeddings` file.
    """
    if not embeddings or vocabulary is None:
        return {}
    return {"embeddings": read_word_vectors(embeddings, vocabulary).summary()}


def _words(vocabulary, vectorizer):
    if vocabulary is not None:
        return list(vocabulary)
    return [str(word) for word in vectorizer.get_vocabulary()[len(_RESERVED_TOKENS) :]]


def split_vectorizer(model):
    """Splits a raw-text sentiment model into its vectorizer and a word-id model.

    The word-id model is the rest of the network, sharing its layers and
    weights: it takes `(batch, steps)` int ids as the vectorizer writes them,
    and runs (and loads, once saved) on every backend. Save it on tensorflow,
    where the raw-text model loads, and keep the vocabulary beside it.

    Args:
        model: a `keras.Model` from `build_sentiment_rnn` with `raw_text=True`
            (also a loaded one).

    Returns:
        A tuple `(vectorizer, token_id_model)`.

    Raises:
        ValueError: if the model has no `TextVectorization` layer.

    Example:

    >>> vectorizer, id_model = split_vectorizer(model)
    >>> id_model.save("model_ids.keras")
    >>> vocabulary = vectorizer.get_vocabulary()[2:]
    """
    vectorizers = [
        layer
        for layer in model.layers
        if isinstance(layer, keras.layers.TextVectorization)
    ]
    if not vectorizers:
        raise ValueError(
            f"Model {model.name!r} takes no raw text (it has no TextVectorization "
            "layer): it already takes word ids."
        )
    vectorizer = vectorizers[0]
    return vectorizer, keras.Model(
        vectorizer.output, model.output, name=f"{model.name}_ids"
    )


def _validate(
    *,
    vocabulary,
    vectorizer,
    num_classes,
    raw_text,
    max_length,
    rnn_type,
    num_layers,
    units,
    embedding_dim,
    ngram_dim,
    word_dropout,
    dropout,
    recurrent_dropout,
    pooling,
    learning_rate,
    optimizer,
    weight_decay,
):
    if (vocabulary is None) == (vectorizer is None):
        raise ValueError(
            "Pass exactly one of `vocabulary` and `vectorizer`. Received: "
            f"vocabulary={_short(vocabulary)}, vectorizer={vectorizer!r}"
        )
    if vocabulary is not None:
        _validate_vocabulary(vocabulary)
    else:
        _validate_vectorizer(vectorizer)
    check_int("num_classes", num_classes, minimum=2)
    check_bool("raw_text", raw_text)
    if max_length is not None:
        check_int("max_length", max_length)
    check_choice("rnn_type", rnn_type, RNN_TYPES)
    check_choice("pooling", pooling, POOLINGS)
    check_int("num_layers", num_layers)
    check_int("units", units)
    check_int("embedding_dim", embedding_dim)
    check_int("ngram_dim", ngram_dim, minimum=0)
    check_fraction("word_dropout", word_dropout)
    check_fraction("dropout", dropout)
    check_fraction("recurrent_dropout", recurrent_dropout)
    check_positive("learning_rate", learning_rate)
    check_optimizer(optimizer, weight_decay)


def _validate_vocabulary(vocabulary):
    if (
        not isinstance(vocabulary, (list, tuple))
        or not vocabulary
        or not all(isinstance(token, str) for token in vocabulary)
    ):
        raise ValueError(
            "Argument `vocabulary` must be a non-empty list of str. "
            f"Received: vocabulary={_short(vocabulary)}"
        )
    reserved = [token for token in _RESERVED_TOKENS if token in vocabulary]
    if reserved:
        raise ValueError(
            "Argument `vocabulary` must not hold the reserved tokens '' and "
            "'[UNK]' (pass `TextVectorization.get_vocabulary()[2:]`). "
            f"Received: vocabulary with {', '.join(map(repr, reserved))}"
        )
    repeated = [token for token, count in Counter(vocabulary).items() if count > 1]
    if repeated:
        raise ValueError(
            "Argument `vocabulary` must not repeat tokens. Received: vocabulary "
            f"with repeated {', '.join(map(repr, repeated[:5]))}"
        )


def _validate_vectorizer(vectorizer):
    if not isinstance(vectorizer, keras.layers.TextVectorization):
        raise ValueError(
            "Argument `vectorizer` must be a keras.layers.TextVectorization. "
            f"Received: vectorizer={vectorizer!r}"
        )
    config = vectorizer.get_config()
    if config["output_mode"] != "int" or config["ragged"]:
        raise ValueError(
            "Argument `vectorizer` must have output_mode='int' and ragged=False. "
            f"Received: output_mode={config['output_mode']!r}, "
            f"ragged={config['ragged']!r}"
        )
    if vectorizer.vocabulary_size() <= len(_RESERVED_TOKENS):
        raise ValueError(
            "Argument `vectorizer` has no vocabulary; adapt it or give it one. "
            f"Received: vocabulary_size={vectorizer.vocabulary_size()}"
        )


def _short(value):
    """`repr` of an argument, shortened for error messages."""
    text = repr(value)
    return text if len(text) <= 80 else f"{text[:77]}..."
