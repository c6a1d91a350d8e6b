import keras
import numpy as np
import pytest
from test_case import (
    assert_learns,
    assert_optimizer_kind,
    assert_unfrozen_but_batch_norm,
    learning_check,
    run_model_smoke_test,
    run_saving_test,
)

from cnnrnn.models import build_video_classifier, prepare_fine_tuning
from cnnrnn.models.video_classifier import (
    ClipAugmentation,
    FrameDifferences,
    build_frame_average_classifier,
    feature_models,
)

pytestmark = pytest.mark.backends

SMALL = {
    "num_frames": 4,
    "image_shape": (16, 16, 3),
    "encoder_depth": 2,
    "encoder_filters": 4,
    "encoder_units": 8,
}
LABELS = np.array([0, 1, 2, 0])


def _clips(batch, *, lengths=None, size=16, num_frames=4, seed=0):
    """Random raw-pixel clips; clip `i` has `lengths[i]` real frames."""
    rng = np.random.default_rng(seed)
    frames = rng.uniform(0, 255, (batch, num_frames, size, size, 3))
    lengths = [num_frames] * batch if lengths is None else lengths
    mask = np.arange(num_frames)[None, :] < np.array(lengths)[:, None]
    return {"frames": frames.astype("float32"), "mask": mask}


def _motion_clips(pairs, *, num_frames=4, size=16, seed=0):
    """A bright vertical bar moving right (class 0) or left (class 1).

    Every left clip is the frames of the right clip before it in reverse
    order, so both classes have exactly the same frames and only their order
    tells them apart: no single frame, nor the average of a clip's frames,
    says anything about the class. A third of the clips are one frame short;
    their last frame is junk, masked out.
    """
    rng = np.random.default_rng(seed)
    frames = np.zeros((2 * pairs, num_frames, size, size, 3), "float32")
    mask = np.zeros((2 * pairs, num_frames), bool)
    for i in range(pairs):
        length = num_frames - 1 if i % 3 == 0 else num_frames
        speed = rng.integers(2, 4)
        start = rng.integers(0, size - 2 - speed * (length - 1) + 1)
        clip = rng.uniform(0, 60, (length, size, size, 3))
        for t in range(length):
            column = start + t * speed
            clip[t, :, column : column + 2] = 255.0
        pair = slice(2 * i, 2 * i + 2)
        frames[pair, length:] = rng.uniform(
            0, 255, (num_frames - length, size, size, 3)
        )
        frames[2 * i, :length] = clip
        frames[2 * i + 1, :length] = clip[::-1]
        mask[pair, :length] = True
    return {"frames": frames, "mask": mask}, np.tile([0, 1], pairs)


def test_outputs_are_class_probabilities(seed):
    model = build_video_classifier(num_classes=3, **SMALL)
    assert model.output_shape == (None, 3)
    probabilities = model.predict(_clips(2, lengths=[4, 2]), verbose=0)
    assert probabilities.shape == (2, 3)
    assert probabilities.dtype == np.float32
    np.testing.assert_allclose(probabilities.sum(axis=-1), 1.0, atol=1e-5)


def test_layer_names_are_stable():
    model = build_video_classifier(num_classes=3, name="clip", **SMALL)
    assert model.name == "clip"
    assert {layer.name for layer in model.layers} == {
        "frames",
        "mask",
        "clip_frames_encoded",
        "clip_sequence_head",
    }
    encoded = model.get_layer("clip_frames_encoded")
    assert isinstance(encoded, keras.layers.TimeDistributed)
    assert encoded.output.shape == (None, 4, 8)
    encoder = encoded.layer
    assert encoder.name == "clip_frame_encoder"
    assert [layer.name for layer in encoder.layers][:3] == [
        "frame",
        "clip_rescaling",
        "clip_block1_conv1",
    ]
    assert [layer.name for layer in encoder.layers][-2:] == [
        "clip_flatten",
        "clip_frame_features",
    ]
    head = model.get_layer("clip_sequence_head")
    assert {layer.name for layer in head.layers} == {
        "features",
        "mask",
        "clip_rnn1",
        "clip_dropout",
        "clip_predictions",
    }

    model = build_video_classifier(
        num_classes=3, rnn_type="gru", bidirectional=True, num_layers=2, **SMALL
    )
    rnn = model.get_layer("video_classifier_sequence_head").get_layer(
        "video_classifier_rnn2"
    )
    assert isinstance(rnn, keras.layers.Bidirectional)
    assert rnn.forward_layer.name.startswith("forward_video_classifier_gru2")


