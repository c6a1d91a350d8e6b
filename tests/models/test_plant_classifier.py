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
    tensorflow_only,
)

from cnnrnn.models import build_plant_classifier, prepare_fine_tuning
from cnnrnn.models.backbones import BACKBONES
from cnnrnn.models.plant_classifier import feature_models

pytestmark = pytest.mark.backends

SMALL = {"image_shape": (16, 16, 3), "depth": 2, "base_filters": 4}


def _images(batch, size=16):
    rng = np.random.default_rng(0)
    return rng.uniform(0, 255, (batch, size, size, 3)).astype("float32")


def _stripes(count, size=16):
    """Horizontal (class 0) or vertical (class 1) stripes, random phase and noise."""
    rng = np.random.default_rng(0)
    labels = np.arange(count) % 2
    rows = np.arange(size)
    images = []
    for label in labels:
        period = rng.integers(3, 6)
        stripes = ((rows + rng.integers(period)) // max(period // 2, 1)) % 2
        image = np.tile(stripes[:, None], (1, size)) * 200.0
        image = image.T if label else image
        image = image[..., None] + rng.uniform(0, 55, (size, size, 3))
        images.append(image)
    return np.stack(images).astype("float32"), labels


def test_outputs_are_class_probabilities(seed):
    model = build_plant_classifier(num_classes=3, **SMALL)
    probabilities = model.predict(_images(2), verbose=0)
    assert probabilities.shape == (2, 3)
    assert probabilities.dtype == np.float32
    np.testing.assert_allclose(probabilities.sum(axis=-1), 1.0, atol=1e-5)


def test_layer_names_are_stable():
    names = [layer.name for layer in build_plant_classifier(num_classes=3).layers]
    assert names[:3] == [
        "images",
        "plant_classifier_augmentation",
        "plant_classifier_rescaling",
    ]
    assert "plant_classifier_block1_conv1" in names
    assert "plant_classifier_block3_pool" in names
    assert names[-3:] == [
        "plant_classifier_pool",
        "plant_classifier_dropout",
        "plant_classifier_predictions",
    ]

    model = build_plant_classifier(num_classes=3, augment=False, name="leaf", **SMALL)
    assert model.name == "leaf"
    assert [layer.name for layer in model.layers][:3] == [
        "images",
        "leaf_rescaling",
        "leaf_block1_conv1",
    ]


def test_defaults_are_relu_and_adam_without_weight_decay():
    model = build_plant_classifier(num_classes=3, **SMALL)
    names = [layer.name for layer in model.layers]
    assert [name for name in names if "_relu" in name] == [
        f"plant_classifier_block{block}_relu{i}" for block in (1, 2) for i in (1, 2)
    ]
    assert not any(isinstance(layer, keras.layers.Activation) for layer in model.layers)
    assert_optimizer_kind(model.optimizer, keras.optimizers.Adam)
    assert model.optimizer.weight_decay is None


def test_optimizer_weight_decay_and_activation(seed, tmp_path):
    model = build_plant_classifier(
        num_classes=3, optimizer="sgd", weight_decay=1e-4, activation="gelu", **SMALL
    )
    assert_optimizer_kind(model.optimizer, keras.optimizers.SGD)
    assert model.optimizer.momentum == 0.9
    assert model.optimizer.weight_decay == pytest.approx(1e-4)
    activations = [
        layer for layer in model.layers if isinstance(layer, keras.layers.Activation)
    ]
    assert [layer.name for layer in activations] == [
        f"plant_classifier_block{block}_gelu{i}" for block in (1, 2) for i in (1, 2)
    ]
    assert all(layer.activation.__name__ == "gelu" for layer in activations)
    assert not any(isinstance(layer, keras.layers.ReLU) for layer in model.layers)
    logs = model.train_on_batch(_images(4), np.array([0, 1, 2, 0]), return_dict=True)
    assert np.isfinite(logs["loss"])

    loaded = run_saving_test(model, _images(4), tmp_path)
    assert_optimizer_kind(loaded.optimizer, keras.optimizers.SGD)
    assert loaded.optimizer.weight_decay == pytest.approx(1e-4)
    assert loaded.get_layer("plant_classifier_block1_gelu1").activation.__name__ == (
        "gelu"
    )


def test_augmentation_only_in_training(seed):
    model = build_plant_classifier(num_classes=3, dropout=0.0, **SMALL)
    images = _images(2)
    expected = model.predict(images, verbose=0)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(model(images)), expected, atol=1e-6
    )
    augmented = model.get_layer("plant_classifier_augmentation")(images, training=True)
    assert not np.allclose(augmented, images)


