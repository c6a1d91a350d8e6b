import keras
import numpy as np
import pytest
from test_case import (
    assert_learns,
    assert_optimizer_kind,
    learning_check,
    run_model_smoke_test,
    run_saving_test,
    tensorflow_only,
)

from cnnrnn.errors import DataError
from cnnrnn.models import build_sentiment_rnn, split_vectorizer
from cnnrnn.models.layers import NgramBag, WordDropout
from cnnrnn.models.sentiment import POOLINGS, RNN_TYPES, embedding_coverage

pytestmark = pytest.mark.backends

POSITIVE = ("good", "great", "fine", "nice")
NEGATIVE = ("bad", "awful", "poor", "dull")
VOCABULARY = [*POSITIVE, *NEGATIVE, "not", "but", "the", "movie", "was", "very"]
SMALL = {"vocabulary": VOCABULARY, "units": 8, "embedding_dim": 8}
SHORT = "not bad"
LONG = " ".join(["the movie was very good but not great"] * 6)


def _texts(*texts):
    # `model.predict` in Keras 3.15 rejects NumPy `str` arrays; `object` ones work.
    return np.array(texts, dtype=object)


def _ids(*texts):
    """Word ids of `texts` as `TextVectorization(vocabulary=VOCABULARY)` writes them.

    The test texts hold lower-case words, spaces and punctuation only.
    """
    words = [
        "".join(c for c in text.lower() if c.isalnum() or c.isspace()).split()
        for text in texts
    ]
    ids = np.zeros((len(texts), max(map(len, words))), "int32")
    for row, text_words in enumerate(words):
        for column, word in enumerate(text_words):
            ids[row, column] = VOCABULARY.index(word) + 2 if word in VOCABULARY else 1
    return ids


@pytest.fixture(params=["strings", "ids"])
def text_input(request):
    """`"strings"`: raw-text models (tensorflow only); `"ids"`: word-id models."""
    if request.param == "strings" and keras.backend.backend() != "tensorflow":
        pytest.skip("tensorflow backend only: string inputs")
    return request.param


def _model(text_input, **kwargs):
    """A sentiment model that takes raw strings or word ids, as `text_input` says."""
    return build_sentiment_rnn(raw_text=text_input == "strings", **kwargs)


def _inputs(text_input, *texts):
    """`texts` as the model of `text_input` takes them."""
    return _texts(*texts) if text_input == "strings" else _ids(*texts)


def _order_dependent(count=64):
    """Texts whose words only tell their label apart in order.

    "good but not bad" (1) and "bad but not good" (0), "not bad but good" (1)
    and "not good but bad" (0): the label is the sentiment of the word that
    "not" does not negate. Texts come in pairs of the same words with opposite
    labels, so a bag of words cannot beat 50%.
    """
    texts, labels = [], []
    for positive in POSITIVE:
        for negative in NEGATIVE:
            texts += [
                f"{positive} but not {negative}",
                f"{negative} but not {positive}",
                f"not {negative} but {positive}",
                f"not {positive} but {negative}",
            ]
            labels += [1, 0, 1, 0]
    return texts[:count], np.array(labels[:count])


@tensorflow_only("string inputs")
def test_outputs_are_class_probabilities_of_raw_strings(seed):
    model = build_sentiment_rnn(num_classes=3, **SMALL)
    texts = np.array(["The movie was GOOD!", "not bad", "unseen words only", ""])
    probabilities = keras.ops.convert_to_numpy(model(texts))
    assert probabilities.shape == (4, 3)
    assert probabilities.dtype == np.float32
    np.testing.assert_allclose(probabilities.sum(axis=-1), 1.0, atol=1e-5)
    np.testing.assert_allclose(model.predict_on_batch(texts), probabilities, atol=1e-6)
    np.testing.assert_allclose(
        model.predict(texts.astype(object), verbose=0), probabilities, atol=1e-6
    )


