"""Backbones: preprocessing, weights files, Keras's cache offline."""

import os
import pathlib
import subprocess
import sys
import textwrap

import h5py
import keras
import numpy as np
import pytest

from cnnrnn.models.backbones import (
    APPLICATIONS,
    backbone_features,
    backbone_preprocessing,
    check_backbone,
)
from cnnrnn.models.plant_classifier import build_plant_classifier

WEIGHTS = (
    pathlib.Path(__file__).resolve().parents[3]
    / "shared/data/weights/mobilenet_2_5_224_tf_no_top.h5"
)
needs_weights = pytest.mark.skipif(
    not WEIGHTS.is_file(), reason="../shared/data/weights is absent"
)


@pytest.mark.parametrize(
    "application, module",
    [
        ("MobileNet", "mobilenet"),
        ("ResNet50", "resnet"),
        ("ResNet50V2", "resnet_v2"),
        ("DenseNet121", "densenet"),
        ("VGG16", "vgg16"),
        ("EfficientNetB0", "efficientnet"),
        ("ConvNeXtTiny", "convnext"),
    ],
)
def test_preprocessing_matches_keras_preprocess_input(application, module):
    pixels = np.random.default_rng(0).uniform(0, 255, (2, 8, 8, 3)).astype("float32")
    images = keras.Input(shape=(8, 8, 3))
    preprocess = keras.Model(
        images, backbone_preprocessing(images, application, name="test")
    )
    expected = getattr(keras.applications, module).preprocess_input(pixels.copy())
    np.testing.assert_allclose(
        preprocess.predict(pixels, verbose=0), expected, rtol=1e-5, atol=1e-3
    )


def test_every_keras_application_is_a_valid_backbone():
    assert {"MobileNet", "ResNet50", "EfficientNetV2S", "ConvNeXtTiny"} <= set(
        APPLICATIONS
    )
    for application in APPLICATIONS:
        check_backbone("backbone", application)
    with pytest.raises(ValueError, match="backbone='resnet50'. Expected one of"):
        check_backbone("backbone", "resnet50")


def test_any_keras_application_by_name_builds():
    images = keras.Input(shape=(32, 32, 3))
    features = backbone_features(
        images,
        "ResNet50V2",
        weights=None,
        train_backbone=False,
        image_shape=(32, 32, 3),
        name="demo",
    )
    assert features.shape == (None, 2048)


@needs_weights
def test_weights_file_is_loaded_into_the_backbone():
    model = build_plant_classifier(
        image_shape=(64, 64, 3),
        num_classes=3,
        backbone="mobilenet_v1_0.25",
        weights=str(WEIGHTS),
    )
    conv1 = model.get_layer("plant_classifier_backbone").get_layer("conv1")
    with h5py.File(WEIGHTS) as file:
        expected = file["conv1"]["conv1/kernel:0"][()]
    np.testing.assert_array_equal(conv1.kernel.numpy(), expected)


@needs_weights
def test_weights_file_of_another_model_is_a_one_line_error():
    with pytest.raises(ValueError, match="Cannot load the weights file .* into"):
        build_plant_classifier(
            image_shape=(64, 64, 3),
            num_classes=3,
            backbone="mobilenet_v2",
            weights=str(WEIGHTS),
        )


def test_missing_weights_file_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="Weights file not found"):
        build_plant_classifier(
            num_classes=3, backbone="mobilenet_v2", weights=str(tmp_path / "no.h5")
        )


# Offline for sure: every download goes to a closed port on this machine.
_OFFLINE = {"HTTPS_PROXY": "http://127.0.0.1:9", "https_proxy": "http://127.0.0.1:9"}


@needs_weights
def test_imagenet_weights_come_from_the_keras_cache_offline(tmp_path):
    """Keras reads `KERAS_HOME` once, on import: one interpreter for both cases."""
    script = textwrap.dedent(
        f"""
        import shutil
        from cnnrnn.models.backbones import WeightsError
        from cnnrnn.models.plant_classifier import build_plant_classifier

        def build():
            return build_plant_classifier(
                image_shape=(64, 64, 3), num_classes=3,
                backbone="mobilenet_v1_0.25", weights="imagenet",
            )

        try:
            build()
        except WeightsError as error:
            print("ERROR", error)
        shutil.copy({str(WEIGHTS)!r}, {str(tmp_path / "models")!r})
        build()
        print("BUILT")
        """
    )
    (tmp_path / "models").mkdir()
    env = {**os.environ, **_OFFLINE, "KERAS_HOME": str(tmp_path)}
    env.pop("NO_PROXY", None)
    env.pop("no_proxy", None)
    result = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    error, built = result.stdout.strip().splitlines()[-2:]
    assert error.startswith("ERROR The ImageNet weights of MobileNet")
    assert f"put {WEIGHTS.name} in {tmp_path / 'models'}" in error
    assert built == "BUILT"