def test_smoke(seed):
    model = build_plant_classifier(num_classes=3, **SMALL)
    run_model_smoke_test(
        model, _images(4), np.array([0, 1, 2, 0]), expected_output_shape=(4, 3)
    )


def test_saving_keeps_outputs(seed, tmp_path):
    model = build_plant_classifier(num_classes=3, **SMALL)
    model.train_on_batch(_images(4), np.array([0, 1, 2, 0]))
    run_saving_test(model, _images(4), tmp_path)


@learning_check
def test_learns_stripe_orientation(seed):
    x, y = _stripes(64)
    model = build_plant_classifier(num_classes=2, learning_rate=3e-3, **SMALL)
    assert_learns(model, x, y, epochs=10, min_accuracy=0.9)


@tensorflow_only("every keras.applications backbone (the other tests build two)")
@pytest.mark.parametrize("backbone", BACKBONES)
def test_every_backbone_builds(backbone):
    model = build_plant_classifier(
        image_shape=(32, 32, 3), num_classes=3, backbone=backbone, compile=False
    )
    assert model.predict(_images(2, size=32), verbose=0).shape == (2, 3)


def test_backbone_is_frozen_then_fine_tuned(seed):
    model = build_plant_classifier(
        image_shape=(32, 32, 3), num_classes=3, backbone="mobilenet_v1_0.25"
    )
    backbone = model.get_layer("plant_classifier_backbone")
    assert not backbone.trainable
    assert not backbone.trainable_weights
    assert [w.path for w in model.trainable_weights] == [
        "plant_classifier_predictions/kernel",
        "plant_classifier_predictions/bias",
    ]
    run_model_smoke_test(
        model,
        _images(4, size=32),
        np.array([0, 1, 2, 0]),
        expected_output_shape=(4, 3),
    )

    assert prepare_fine_tuning(model, learning_rate=1e-5) is True
    assert_unfrozen_but_batch_norm(backbone)
    assert len(model.trainable_weights) > 2
    assert float(model.optimizer.learning_rate) == pytest.approx(1e-5)
    logs = model.train_on_batch(
        _images(4, size=32), np.array([0, 1, 2, 0]), return_dict=True
    )
    assert logs.keys() == {"loss", "accuracy"}
    assert np.isfinite(logs["loss"])


# The untrained model's optimizer has no slot variables yet; loading warns so.
@pytest.mark.filterwarnings("ignore:Skipping variable loading for optimizer")
def test_backbone_model_saves_and_fine_tunes_after_loading(seed, tmp_path):
    model = build_plant_classifier(
        image_shape=(32, 32, 3), num_classes=2, backbone="mobilenet_v1_0.25"
    )
    loaded = run_saving_test(model, _images(2, size=32), tmp_path, atol=1e-5)
    assert not loaded.get_layer("plant_classifier_backbone").trainable
    assert prepare_fine_tuning(loaded, learning_rate=1e-5) is True
    assert loaded.get_layer("plant_classifier_backbone").trainable


def test_fine_tuning_keeps_the_optimizer_kind_and_weight_decay(seed):
    model = build_plant_classifier(
        image_shape=(32, 32, 3),
        num_classes=3,
        backbone="mobilenet_v1_0.25",
        optimizer="sgd",
        weight_decay=1e-4,
    )
    assert prepare_fine_tuning(model, learning_rate=1e-5) is True
    assert_optimizer_kind(model.optimizer, keras.optimizers.SGD)
    assert model.optimizer.momentum == 0.9
    assert model.optimizer.weight_decay == pytest.approx(1e-4)
    assert float(model.optimizer.learning_rate) == pytest.approx(1e-5)
    logs = model.train_on_batch(
        _images(4, size=32), np.array([0, 1, 2, 0]), return_dict=True
    )
    assert np.isfinite(logs["loss"])


def test_fine_tuning_compiles_an_uncompiled_model():
    model = build_plant_classifier(
        image_shape=(32, 32, 3),
        num_classes=2,
        backbone="mobilenet_v1_0.25",
        compile=False,
    )
    assert prepare_fine_tuning(model, learning_rate=1e-5) is True
    assert model.compiled
    assert isinstance(model.loss, keras.losses.SparseCategoricalCrossentropy)
    assert_optimizer_kind(model.optimizer, keras.optimizers.Adam)


def test_fine_tuning_without_backbone_changes_nothing():
    model = build_plant_classifier(num_classes=3, **SMALL)
    optimizer = model.optimizer
    trainable = [layer.trainable for layer in model.layers]
    assert prepare_fine_tuning(model, learning_rate=1e-5) is False
    assert model.optimizer is optimizer
    assert [layer.trainable for layer in model.layers] == trainable