def test_defaults_are_relu_and_adam_without_weight_decay():
    model = build_video_classifier(num_classes=3, **SMALL)
    encoder = model.get_layer(f"{model.name}_frames_encoded").layer
    assert [layer.name for layer in encoder.layers if "_relu" in layer.name] == [
        f"video_classifier_block{block}_relu{i}" for block in (1, 2) for i in (1, 2)
    ]
    features = encoder.get_layer("video_classifier_frame_features")
    assert features.activation.__name__ == "relu"
    assert_optimizer_kind(model.optimizer, keras.optimizers.Adam)
    assert model.optimizer.weight_decay is None


@pytest.mark.parametrize(
    "builder", [build_video_classifier, build_frame_average_classifier]
)
def test_optimizer_weight_decay_and_activation(seed, tmp_path, builder):
    model = builder(
        num_classes=3, optimizer="sgd", weight_decay=1e-4, activation="gelu", **SMALL
    )
    assert_optimizer_kind(model.optimizer, keras.optimizers.SGD)
    assert model.optimizer.momentum == 0.9
    assert model.optimizer.weight_decay == pytest.approx(1e-4)
    encoder = model.get_layer(f"{model.name}_frames_encoded").layer
    activations = [
        layer for layer in encoder.layers if isinstance(layer, keras.layers.Activation)
    ]
    assert [layer.name for layer in activations] == [
        f"{model.name}_block{block}_gelu{i}" for block in (1, 2) for i in (1, 2)
    ]
    assert all(layer.activation.__name__ == "gelu" for layer in activations)
    assert not any(isinstance(layer, keras.layers.ReLU) for layer in encoder.layers)
    features = encoder.get_layer(f"{model.name}_frame_features")
    assert features.activation.__name__ == "gelu"
    clips = _clips(4, lengths=[4, 3, 1, 2])
    logs = model.train_on_batch(clips, LABELS, return_dict=True)
    assert np.isfinite(logs["loss"])

    loaded = run_saving_test(model, clips, tmp_path)
    assert_optimizer_kind(loaded.optimizer, keras.optimizers.SGD)
    assert loaded.optimizer.weight_decay == pytest.approx(1e-4)


@pytest.mark.parametrize("learning_rate", [None, 3e-3])
def test_feature_models_keep_the_optimizer_kind_and_weight_decay(learning_rate):
    model = build_video_classifier(
        num_classes=3,
        train_backbone=False,
        optimizer="rmsprop",
        weight_decay=1e-4,
        learning_rate=1e-2,
        **SMALL,
    )
    _, head = feature_models(model, learning_rate=learning_rate)
    assert head.optimizer is not model.optimizer
    assert_optimizer_kind(head.optimizer, keras.optimizers.RMSprop)
    assert head.optimizer.weight_decay == pytest.approx(1e-4)
    expected = 1e-2 if learning_rate is None else learning_rate
    assert float(head.optimizer.learning_rate) == pytest.approx(expected)


@pytest.mark.parametrize(
    "rnn",
    [
        {"rnn_type": "lstm"},
        {"rnn_type": "gru"},
        {"rnn_type": "lstm", "bidirectional": True, "num_layers": 2},
    ],
    ids=str,
)
def test_smoke(seed, rnn):
    model = build_video_classifier(num_classes=3, units=8, **rnn, **SMALL)
    run_model_smoke_test(
        model,
        _clips(4, lengths=[4, 3, 1, 2]),
        LABELS,
        expected_output_shape=(4, 3),
    )