@tensorflow_only("string inputs")
def test_layer_names_are_stable():
    model = build_sentiment_rnn(pooling="attention", num_layers=2, **SMALL)
    assert [layer.name for layer in model.layers] == [
        "texts",
        "sentiment_rnn_vectorizer",
        "sentiment_rnn_length",
        "sentiment_rnn_embedding",
        "sentiment_rnn_rnn1",
        "sentiment_rnn_rnn2",
        "sentiment_rnn_pool",
        "sentiment_rnn_dropout",
        "sentiment_rnn_predictions",
    ]
    assert model.get_layer("sentiment_rnn_rnn1").forward_layer.name == (
        "forward_sentiment_rnn_lstm1"
    )

    model = build_sentiment_rnn(
        rnn_type="gru", bidirectional=False, pooling="last", name="mood", **SMALL
    )
    assert model.name == "mood"
    assert [layer.name for layer in model.layers][1:] == [
        "mood_vectorizer",
        "mood_length",
        "mood_embedding",
        "mood_rnn1",
        "mood_dropout",
        "mood_predictions",
    ]
    assert isinstance(model.get_layer("mood_rnn1"), keras.layers.GRU)


def test_word_id_model_takes_ids_and_has_no_vectorizer(seed):
    model = build_sentiment_rnn(raw_text=False, **SMALL)
    assert [layer.name for layer in model.layers][:3] == [
        "token_ids",
        "sentiment_rnn_length",
        "sentiment_rnn_embedding",
    ]
    assert model.get_layer("sentiment_rnn_embedding").input_dim == len(VOCABULARY) + 2
    probabilities = model.predict(_ids("The movie was GOOD!", "not bad", ""), verbose=0)
    assert probabilities.shape == (3, 2)
    assert probabilities.dtype == np.float32
    np.testing.assert_allclose(probabilities.sum(axis=-1), 1.0, atol=1e-5)


@tensorflow_only("TextVectorization inside the model")
def test_word_id_model_matches_the_raw_text_model(seed):
    texts = _texts("not bad", "the movie was very good but not great", "", "!?")
    model = build_sentiment_rnn(**SMALL)
    vectorizer, id_model = split_vectorizer(model)
    ids = keras.ops.convert_to_numpy(vectorizer(texts))
    np.testing.assert_array_equal(ids, _ids(*texts))
    expected = keras.ops.convert_to_numpy(model(texts))
    np.testing.assert_allclose(id_model.predict(ids, verbose=0), expected, atol=1e-6)

    built = build_sentiment_rnn(raw_text=False, **SMALL)
    built.set_weights(model.get_weights())
    np.testing.assert_allclose(built.predict(ids, verbose=0), expected, atol=1e-6)
    with pytest.raises(ValueError, match="already takes word ids"):
        split_vectorizer(built)


@pytest.mark.parametrize("bidirectional", [True, False], ids=["bi", "uni"])
@pytest.mark.parametrize("rnn_type", RNN_TYPES)
@pytest.mark.parametrize("pooling", POOLINGS)
def test_every_configuration_builds_and_runs(pooling, rnn_type, bidirectional):
    model = build_sentiment_rnn(
        raw_text=False,
        pooling=pooling,
        rnn_type=rnn_type,
        bidirectional=bidirectional,
        num_layers=2,
        compile=False,
        **SMALL,
    )
    probabilities = keras.ops.convert_to_numpy(model(_ids(SHORT, LONG)))
    assert probabilities.shape == (2, 2)
    np.testing.assert_allclose(probabilities.sum(axis=-1), 1.0, atol=1e-5)


@pytest.mark.parametrize("rnn_type", RNN_TYPES)
@pytest.mark.parametrize("pooling", POOLINGS)
def test_padding_does_not_change_predictions(seed, text_input, pooling, rnn_type):
    model = _model(
        text_input,
        pooling=pooling,
        rnn_type=rnn_type,
        num_layers=2,
        compile=False,
        **SMALL,
    )
    alone = keras.ops.convert_to_numpy(model(_inputs(text_input, SHORT)))
    padded = keras.ops.convert_to_numpy(model(_inputs(text_input, SHORT, LONG)))
    np.testing.assert_allclose(padded[:1], alone, atol=1e-5)
    # Unknown words in place of the padding do change the prediction.
    unknown = keras.ops.convert_to_numpy(
        model(_inputs(text_input, SHORT + " qwerty" * 8))
    )
    assert np.abs(unknown - alone).max() > 1e-4


