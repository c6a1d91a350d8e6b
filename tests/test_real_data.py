"""Small real-data checks: the shared flower photos and MobileNet weights."""

import pathlib

import numpy as np
import pytest
from rich.console import Console

from cnnrnn import apps, training
from cnnrnn.config import resolve_config

SHARED = pathlib.Path(__file__).resolve().parents[2] / "shared" / "data"
FLOWERS = SHARED / "images" / "flowers"
WEIGHTS = SHARED / "weights" / "mobilenet_2_5_224_tf_no_top.h5"
CLASSES = ("daisy", "dandelion", "sunflower")


@pytest.fixture(scope="module")
def flowers(tmp_path_factory):
    """The first 80 photos of three classes, linked into a class folder."""
    root = tmp_path_factory.mktemp("flowers")
    for name in CLASSES:
        (root / name).mkdir()
        for photo in sorted((FLOWERS / name).iterdir())[:80]:
            (root / name / photo.name).symlink_to(photo)
    return root


def pixel_accuracy(splits):
    """Logistic regression on 8x8 mean colours: the obvious baseline."""
    from sklearn.linear_model import LogisticRegression

    def features(dataset):
        images, labels = zip(*dataset.as_numpy_iterator(), strict=True)
        images = np.concatenate(images)
        size = images.shape[1] // 8
        small = images.reshape(len(images), 8, size, 8, size, 3).mean(axis=(2, 4))
        return small.reshape(len(images), -1) / 255, np.concatenate(labels)

    baseline = LogisticRegression(max_iter=2000).fit(*features(splits.train))
    return baseline.score(*features(splits.test))


@pytest.mark.skipif(
    not (FLOWERS.is_dir() and WEIGHTS.is_file()), reason="../shared/data is absent"
)
def test_pretrained_backbone_beats_the_pixel_baseline_on_real_flowers(
    flowers, tmp_path
):
    app = apps.get_app("plant-classifier")
    overrides = {
        "data": {
            "source": str(flowers),
            "image_size": [128, 128],
            "validation_split": 0.2,
            "test_split": 0.3,
        },
        "model": {
            "backbone": "mobilenet_v1_0.25",
            "weights": str(WEIGHTS),
            "augment": False,
            "learning_rate": 1e-2,
        },
        "training": {"epochs": 60, "precompute_features": True},
    }
    config = resolve_config(app, overrides=overrides)
    metrics = training.train(
        app, config=config, run_dir=tmp_path, console=Console(quiet=True)
    )
    baseline = pixel_accuracy(training.load_splits(app, config))
    # Measured: 0.72 against 0.58 (chance 0.33), so half the margin is asked.
    assert metrics["accuracy"] >= max(0.6, baseline + 0.07), (metrics, baseline)