def test_mixed_precision_outputs_float32(seed, mixed_precision):
    model = build_plant_classifier(num_classes=3, **SMALL)
    assert model.get_layer("plant_classifier_block1_conv1").compute_dtype == "float16"
    probabilities = model.predict(_images(2), verbose=0)
    assert probabilities.dtype == np.float32
    np.testing.assert_allclose(probabilities.sum(axis=-1), 1.0, atol=1e-5)


# The model's own optimizer never ran, so it has no slot variables; loading warns.
@pytest.mark.filterwarnings("ignore:Skipping variable loading for optimizer")
def test_training_the_head_on_features_trains_the_model(seed, tmp_path):
    model = build_plant_classifier(
        image_shape=(32, 32, 3),
        num_classes=3,
        backbone="mobilenet_v1_0.25",
        learning_rate=1e-2,
    )
    images, labels = _images(4, size=32), np.array([0, 1, 2, 0])
    image_features, head = feature_models(model)
    assert head.optimizer is not model.optimizer
    assert float(head.optimizer.learning_rate) == pytest.approx(1e-2)

    features = image_features.predict_on_batch(images)
    assert features.shape == (4, 256)
    before = model.predict_on_batch(images)
    np.testing.assert_allclose(head.predict_on_batch(features), before, atol=1e-6)
    head.fit(features, labels, epochs=2, batch_size=4, verbose=0)
    after = model.predict_on_batch(images)
    assert not np.allclose(after, before, atol=1e-4)
    np.testing.assert_allclose(head.predict_on_batch(features), after, atol=1e-6)
    run_saving_test(model, images, tmp_path)


def test_feature_models_need_a_frozen_backbone():
    with pytest.raises(ValueError, match="needs a plant classifier with a backbone"):
        feature_models(build_plant_classifier(num_classes=3, **SMALL))
    trainable = build_plant_classifier(
        image_shape=(32, 32, 3),
        num_classes=3,
        backbone="mobilenet_v1_0.25",
        train_backbone=True,
        compile=False,
    )
    with pytest.raises(ValueError, match="needs a frozen backbone"):
        feature_models(trainable)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"num_classes": 1}, r"Received: num_classes=1$"),
        ({"num_classes": 2.5}, r"Received: num_classes=2\.5$"),
        ({"image_shape": (16, 16)}, r"Received: image_shape=\(16, 16\)$"),
        ({"image_shape": (16, 16, 1)}, r"Received: image_shape=\(16, 16, 1\)$"),
        ({"image_shape": (16, 0, 3)}, r"Received: image_shape=\(16, 0, 3\)$"),
        (
            {"image_shape": (4, 4, 3), "depth": 3},
            r"8x8 with depth=3\. Received: image_shape=\(4, 4, 3\)$",
        ),
        (
            {"image_shape": (16, 16, 3), "backbone": "mobilenet_v3_small"},
            r"32x32 with backbone='mobilenet_v3_small'\. Received: image_shape=",
        ),
        (
            {"backbone": "resnet"},
            r"Received: backbone='resnet'\. Expected one of None, ",
        ),
        (
            {"backbone": "mobilenet_v2", "weights": "places365"},
            r"not found\. Received: weights='places365'\.",
        ),
        (
            {"weights": "imagenet"},
            r"need a backbone\. Received: weights='imagenet', backbone=None\.$",
        ),
        ({"depth": 0}, r"Received: depth=0$"),
        ({"base_filters": 0}, r"Received: base_filters=0$"),
        ({"dropout": 1.0}, r"Received: dropout=1\.0$"),
        ({"dropout": -0.1}, r"Received: dropout=-0\.1$"),
        ({"learning_rate": 0}, r"Received: learning_rate=0$"),
        ({"learning_rate": -1e-3}, r"Received: learning_rate=-0\.001$"),
        (
            {"optimizer": "adamw"},
            r"Received: optimizer='adamw'\. Expected one of 'adam', ",
        ),
        ({"weight_decay": -1e-4}, r"Received: weight_decay=-0\.0001$"),
        ({"weight_decay": None}, r"Received: weight_decay=None$"),
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
        build_plant_classifier(**kwargs)


def test_fine_tuning_rejects_non_positive_learning_rate():
    model = build_plant_classifier(num_classes=3, **SMALL)
    with pytest.raises(ValueError, match="Received: learning_rate=0"):
        prepare_fine_tuning(model, learning_rate=0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"optimizer": "adamw"}, r"optimizer='adamw'\. Expected one of 'adam', "),
        ({"weight_decay": -1e-4}, "weight_decay=-0.0001"),
        ({"activation": "tanh"}, r"activation='tanh'\. Expected one of 'relu', "),
    ],
)
def test_invalid_training_options_name_the_argument(kwargs, message):
    with pytest.raises(ValueError, match=message):
        build_plant_classifier(num_classes=3, **kwargs)