def test_max_length_keeps_the_first_words(seed, text_input):
    model = _model(text_input, max_length=3, **SMALL)
    untruncated = _model(text_input, **SMALL)
    untruncated.set_weights(model.get_weights())
    texts = _inputs(text_input, "good but not", "good but not bad at all, very bad")
    truncated = model.predict(texts, verbose=0)
    np.testing.assert_allclose(truncated[1], truncated[0], atol=1e-6)
    np.testing.assert_allclose(
        untruncated.predict(texts[:1], verbose=0), truncated[:1], atol=1e-6
    )
    assert not np.allclose(untruncated.predict(texts[1:], verbose=0), truncated[1:])


@pytest.mark.parametrize("pooling", POOLINGS)
def test_text_without_words_reads_as_unknown_word(seed, text_input, pooling):
    model = _model(text_input, pooling=pooling, **SMALL)
    unknown = keras.ops.convert_to_numpy(model(_inputs(text_input, "qwerty")))
    for texts in ([""], ["!?"], ["", "..."]):
        texts = _inputs(text_input, *texts)
        probabilities = keras.ops.convert_to_numpy(model(texts))
        np.testing.assert_allclose(
            probabilities, np.repeat(unknown, len(texts), axis=0), atol=1e-6
        )


def test_smoke(seed, text_input):
    model = _model(text_input, **SMALL)
    texts = _inputs(text_input, "good movie", "not good", "the movie was very dull", "")
    run_model_smoke_test(
        model,
        texts,
        np.array([1, 0, 0, 1]),
        expected_output_shape=(4, 2),
        py_dataset=text_input == "ids",
    )


# Every custom layer: `BoundSequenceLength` is in both, and "last" adds none.
@pytest.mark.parametrize("pooling", ["max", "attention"])
def test_saving_keeps_outputs(seed, tmp_path, text_input, pooling):
    model = _model(text_input, pooling=pooling, max_length=5, compile=False, **SMALL)
    run_saving_test(model, _inputs(text_input, *_order_dependent(8)[0]), tmp_path)


def test_ngram_branch_ignores_padding_and_saves(seed, tmp_path, text_input):
    model = _model(text_input, ngram_dim=4, compile=False, **SMALL)
    assert model.get_layer("sentiment_rnn_ngrams").output.shape == (None, 4)
    alone = keras.ops.convert_to_numpy(model(_inputs(text_input, SHORT)))
    padded = keras.ops.convert_to_numpy(model(_inputs(text_input, SHORT, LONG)))
    np.testing.assert_allclose(padded[:1], alone, atol=1e-5)
    run_saving_test(model, _inputs(text_input, *_order_dependent(8)[0]), tmp_path)


def test_ngram_bag_is_a_mean_of_word_and_word_pair_vectors(seed):
    bag = NgramBag(vocabulary_size=8, output_dim=3, num_buckets=16)
    ids = np.array([[2, 3, 0, 0], [3, 2, 0, 0], [0, 0, 0, 0]])
    bags = keras.ops.convert_to_numpy(bag(ids))
    words, pairs = (keras.ops.convert_to_numpy(w) for w in bag.weights)
    pair = (2 * 10007 + 3) % 16
    np.testing.assert_allclose(
        bags[0], (words[2] + words[3] + pairs[pair]) / 3, rtol=1e-5
    )
    assert not np.allclose(bags[0], bags[1])  # the pair's order counts
    np.testing.assert_array_equal(bags[2], 0)  # no words: zeros