@pytest.mark.parametrize(
    "build",
    [
        lambda: build_video_classifier(num_classes=3, units=8, **SMALL),
        lambda: build_video_classifier(
            num_classes=3,
            rnn_type="gru",
            bidirectional=True,
            num_layers=2,
            units=8,
            **SMALL,
        ),
        lambda: build_frame_average_classifier(num_classes=3, **SMALL),
    ],
    ids=["lstm", "bidirectional_gru", "frame_average"],
)
def test_padding_frames_do_not_change_the_prediction(seed, build):
    model = build()
    model.train_on_batch(_clips(4, lengths=[4, 3, 1, 2]), LABELS)
    clips = _clips(3, lengths=[4, 2, 1])
    junk = _clips(3, seed=1)["frames"]
    masked = ~clips["mask"][..., None, None, None]
    other = {"frames": np.where(masked, junk, clips["frames"]), "mask": clips["mask"]}
    assert not np.allclose(other["frames"], clips["frames"])
    expected = model.predict(clips, verbose=0)
    np.testing.assert_allclose(model.predict(other, verbose=0), expected, atol=1e-6)

    # A real (unmasked) frame does change it.
    changed = {"frames": clips["frames"].copy(), "mask": clips["mask"]}
    changed["frames"][:, 0] = junk[:, 0]
    assert not np.allclose(model.predict(changed, verbose=0), expected, atol=1e-6)


def test_frozen_encoder_is_not_trained(seed):
    clips = _clips(4, lengths=[4, 3, 1, 2])
    trainable = build_video_classifier(num_classes=3, **SMALL)
    frozen = build_video_classifier(num_classes=3, train_backbone=False, **SMALL)
    head = frozen.get_layer("video_classifier_sequence_head")
    encoder = frozen.get_layer("video_classifier_frames_encoded").layer
    assert not encoder.trainable
    assert not encoder.trainable_weights
    assert [w.path for w in frozen.trainable_weights] == [
        w.path for w in head.trainable_weights
    ]
    assert len(trainable.trainable_weights) > len(head.trainable_weights)
    assert trainable.get_layer("video_classifier_frames_encoded").trainable_weights

    # Frozen: the encoder runs in inference mode, so even the batch norm
    # moving statistics stay as they are.
    before = [np.array(w) for w in encoder.weights]
    frozen.train_on_batch(clips, LABELS)
    for value, weight in zip(before, encoder.weights, strict=True):
        np.testing.assert_array_equal(np.array(weight), value, err_msg=weight.path)

    encoder = trainable.get_layer("video_classifier_frames_encoded").layer
    before = [np.array(w) for w in encoder.weights]
    trainable.train_on_batch(clips, LABELS)
    assert all(
        not np.array_equal(np.array(weight), value)
        for value, weight in zip(before, encoder.weights, strict=True)
    )


@pytest.mark.parametrize("train_backbone", [True, False])
def test_saving_keeps_outputs(seed, tmp_path, train_backbone):
    model = build_video_classifier(
        num_classes=3, train_backbone=train_backbone, units=8, **SMALL
    )
    clips = _clips(4, lengths=[4, 3, 1, 2])
    model.train_on_batch(clips, LABELS)
    loaded = run_saving_test(model, clips, tmp_path)
    encoder = loaded.get_layer("video_classifier_frames_encoded").layer
    assert encoder.trainable is train_backbone


# The model's own optimizer never ran, so it has no slot variables; loading warns.
@pytest.mark.filterwarnings("ignore:Skipping variable loading for optimizer")
@pytest.mark.parametrize(
    "builder", [build_video_classifier, build_frame_average_classifier]
)
def test_training_the_head_on_features_trains_the_model(seed, tmp_path, builder):
    model = builder(num_classes=3, train_backbone=False, learning_rate=1e-2, **SMALL)
    clips = _clips(4, lengths=[4, 3, 1, 2])
    frame_features, head = feature_models(model)
    assert head.optimizer is not model.optimizer
    assert float(head.optimizer.learning_rate) == pytest.approx(1e-2)
    assert isinstance(head.loss, keras.losses.SparseCategoricalCrossentropy)

    features = frame_features.predict(clips["frames"], verbose=0)
    assert features.shape == (4, 4, 8)
    inputs = {"features": features, "mask": clips["mask"]}
    before = model.predict(clips, verbose=0)
    np.testing.assert_allclose(head.predict(inputs, verbose=0), before, atol=1e-6)

    head.fit(inputs, LABELS, epochs=2, batch_size=4, verbose=0)
    after = model.predict(clips, verbose=0)
    assert not np.allclose(after, before, atol=1e-4)
    np.testing.assert_allclose(head.predict(inputs, verbose=0), after, atol=1e-6)
    np.testing.assert_allclose(
        frame_features.predict(clips["frames"], verbose=0), features, atol=1e-6
    )

    # The full model is what gets saved; it still takes raw frames.
    run_saving_test(model, clips, tmp_path)


