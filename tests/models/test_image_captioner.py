import itertools

import keras
import numpy as np
import pytest
from test_case import (
    assert_optimizer_kind,
    assert_unfrozen_but_batch_norm,
    learning_check,
    needs_tensorflow_package,
    run_model_smoke_test,
    run_saving_test,
)

from cnnrnn.models import (
    CaptionDecoder,
    build_image_captioner,
    caption,
    prepare_fine_tuning,
)
from cnnrnn.models.image_captioner import (
    ATTENTIONS,
    END_ID,
    PAD_ID,
    RNN_TYPES,
    SPECIAL_TOKENS,
    START_ID,
    UNK_ID,
    feature_models,
)

pytestmark = pytest.mark.backends

WORDS = ["a", "red", "blue", "circle", "square"]
VOCABULARY = [*SPECIAL_TOKENS, *WORDS]
SMALL = {
    "image_shape": (16, 16, 3),
    "vocabulary": VOCABULARY,
    "encoder_depth": 2,
    "encoder_filters": 8,
    "embedding_dim": 8,
    "units": 16,
    "max_length": 6,
}


def _images(count=4, seed=0, size=16):
    rng = np.random.default_rng(seed)
    return rng.uniform(0, 255, (count, size, size, 3)).astype("float32")


def _captions(count=4, steps=7, seed=0):
    """Teacher-forcing inputs and targets: `<start> w1 .. wn` and `w1 .. wn <end>`."""
    rng = np.random.default_rng(seed)
    inputs = np.zeros((count, steps), "int32")
    targets = np.zeros((count, steps), "int32")
    for row in range(count):
        words = rng.integers(len(SPECIAL_TOKENS), len(VOCABULARY), rng.integers(2, 6))
        inputs[row, : len(words) + 1] = [START_ID, *words]
        targets[row, : len(words) + 1] = [*words, END_ID]
    return inputs, targets


def _log_softmax(logits):
    logits = np.asarray(logits, np.float64)
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def _caption_log_prob(model, image, ids):
    """Log-probability of a caption (its ids, end included) by the full model."""
    tokens = np.array([[START_ID, *ids[:-1]]], "int32")
    log_probs = _log_softmax(model.predict_on_batch((image[None], tokens))[0])
    return float(sum(log_probs[step, token] for step, token in enumerate(ids)))


def _ids(text):
    return [VOCABULARY.index(word) for word in text.split()] + [END_ID]


# Every attention and every cell once (the stepwise test below runs all pairs).
@pytest.mark.parametrize(
    "attention, rnn_type",
    [
        (attention, RNN_TYPES[n % len(RNN_TYPES)])
        for n, attention in enumerate(ATTENTIONS)
    ],
)
def test_smoke(seed, attention, rnn_type):
    model = build_image_captioner(attention=attention, rnn_type=rnn_type, **SMALL)
    inputs, targets = _captions()
    run_model_smoke_test(
        model,
        (_images(), inputs),
        targets,
        expected_output_shape=(4, 7, len(VOCABULARY)),
    )


def test_defaults_are_relu_and_adam_without_weight_decay():
    model = build_image_captioner(**SMALL)
    assert [layer.name for layer in model.layers if "_relu" in layer.name] == [
        f"image_captioner_block{block}_relu{i}" for block in (1, 2) for i in (1, 2)
    ]
    assert model.get_layer("image_captioner_features").activation.__name__ == "relu"
    assert_optimizer_kind(model.optimizer, keras.optimizers.Adam)
    assert model.optimizer.weight_decay is None


def test_optimizer_weight_decay_and_activation(seed, tmp_path):
    model = build_image_captioner(
        optimizer="sgd", weight_decay=1e-4, activation="gelu", **SMALL
    )
    assert_optimizer_kind(model.optimizer, keras.optimizers.SGD)
    assert model.optimizer.momentum == 0.9
    assert model.optimizer.weight_decay == pytest.approx(1e-4)
    activations = [
        layer for layer in model.layers if isinstance(layer, keras.layers.Activation)
    ]
    assert [layer.name for layer in activations] == [
        f"image_captioner_block{block}_gelu{i}" for block in (1, 2) for i in (1, 2)
    ]
    assert all(layer.activation.__name__ == "gelu" for layer in activations)
    assert not any(isinstance(layer, keras.layers.ReLU) for layer in model.layers)
    assert model.get_layer("image_captioner_features").activation.__name__ == "gelu"
    inputs, targets = _captions()
    logs = model.train_on_batch((_images(), inputs), targets, return_dict=True)
    assert np.isfinite(logs["loss"])

    loaded = run_saving_test(model, (_images(), inputs), tmp_path)
    assert_optimizer_kind(loaded.optimizer, keras.optimizers.SGD)
    assert loaded.optimizer.weight_decay == pytest.approx(1e-4)
    assert caption(loaded, _images()) == caption(model, _images())