def test_word_dropout_reads_training_words_as_unknown(seed):
    layer = WordDropout(0.5, seed=1)
    ids = np.array([[5, 6, 7, 8, 9, 10, 11, 12, 0, 0]] * 50)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer(ids)), ids)
    dropped = keras.ops.convert_to_numpy(layer(ids, training=True))
    words = ids > 0
    assert np.all(dropped[~words] == 0)  # padding stays padding
    assert np.all((dropped[words] == ids[words]) | (dropped[words] == 1))
    assert 0.4 < np.mean(dropped[words] == 1) < 0.6
    model = _model("ids", word_dropout=0.3, **SMALL)
    texts = _ids(*_order_dependent(8)[0])
    np.testing.assert_allclose(  # inference: no words dropped
        model.predict(texts, verbose=0), model.predict(texts, verbose=0)
    )


def _write_vectors(path, words, dim=6, header=False):
    rng = np.random.default_rng(0)
    vectors = {word: rng.normal(size=dim).round(3) for word in words}
    lines = [f"{len(words)} {dim}"] if header else []
    lines += [f"{word} {' '.join(map(str, v))}" for word, v in vectors.items()]
    path.write_text("\n".join(lines) + "\n")
    return vectors


@pytest.mark.parametrize("header", [False, True], ids=["glove", "word2vec"])
def test_pretrained_word_vectors_start_the_embeddings(tmp_path, header):
    path = tmp_path / "vectors.txt"
    vectors = _write_vectors(path, ["Good", "bad", "movie", "unused"], header=header)
    model = build_sentiment_rnn(raw_text=False, embeddings=str(path), **SMALL)
    table = keras.ops.convert_to_numpy(
        model.get_layer("sentiment_rnn_embedding").embeddings
    )
    assert table.shape == (len(VOCABULARY) + 2, 6)  # the file's size, not 8
    for word in ("good", "bad", "movie"):  # "Good" is found lowercased
        key = word if word in vectors else word.capitalize()
        np.testing.assert_allclose(table[VOCABULARY.index(word) + 2], vectors[key])
    coverage = embedding_coverage(embeddings=str(path), vocabulary=VOCABULARY)
    assert coverage["embeddings"].startswith(
        f"3 of {len(VOCABULARY)} words have a pretrained vector (dim 6); "
        f"{len(VOCABULARY) - 3} missing, e.g. great, fine"
    )
    assert embedding_coverage(vocabulary=VOCABULARY) == {}


def test_bad_word_vectors_files_are_refused(tmp_path):
    with pytest.raises(DataError, match="not found: give model.embeddings"):
        build_sentiment_rnn(embeddings=str(tmp_path / "missing.txt"), **SMALL)
    ragged = tmp_path / "ragged.txt"
    ragged.write_text("good 1 2 3\nbad 1 2\n")
    with pytest.raises(DataError, match="line 2: 2 numbers after 'bad', 3 before"):
        build_sentiment_rnn(embeddings=str(ragged), **SMALL)
    words = tmp_path / "words.txt"
    words.write_text("good one two\n")
    with pytest.raises(DataError, match="line 1: the vector of 'good' is not numbers"):
        build_sentiment_rnn(embeddings=str(words), **SMALL)
    empty = tmp_path / "empty.txt"
    empty.write_text("\n")
    with pytest.raises(DataError, match="holds no vectors"):
        build_sentiment_rnn(embeddings=str(empty), **SMALL)


def test_default_optimizer_is_adam_without_weight_decay():
    model = build_sentiment_rnn(raw_text=False, **SMALL)
    assert_optimizer_kind(model.optimizer, keras.optimizers.Adam)
    assert model.optimizer.weight_decay is None


def test_optimizer_and_weight_decay(seed, tmp_path):
    model = build_sentiment_rnn(
        raw_text=False, optimizer="sgd", weight_decay=1e-4, **SMALL
    )
    assert_optimizer_kind(model.optimizer, keras.optimizers.SGD)
    assert model.optimizer.momentum == 0.9
    assert model.optimizer.weight_decay == pytest.approx(1e-4)
    texts, y = _order_dependent(8)
    x = _ids(*texts)
    logs = model.train_on_batch(x, y, return_dict=True)
    assert np.isfinite(logs["loss"])

    loaded = run_saving_test(model, x, tmp_path)
    assert_optimizer_kind(loaded.optimizer, keras.optimizers.SGD)
    assert loaded.optimizer.weight_decay == pytest.approx(1e-4)