def test_feature_models_learning_rate_and_uncompiled_model():
    model = build_video_classifier(
        num_classes=3, train_backbone=False, compile=False, **SMALL
    )
    with pytest.raises(ValueError, match="Received: learning_rate=None"):
        feature_models(model)
    _, head = feature_models(model, learning_rate=3e-3)
    assert float(head.optimizer.learning_rate) == pytest.approx(3e-3)
    assert head.compiled
    assert not model.compiled


def test_feature_models_rejects_trainable_encoder_and_other_models():
    model = build_video_classifier(num_classes=3, **SMALL)
    with pytest.raises(ValueError, match="needs a frozen encoder"):
        feature_models(model)
    other = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    with pytest.raises(ValueError, match="build_video_classifier"):
        feature_models(other)
    with pytest.raises(ValueError, match="build_video_classifier"):
        feature_models("model")


@learning_check
def test_learns_motion_that_the_frame_average_cannot(seed):
    x, y = _motion_clips(32)
    options = {
        "num_frames": 4,
        "image_shape": (16, 16, 3),
        "encoder_depth": 4,
        "encoder_filters": 4,
        "dropout": 0.0,
        "learning_rate": 3e-3,
        "num_classes": 2,
    }
    model = build_video_classifier(units=16, **options)
    assert_learns(model, x, y, epochs=10, min_accuracy=0.9)

    baseline = build_frame_average_classifier(**options)
    baseline.fit(x, y, epochs=10, batch_size=8, verbose=0)
    logs = baseline.evaluate(x, y, return_dict=True, verbose=0)
    assert logs["accuracy"] < 0.75, logs


def test_frame_differences_are_each_frame_minus_the_one_before():
    clips = np.arange(2 * 3 * 2 * 2 * 3, dtype="float32").reshape(2, 3, 2, 2, 3)
    out = keras.ops.convert_to_numpy(FrameDifferences()(clips))
    np.testing.assert_array_equal(out[..., :3], clips)
    np.testing.assert_array_equal(out[:, 0, ..., 3:], 0)
    np.testing.assert_array_equal(out[:, 1:, ..., 3:], clips[:, 1:] - clips[:, :-1])


@pytest.mark.parametrize(
    "builder", [build_video_classifier, build_frame_average_classifier]
)
def test_frame_differences_model_saves_and_precomputes(seed, tmp_path, builder):
    model = builder(num_classes=3, frame_differences=True, **SMALL)
    encoder = model.get_layer(f"{model.name}_frames_encoded").layer
    assert encoder.input_shape == (None, 16, 16, 6)
    clips = _clips(4, lengths=[4, 3, 1, 2])
    run_saving_test(model, clips, tmp_path)
    frozen = builder(
        num_classes=3, frame_differences=True, train_backbone=False, **SMALL
    )
    assert_head_matches_the_model(frozen, clips)


def assert_head_matches_the_model(model, clips):
    """The head on precomputed frame features predicts what the model does."""
    frame_features, head = feature_models(model)
    features = frame_features.predict_on_batch(clips["frames"])
    np.testing.assert_allclose(
        head.predict_on_batch({"features": features, "mask": clips["mask"]}),
        model.predict_on_batch(clips),
        atol=1e-6,
    )


def _frozen_mobilenet_classifier(**kwargs):
    """A video classifier of 3 frames of 32x32 on a frozen MobileNet v1 0.25."""
    return build_video_classifier(
        num_frames=3,
        image_shape=(32, 32, 3),
        num_classes=2,
        backbone="mobilenet_v1_0.25",
        train_backbone=False,
        **kwargs,
    )