@pytest.mark.parametrize("attention", ATTENTIONS)
@pytest.mark.parametrize("rnn_type", RNN_TYPES)
def test_stepwise_decoding_is_exact_against_teacher_forcing(seed, attention, rnn_type):
    model = build_image_captioner(attention=attention, rnn_type=rnn_type, **SMALL)
    inputs, targets = _captions()
    model.fit((_images(), inputs), targets, epochs=2, verbose=0)  # not at init
    teacher_forced = model.predict_on_batch((_images(), inputs))
    decoder = CaptionDecoder(model)
    features, keys, states = decoder.encode(_images())
    for step in range(inputs.shape[1]):
        logits, states = decoder.step(inputs[:, step], features, keys, states)
        np.testing.assert_allclose(logits, teacher_forced[:, step], atol=1e-5)


def test_the_loss_ignores_padding(seed):
    model = build_image_captioner(**SMALL)
    inputs, targets = _captions()
    loss = model.evaluate((_images(), inputs), targets, verbose=0, return_dict=True)
    log_probs = _log_softmax(model.predict_on_batch((_images(), inputs)))
    real = targets != PAD_ID
    picked = np.take_along_axis(log_probs, targets[..., None], axis=-1)[..., 0]
    assert loss["loss"] == pytest.approx(-picked[real].mean(), rel=1e-4)
    predicted = log_probs.argmax(axis=-1)
    accuracy = (predicted == targets)[real].mean()
    assert loss["token_accuracy"] == pytest.approx(accuracy, abs=1e-6)


def test_greedy_captions_follow_the_most_probable_words(seed):
    model = build_image_captioner(**SMALL)
    decoder = CaptionDecoder(model)
    for image, text in zip(_images(), decoder.caption(_images()), strict=True):
        ids = _ids(text) if text else [END_ID]
        tokens = np.array([[START_ID, *ids[:-1]]], "int32")
        log_probs = _log_softmax(model.predict_on_batch((image[None], tokens))[0])
        log_probs[:, [PAD_ID, UNK_ID, START_ID]] = -np.inf
        if len(ids) <= SMALL["max_length"]:
            assert log_probs.argmax(axis=-1).tolist() == ids
        else:  # cut at max_length: the words are the most probable ones
            assert log_probs[:-1].argmax(axis=-1).tolist() == ids[:-1]


def test_scores_are_the_log_probabilities_of_the_captions(seed):
    model = build_image_captioner(**SMALL)
    for beam_width in (1, 3):
        found = caption(model, _images(), beam_width=beam_width, return_scores=True)
        for image, (text, score) in zip(_images(), found, strict=True):
            expected = _caption_log_prob(model, image, _ids(text))
            assert score == pytest.approx(expected, abs=1e-4)


def test_a_wide_beam_finds_the_most_probable_caption(seed):
    """With a beam wider than the number of captions, beam search is exact."""
    vocabulary = [*SPECIAL_TOKENS, "red", "blue"]
    model = build_image_captioner(
        **{**SMALL, "vocabulary": vocabulary, "max_length": 2}
    )
    images = _images(2)
    found = caption(model, images, beam_width=8, length_penalty=0.0, return_scores=True)
    words = [4, 5]
    candidates = [
        [*combination, END_ID]
        for length in range(3)
        for combination in itertools.product(words, repeat=length)
    ]
    for image, (_, score) in zip(images, found, strict=True):
        best = max(_caption_log_prob(model, image, ids) for ids in candidates)
        assert score == pytest.approx(best, abs=1e-4)