@learning_check
@pytest.mark.parametrize("pooling", POOLINGS)
def test_learns_word_order(seed, pooling):
    """On raw strings: the word-id model is the same network
    (`test_word_id_model_matches_the_raw_text_model`)."""
    texts, y = _order_dependent(64)
    model = _model("strings", pooling=pooling, learning_rate=2e-2, dropout=0.0, **SMALL)
    assert_learns(model, _inputs("strings", *texts), y, epochs=12, min_accuracy=0.9)


@tensorflow_only("TextVectorization inside the model")
def test_pre_adapted_vectorizer_is_used_as_is(seed):
    texts = _texts(*_order_dependent(16)[0])
    vectorizer = keras.layers.TextVectorization(name="words")
    vectorizer.adapt(texts)
    model = build_sentiment_rnn(vectorizer=vectorizer, units=8, embedding_dim=8)
    assert model.get_layer("words") is vectorizer
    assert model.get_layer("sentiment_rnn_embedding").input_dim == (
        vectorizer.vocabulary_size()
    )
    from_vocabulary = build_sentiment_rnn(
        vocabulary=vectorizer.get_vocabulary()[2:], units=8, embedding_dim=8
    )
    from_vocabulary.set_weights(model.get_weights())
    np.testing.assert_allclose(from_vocabulary(texts), model(texts), atol=1e-6)


@pytest.mark.parametrize("pooling", POOLINGS)
def test_mixed_precision_outputs_float32(seed, mixed_precision, text_input, pooling):
    model = _model(text_input, pooling=pooling, compile=False, **SMALL)
    assert model.get_layer("sentiment_rnn_embedding").compute_dtype == "float16"
    assert model.get_layer("sentiment_rnn_rnn1").compute_dtype == "float16"
    probabilities = keras.ops.convert_to_numpy(
        model(_inputs(text_input, SHORT, LONG, ""))
    )
    assert probabilities.dtype == np.float32
    np.testing.assert_allclose(probabilities.sum(axis=-1), 1.0, atol=1e-5)


