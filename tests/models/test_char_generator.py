import keras
import numpy as np
import pytest
from test_case import (
    assert_optimizer_kind,
    learning_check,
    run_model_smoke_test,
    run_saving_test,
)

from cnnrnn.models import CharSampler, build_char_generator, generate
from cnnrnn.models.char_generator import RNN_TYPES, next_char_probabilities

pytestmark = pytest.mark.backends

VOCABULARY = list("abcdefgh \n")
SMALL = {"vocabulary": VOCABULARY, "units": 16, "embedding_dim": 8}
PREFIX = "abc defg\nhab cad"


def _softmax(logits):
    logits = np.asarray(logits, np.float64)
    exp = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return exp / exp.sum(axis=-1, keepdims=True)


def _ids(batch=2, steps=8):
    return np.random.default_rng(0).integers(1, len(VOCABULARY) + 1, (batch, steps))


@pytest.mark.parametrize("rnn_type", RNN_TYPES)
def test_smoke(seed, rnn_type):
    model = build_char_generator(rnn_type=rnn_type, **SMALL)
    x = _ids()
    run_model_smoke_test(
        model,
        x,
        np.roll(x, -1, axis=1),
        expected_output_shape=(2, 8, len(VOCABULARY) + 1),
    )


def test_reports_bits_per_character(seed):
    model = build_char_generator(**SMALL)
    x = _ids()
    logs = model.evaluate(x, np.roll(x, -1, axis=1), return_dict=True, verbose=0)
    assert logs["bits_per_char"] == pytest.approx(logs["loss"] / np.log(2), rel=1e-4)


@pytest.mark.parametrize("rnn_type", RNN_TYPES)
@pytest.mark.parametrize("num_layers", [1, 2])
def test_stepping_matches_the_full_model(seed, rnn_type, num_layers):
    model = build_char_generator(rnn_type=rnn_type, num_layers=num_layers, **SMALL)
    sampler = CharSampler(model)
    # The seed is read in one pass, the rest one character per step.
    logits, states = sampler.start(PREFIX[:5])
    for char in PREFIX[5:]:
        logits, states = sampler.step(sampler.embedding.encode(char)[None], states)
    np.testing.assert_allclose(
        _softmax(logits[0]), next_char_probabilities(model, PREFIX), atol=1e-5
    )


def test_same_seed_same_text_and_samples_differ(seed):
    model = build_char_generator(**SMALL)
    texts = generate(model, "ab", length=40, num_samples=3, seed=7)
    assert texts == generate(model, "ab", length=40, num_samples=3, seed=7)
    assert texts != generate(model, "ab", length=40, num_samples=3, seed=8)
    assert len(set(texts)) == 3
    assert all(len(text) == 40 and set(text) <= set(VOCABULARY) for text in texts)


def test_greedy_options_agree(seed):
    model = build_char_generator(**SMALL)
    greedy = generate(model, "ab", length=30, temperature=0, seed=1)
    assert greedy == generate(model, "ab", length=30, temperature=0, seed=2)
    assert greedy == generate(model, "ab", length=30, top_k=1, seed=3)
    assert greedy == generate(model, "ab", length=30, top_p=1e-9, seed=4)


def test_stop_string_ends_each_sample(seed):
    model = build_char_generator(vocabulary=list("ab"), units=8)
    texts = generate(model, "a", length=300, num_samples=4, stop="b", seed=0)
    for text in texts:
        assert text.endswith("b") and text.count("b") == 1


def test_stream_yields_one_character_per_step(seed):
    model = build_char_generator(**SMALL)
    steps = list(CharSampler(model).stream("a", length=5, num_samples=2, seed=0))
    assert len(steps) == 5
    assert all(len(chars) == 2 and all(len(c) == 1 for c in chars) for chars in steps)


def test_empty_seed_starts_a_line(seed):
    model = build_char_generator(**SMALL)
    assert generate(model, "", length=10, seed=0) == generate(
        model, "\n", length=10, seed=0
    )


def test_unknown_seed_characters_are_named(seed):
    model = build_char_generator(**SMALL)
    with pytest.raises(ValueError, match="never saw in training: 'xz'"):
        generate(model, "abxcz", length=5)


def test_lowercase_model_reads_capitals(seed):
    model = build_char_generator(lowercase=True, **SMALL)
    assert generate(model, "ABC", length=10, seed=0) == generate(
        model, "abc", length=10, seed=0
    )