def test_length_penalty_favours_longer_captions(seed):
    """A model that favours `<end>`: the penalty must turn it to long captions.

    With two words and `max_length=2` there are 7 captions and a beam of 8
    keeps them all, so beam search is exact: it must return the caption with
    the best `log_probability / length ** length_penalty` computed here.
    """
    vocabulary = [*SPECIAL_TOKENS, "red", "blue"]
    model = build_image_captioner(
        **{**SMALL, "vocabulary": vocabulary, "max_length": 2}
    )
    logits = model.get_layer("image_captioner_logits")
    bias = keras.ops.convert_to_numpy(logits.bias).copy()
    bias[END_ID] += 3.0  # p(<end>) ~ 0.8 at every step, each word ~ 0.04
    logits.bias.assign(bias)
    images = _images(2)
    candidates = [
        [*combination, END_ID]
        for length in range(3)
        for combination in itertools.product([4, 5], repeat=length)
    ]
    chosen = {}
    for penalty in (0.0, 4.0):
        found = caption(
            model, images, beam_width=8, length_penalty=penalty, return_scores=True
        )
        chosen[penalty] = []
        for image, (text, score) in zip(images, found, strict=True):
            scored = [(_caption_log_prob(model, image, ids), ids) for ids in candidates]
            best, ids = max(scored, key=lambda item: item[0] / len(item[1]) ** penalty)
            assert text == " ".join(vocabulary[i] for i in ids[:-1])
            assert score == pytest.approx(best, abs=1e-4)
            chosen[penalty].append(len(ids))
    # Unpenalised, the empty caption wins (<end> first); a penalty of 4 makes
    # a two-word caption (length 3 with <end>) win: -6.7 / 81 > -0.2 / 1.
    assert chosen == {0.0: [1, 1], 4.0: [3, 3]}


def test_sampling_is_seeded_and_batching_does_not_change_captions(seed):
    model = build_image_captioner(**SMALL)
    decoder = CaptionDecoder(model)
    first = decoder.caption(_images(8), temperature=1.5, seed=3)
    assert decoder.caption(_images(8), temperature=1.5, seed=3) == first
    assert decoder.caption(_images(8), temperature=1.5, seed=4) != first
    for beam_width in (1, 3):
        whole = decoder.caption(_images(8), beam_width=beam_width)
        assert decoder.caption(_images(8), beam_width=beam_width, batch_size=3) == (
            whole
        )


def test_captions_stop_at_max_length_and_never_use_special_tokens(seed):
    model = build_image_captioner(**SMALL)
    decoder = CaptionDecoder(model)
    for options in ({}, {"beam_width": 2}, {"temperature": 2.0, "seed": 0}):
        for text in decoder.caption(_images(8), max_length=3, **options):
            words = text.split()
            assert len(words) <= 3
            assert set(words) <= set(WORDS)


def test_bad_decoding_options_are_refused(seed):
    decoder = CaptionDecoder(build_image_captioner(**SMALL))
    with pytest.raises(ValueError, match="Beam search is deterministic"):
        decoder.caption(_images(), beam_width=3, temperature=0.5)
    with pytest.raises(ValueError, match="beam_width"):
        decoder.caption(_images(), beam_width=0)
    with pytest.raises(ValueError, match=r"Expected images of shape \(num_images, 16"):
        decoder.caption(np.zeros((2, 8, 8, 3)))
    with pytest.raises(ValueError, match="not an image captioner"):
        CaptionDecoder(keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)]))


@learning_check
def test_learns_to_caption_colours(seed):
    rng = np.random.default_rng(0)
    colours = {"red": (220, 30, 30), "blue": (30, 30, 220)}
    shapes = {"red": "circle", "blue": "square"}
    images, texts = [], []
    for index in range(32):
        colour = list(colours)[index % 2]
        images.append(
            np.full((16, 16, 3), colours[colour]) + rng.normal(0, 10, (16, 16, 3))
        )
        texts.append(f"a {colour} {shapes[colour]}")
    images = np.array(images, "float32")
    inputs = np.array([[START_ID, *_ids(t)[:-1], PAD_ID] for t in texts], "int32")
    targets = np.array([[*_ids(t), PAD_ID] for t in texts], "int32")
    model = build_image_captioner(**SMALL)
    model.fit((images, inputs), targets, epochs=40, batch_size=8, verbose=0)
    assert caption(model, images[:4]) == texts[:4]
    assert caption(model, images[:4], beam_width=3) == texts[:4]


def test_model_without_words_decodes_ids(seed):
    model = build_image_captioner(
        **{**SMALL, "vocabulary": None}, vocab_size=len(VOCABULARY)
    )
    for text in caption(model, _images(), temperature=1.0, seed=0):
        assert all(word.startswith("<") for word in text.split())