def test_mixed_precision_trains(seed, mixed_precision, text_input):
    model = _model(text_input, pooling="attention", **SMALL)
    texts, labels = _order_dependent(8)
    logs = model.train_on_batch(_inputs(text_input, *texts), labels, return_dict=True)
    assert np.isfinite(logs["loss"])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"vocabulary": None},
            r"exactly one of `vocabulary` and `vectorizer`\. "
            r"Received: vocabulary=None, vectorizer=None$",
        ),
        ({"vocabulary": []}, r"Received: vocabulary=\[\]$"),
        ({"vocabulary": "good bad"}, r"Received: vocabulary='good bad'$"),
        ({"vocabulary": ["good", 3]}, r"Received: vocabulary=\['good', 3\]$"),
        (
            {"vocabulary": ["", "[UNK]", "good"]},
            r"`vocabulary` must not hold the reserved .* "
            r"Received: vocabulary with '', '\[UNK\]'$",
        ),
        (
            {"vocabulary": ["good", "[UNK]"]},
            r"`vocabulary` must not hold the reserved .* "
            r"Received: vocabulary with '\[UNK\]'$",
        ),
        (
            {"vocabulary": ["good", "bad", "good"]},
            r"Received: vocabulary with repeated 'good'$",
        ),
        ({"num_classes": 1}, r"Received: num_classes=1$"),
        ({"num_classes": 2.0}, r"Received: num_classes=2\.0$"),
        (
            {"rnn_type": "lsmt"},
            r"Received: rnn_type='lsmt'\. Expected one of 'lstm', 'gru'\.",
        ),
        ({"pooling": "mean"}, r"Received: pooling='mean'\. Expected one of 'last', "),
        ({"num_layers": 0}, r"Received: num_layers=0$"),
        ({"units": 0}, r"Received: units=0$"),
        ({"units": True}, r"Received: units=True$"),
        ({"embedding_dim": 0}, r"Received: embedding_dim=0$"),
        ({"ngram_dim": -1}, r"Received: ngram_dim=-1$"),
        ({"word_dropout": 1.0}, r"Received: word_dropout=1\.0$"),
        ({"ngram_dim": 1.5}, r"Received: ngram_dim=1\.5$"),
        ({"dropout": 1.0}, r"Received: dropout=1\.0$"),
        ({"dropout": -0.1}, r"Received: dropout=-0\.1$"),
        ({"recurrent_dropout": 1.0}, r"Received: recurrent_dropout=1\.0$"),
        ({"max_length": 0}, r"Received: max_length=0$"),
        ({"max_length": 2.5}, r"Received: max_length=2\.5$"),
        ({"learning_rate": 0}, r"Received: learning_rate=0$"),
        ({"learning_rate": "fast"}, r"Received: learning_rate='fast'$"),
        ({"raw_text": "no"}, r"Received: raw_text='no'$"),
    ],
    ids=str,
)
def test_invalid_arguments_raise(kwargs, message):
    """Each message names the argument at fault and the value it was given."""
    kwargs = {"vocabulary": VOCABULARY, **kwargs}
    with pytest.raises(ValueError, match=message):
        build_sentiment_rnn(**kwargs)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"vectorizer": "words"},
            r"`vectorizer` must be a keras\.layers\.TextVectorization\. "
            r"Received: vectorizer='words'$",
        ),
        (
            {"vectorizer": {}},
            r"`vectorizer` has no vocabulary; .* Received: vocabulary_size=2$",
        ),
        (
            {"vectorizer": {"vocabulary": ["a"], "ragged": True}},
            r"`vectorizer` must have output_mode='int' and ragged=False\. "
            r"Received: output_mode='int', ragged=True$",
        ),
        (
            {"vectorizer": {"vocabulary": ["a"], "output_mode": "multi_hot"}},
            r"`vectorizer` must have output_mode='int' and ragged=False\. "
            r"Received: output_mode='multi_hot', ragged=False$",
        ),
        (
            {"vectorizer": {"vocabulary": ["a"]}, "vocabulary": ["a"]},
            r"exactly one of `vocabulary` and `vectorizer`\. Received: "
            r"vocabulary=\['a'\], vectorizer=<TextVectorization",
        ),
    ],
    ids=["not-a-layer", "not-adapted", "ragged", "multi-hot", "both"],
)
@tensorflow_only("TextVectorization options")
def test_invalid_vectorizer_raises(kwargs, message):
    """A dict stands for the keyword arguments of a `TextVectorization`."""
    if isinstance(kwargs["vectorizer"], dict):
        kwargs["vectorizer"] = keras.layers.TextVectorization(**kwargs["vectorizer"])
    with pytest.raises(ValueError, match=message):
        build_sentiment_rnn(**kwargs)


def test_invalid_choice_names_the_options():
    with pytest.raises(
        ValueError,
        match=r"Received: rnn_type='lsmt'\. Expected one of 'lstm', 'gru'\.",
    ):
        build_sentiment_rnn(vocabulary=VOCABULARY, rnn_type="lsmt")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"optimizer": "adamw"}, r"optimizer='adamw'\. Expected one of 'adam', "),
        ({"weight_decay": -1e-4}, "weight_decay=-0.0001"),
        ({"weight_decay": "1e-4"}, "weight_decay='1e-4'"),
    ],
)
def test_invalid_training_options_name_the_argument(kwargs, message):
    with pytest.raises(ValueError, match=message):
        build_sentiment_rnn(vocabulary=VOCABULARY, **kwargs)


def test_has_no_activation_argument():
    with pytest.raises(TypeError, match="activation"):
        build_sentiment_rnn(vocabulary=VOCABULARY, activation="gelu")