@pytest.mark.parametrize(
    "options, match",
    [
        ({"length": -1}, "Received: length=-1$"),
        ({"num_samples": 0}, "Received: num_samples=0$"),
        ({"temperature": -0.5}, r"Received: temperature=-0\.5$"),
        ({"top_k": 0}, "Received: top_k=0$"),
        ({"top_p": 1.5}, r"Received: top_p=1\.5$"),
        ({"stop": ""}, "Argument `stop` must be a non-empty string. Received: ''$"),
    ],
)
def test_bad_sampling_options(seed, options, match):
    model = build_char_generator(**SMALL)
    with pytest.raises(ValueError, match=match):
        generate(model, "ab", **options)


@learning_check
def test_learns_a_repeated_phrase(seed):
    text = "hello world\n" * 40
    vocabulary = sorted(set(text))
    ids = np.array([vocabulary.index(c) + 1 for c in text])
    starts = range(0, len(ids) - 25, 3)
    x = np.stack([ids[s : s + 24] for s in starts])
    y = np.stack([ids[s + 1 : s + 25] for s in starts])
    model = build_char_generator(
        vocabulary=vocabulary, units=32, num_layers=1, learning_rate=1e-2, dropout=0
    )
    history = model.fit(x, y, epochs=25, batch_size=16, verbose=0)
    assert history.history["loss"][-1] < 0.2 * history.history["loss"][0]
    (continuation,) = generate(model, "hello", length=24, temperature=0)
    assert continuation == " world\nhello world\nhello"


def test_save_load_same_outputs_and_text(seed, tmp_path):
    model = build_char_generator(**SMALL)
    loaded = run_saving_test(model, _ids(), tmp_path)
    assert CharSampler(loaded).embedding.vocabulary == VOCABULARY
    assert generate(loaded, "ab", length=50, seed=3) == generate(
        model, "ab", length=50, seed=3
    )


def test_default_optimizer_is_adam_without_weight_decay():
    model = build_char_generator(**SMALL)
    assert_optimizer_kind(model.optimizer, keras.optimizers.Adam)
    assert model.optimizer.weight_decay is None


def test_optimizer_and_weight_decay(seed, tmp_path):
    model = build_char_generator(optimizer="sgd", weight_decay=1e-4, **SMALL)
    assert_optimizer_kind(model.optimizer, keras.optimizers.SGD)
    assert model.optimizer.momentum == 0.9
    assert model.optimizer.weight_decay == pytest.approx(1e-4)
    x = _ids()
    logs = model.train_on_batch(x, np.roll(x, -1, axis=1), return_dict=True)
    assert np.isfinite(logs["loss"])

    loaded = run_saving_test(model, x, tmp_path)
    assert_optimizer_kind(loaded.optimizer, keras.optimizers.SGD)
    assert loaded.optimizer.weight_decay == pytest.approx(1e-4)


@pytest.mark.parametrize(
    "options, match",
    [
        ({"rnn_type": "lsmt"}, "rnn_type='lsmt'"),
        ({"units": 0}, "Received: units=0$"),
        ({"num_layers": 0}, "Received: num_layers=0$"),
        ({"dropout": 1.0}, r"Received: dropout=1\.0$"),
        ({"vocab_size": 5}, "vocab_size=5"),
        ({"vocabulary": ["a", "a"]}, "`vocabulary` holds a character twice"),
        (
            {"vocabulary": ["ab"]},
            r"single characters\. Received: vocabulary=\['ab'\]$",
        ),
        ({"optimizer": "adamw"}, r"optimizer='adamw'\. Expected one of 'adam', "),
        ({"weight_decay": -1e-4}, "weight_decay=-0.0001"),
        ({"weight_decay": None}, "weight_decay=None"),
    ],
)
def test_bad_arguments(options, match):
    with pytest.raises(ValueError, match=match):
        build_char_generator(**{**SMALL, **options})


def test_ids_only_model_needs_a_vocabulary_to_generate():
    model = build_char_generator(vocab_size=12, units=8)
    assert model.output_shape == (None, None, 12)
    with pytest.raises(ValueError, match="no character vocabulary"):
        generate(model, "ab")


def test_rejects_other_models():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    with pytest.raises(ValueError, match="not a character generator"):
        CharSampler(model)