@needs_tensorflow_package
def test_vectorizer_vocabulary(seed):
    vectorizer = keras.layers.TextVectorization(vocabulary=["<start>", "<end>", *WORDS])
    model = build_image_captioner(
        **{**SMALL, "vocabulary": None}, vectorizer=vectorizer
    )
    assert model.get_layer("image_captioner_embedding").vocabulary == VOCABULARY


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"vocabulary": ["a", "b"]},
            r"vocabulary must start with .* Received: \['a', 'b'\]",
        ),
        (
            {"vocab_size": 9},
            r"exactly one of `vocab_size`, `vocabulary` and `vectorizer`\. "
            r"Received: vocab_size=9, vocabulary of 9 tokens, vectorizer=None",
        ),
        ({"vocabulary": [*VOCABULARY, "a"]}, "The vocabulary holds a token twice"),
        ({"attention": "dot"}, "attention='dot'"),
        ({"rnn_type": "lsmt"}, "rnn_type='lsmt'"),
        (
            {"backbone": "resnet"},
            r"Unknown backbone\. Received: backbone='resnet'\. Expected one of",
        ),
        (
            {"weights": "imagenet"},
            r"Received: weights='imagenet', backbone='small_cnn'$",
        ),
        (
            {"image_shape": (2, 2, 3)},
            r"4x4 with encoder_depth=2\. Received: image_shape=\(2, 2, 3\)$",
        ),
        ({"dropout": 1.0}, r"Received: dropout=1\.0$"),
        ({"max_length": 0}, "Received: max_length=0$"),
        ({"encoder_filters": 0}, "Received: encoder_filters=0$"),
        ({"encoder_depth": 0}, "Received: encoder_depth=0$"),
        ({"optimizer": "adamw"}, r"optimizer='adamw'\. Expected one of 'adam', "),
        ({"weight_decay": -1e-4}, "weight_decay=-0.0001"),
        ({"weight_decay": None}, "weight_decay=None"),
        ({"activation": "tanh"}, r"activation='tanh'\. Expected one of 'relu', "),
    ],
)
def test_invalid_arguments_are_refused(overrides, message):
    with pytest.raises(ValueError, match=message):
        build_image_captioner(**{**SMALL, **overrides})


def test_keras_applications_encoder_gives_a_feature_grid(seed):
    model = build_image_captioner(
        **{**SMALL, "image_shape": (64, 64, 3)},
        backbone="mobilenet_v1_0.25",
        train_backbone=False,
    )
    features = model.get_layer("image_captioner_features").output
    assert features.shape == (None, 4, 16)
    images = np.random.default_rng(0).uniform(0, 255, (2, 64, 64, 3))
    assert len(caption(model, images)) == 2


@pytest.mark.parametrize("rnn_type", RNN_TYPES)
def test_the_decoder_trains_on_precomputed_feature_grids(seed, rnn_type):
    model = build_image_captioner(
        **{**SMALL, "image_shape": (32, 32, 3)},
        backbone="mobilenet_v1_0.25",
        train_backbone=False,
        rnn_type=rnn_type,
    )
    image_features, head = feature_models(model)
    images, (inputs, targets) = _images(4, size=32), _captions(4)
    grids = image_features.predict_on_batch(images)
    assert grids.shape == (4, 1, 1, 256)
    before = model.predict_on_batch([images, inputs])
    np.testing.assert_allclose(
        head.predict_on_batch([grids, inputs]), before, atol=1e-5
    )
    head.fit([grids, inputs], targets, epochs=2, verbose=0)
    after = model.predict_on_batch([images, inputs])
    assert not np.allclose(after, before, atol=1e-4)  # the head trains the model
    np.testing.assert_allclose(head.predict_on_batch([grids, inputs]), after, atol=1e-5)


def test_feature_models_need_a_frozen_backbone_encoder(seed):
    with pytest.raises(ValueError, match="needs an image captioner with a frozen"):
        feature_models(build_image_captioner(**SMALL))
    trainable = build_image_captioner(
        **{**SMALL, "image_shape": (32, 32, 3)}, backbone="mobilenet_v1_0.25"
    )
    with pytest.raises(ValueError, match="needs an image captioner with a frozen"):
        feature_models(trainable)


def test_fine_tuning_unfreezes_the_encoder_but_its_batch_norm(seed):
    model = build_image_captioner(
        **{**SMALL, "image_shape": (32, 32, 3)},
        backbone="mobilenet_v1_0.25",
        train_backbone=False,
    )
    backbone = model.get_layer("image_captioner_backbone")
    assert not backbone.trainable_weights
    assert prepare_fine_tuning(model, learning_rate=1e-5)
    assert_unfrozen_but_batch_norm(backbone)
    assert float(model.optimizer.learning_rate) == pytest.approx(1e-5)
    inputs, targets = _captions(2)
    logs = model.train_on_batch(
        [_images(2, size=32), inputs], targets, return_dict=True
    )
    assert np.isfinite(logs["loss"])