def test_a_backbone_gets_the_differences_of_its_frame_features(seed):
    model = _frozen_mobilenet_classifier(frame_differences=True)
    encoder = model.get_layer("video_classifier_frames_encoded").layer
    assert encoder.input_shape == (None, 32, 32, 3)
    head = model.get_layer("video_classifier_sequence_head")
    differences = head.get_layer("video_classifier_feature_differences")
    assert differences.output.shape == (None, 3, 512)  # 256 features, twice
    assert_head_matches_the_model(model, _clips(2, size=32, num_frames=3))


def test_fine_tuning_unfreezes_the_frame_encoder_backbone_but_its_batch_norm(seed):
    model = _frozen_mobilenet_classifier()
    encoded = model.get_layer("video_classifier_frames_encoded")
    backbone = encoded.layer.get_layer("video_classifier_backbone")
    assert not encoded.trainable_weights
    assert prepare_fine_tuning(model, learning_rate=1e-5) is True
    assert_unfrozen_but_batch_norm(backbone)
    trained = {id(w) for w in model.trainable_weights}
    assert all(id(w) in trained for w in backbone.trainable_weights)
    assert float(model.optimizer.learning_rate) == pytest.approx(1e-5)
    logs = model.train_on_batch(
        _clips(2, size=32, num_frames=3), np.array([0, 1]), return_dict=True
    )
    assert np.isfinite(logs["loss"])
    small = build_video_classifier(num_classes=2, train_backbone=False, **SMALL)
    assert prepare_fine_tuning(small, learning_rate=1e-5) is False


def test_clip_augmentation_transforms_every_frame_of_a_clip_alike(seed):
    augment = ClipAugmentation(rotation=0.0, zoom=0.0, contrast=0.0, seed=3)
    clips = np.random.default_rng(0).uniform(0, 255, (16, 3, 6, 6, 3))
    clips = clips.astype("float32")
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(augment(clips)), clips)
    out = keras.ops.convert_to_numpy(augment(clips, training=True))
    pairs = list(zip(out, clips, strict=True))
    flipped = [np.allclose(o, c[:, :, ::-1], atol=1e-3) for o, c in pairs]
    kept = [np.allclose(o, c, atol=1e-3) for o, c in pairs]
    assert all(f != k for f, k in zip(flipped, kept, strict=True))  # whole clips
    assert 0 < sum(flipped) < len(clips)


def test_augmented_frame_differences_model_trains_and_saves(seed, tmp_path):
    model = build_video_classifier(
        num_classes=3, augment=True, frame_differences=True, **SMALL
    )
    clips = _clips(4)
    model.fit(clips, LABELS, epochs=1, verbose=0)
    run_saving_test(model, clips, tmp_path)


def test_keras_applications_encoder(seed):
    model = build_video_classifier(
        num_frames=4,
        image_shape=(32, 32, 3),
        num_classes=3,
        backbone="mobilenet_v1_0.25",
        train_backbone=False,
        units=8,
    )
    encoded = model.get_layer("video_classifier_frames_encoded")
    assert encoded.output.shape == (None, 4, 256)
    encoder = encoded.layer
    assert "video_classifier_backbone" in [layer.name for layer in encoder.layers]
    assert not encoder.trainable_weights
    clips = _clips(2, lengths=[4, 2], size=32)
    assert model.predict(clips, verbose=0).shape == (2, 3)
    frame_features, _ = feature_models(model)
    assert frame_features.predict(clips["frames"], verbose=0).shape == (2, 4, 256)


def test_mixed_precision_outputs_float32(seed, mixed_precision):
    model = build_video_classifier(num_classes=3, units=8, **SMALL)
    probabilities = model.predict(_clips(2, lengths=[4, 2]), verbose=0)
    assert probabilities.dtype == np.float32
    np.testing.assert_allclose(probabilities.sum(axis=-1), 1.0, atol=1e-3)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"num_frames": 0}, r"Received: num_frames=0$"),
        ({"num_frames": 4.0}, r"Received: num_frames=4\.0$"),
        ({"image_shape": (16, 16)}, r"Received: image_shape=\(16, 16\)$"),
        ({"image_shape": (16, 16, 1)}, r"Received: image_shape=\(16, 16, 1\)$"),
        ({"image_shape": (16, 0, 3)}, r"Received: image_shape=\(16, 0, 3\)$"),
        (
            {"image_shape": (4, 4, 3)},
            r"8x8 with encoder_depth=3\. Received: image_shape=\(4, 4, 3\)$",
        ),
        (
            {"image_shape": (16, 16, 3), "encoder_depth": 5},
            r"32x32 with encoder_depth=5\. Received: image_shape=\(16, 16, 3\)$",
        ),
        (
            {"image_shape": (16, 16, 3), "backbone": "mobilenet_v3_small"},
            r"32x32 with backbone='mobilenet_v3_small'\. Received: image_shape=",
        ),
        ({"num_classes": 1}, r"Received: num_classes=1$"),
        (
            {"backbone": None},
            r"Received: backbone=None\. Expected one of 'small_cnn', ",
        ),
        (
            {"backbone": "mobilenet_v3_large", "weights": "places365"},
            r"not found\. Received: weights='places365'\.",
        ),
        (
            {"weights": "imagenet"},
            r"Received: weights='imagenet', backbone='small_cnn'$",
        ),
        ({"train_backbone": "yes"}, r"Received: train_backbone='yes'$"),
        ({"frame_differences": "yes"}, r"Received: frame_differences='yes'$"),
        ({"augment": 1}, r"Received: augment=1$"),
        ({"encoder_depth": 0}, r"Received: encoder_depth=0$"),
        ({"encoder_filters": 0}, r"Received: encoder_filters=0$"),
        ({"encoder_units": 0}, r"Received: encoder_units=0$"),
        (
            {"rnn_type": "rnn"},
            r"Received: rnn_type='rnn'\. Expected one of 'lstm', 'gru'\.",
        ),
        ({"bidirectional": 1}, r"Received: bidirectional=1$"),
        ({"num_layers": 0}, r"Received: num_layers=0$"),
        ({"units": 0}, r"Received: units=0$"),
        ({"dropout": 1.0}, r"Received: dropout=1\.0$"),
        ({"learning_rate": 0}, r"Received: learning_rate=0$"),
        (
            {"optimizer": "adamw"},
            r"Received: optimizer='adamw'\. Expected one of 'adam', ",
        ),
        ({"weight_decay": -1e-4}, r"Received: weight_decay=-0\.0001$"),
        (
            {"activation": "tanh"},
            r"Received: activation='tanh'\. Expected one of 'relu', ",
        ),
    ],
    ids=str,
)
def test_invalid_arguments_raise(kwargs, message):
    """Each message names the argument at fault and the value it was given."""
    kwargs = {"num_classes": 3, **kwargs}
    with pytest.raises(ValueError, match=message):
        build_video_classifier(**kwargs)


def test_invalid_argument_messages():
    with pytest.raises(
        ValueError, match=r"Received: rnn_type='lsmt'. Expected one of 'lstm', 'gru'."
    ):
        build_video_classifier(num_classes=3, rnn_type="lsmt")
    with pytest.raises(
        ValueError, match=r"backbone='resnet'. Expected one of 'small_cnn', "
    ):
        build_video_classifier(num_classes=3, backbone="resnet")
    with pytest.raises(ValueError, match="at least 32x32 with backbone="):
        build_frame_average_classifier(
            num_classes=3, image_shape=(16, 16, 3), backbone="mobilenet_v2"
        )


@pytest.mark.parametrize(
    "builder", [build_video_classifier, build_frame_average_classifier]
)
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"optimizer": "adamw"}, r"optimizer='adamw'\. Expected one of 'adam', "),
        ({"weight_decay": -1e-4}, "weight_decay=-0.0001"),
        ({"activation": "tanh"}, r"activation='tanh'\. Expected one of 'relu', "),
    ],
)
def test_invalid_training_options_name_the_argument(builder, kwargs, message):
    with pytest.raises(ValueError, match=message):
        builder(num_classes=3, **kwargs)
