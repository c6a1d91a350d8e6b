"""The demo data of `cnnrnn.demos.plant_classifier`."""

import numpy as np
import pytest
from PIL import Image

from cnnrnn.data.images import load_image_folder
from cnnrnn.demos import plant_classifier as demo
from cnnrnn.demos.plant_classifier import PLANT_CLASSES, write_plant_demo
from cnnrnn.errors import DataError


def file_bytes(directory):
    return {
        path.relative_to(directory): path.read_bytes()
        for path in sorted(directory.rglob("*.png"))
    }


def test_writes_each_class_with_named_rgb_images(tmp_path):
    path = write_plant_demo(tmp_path / "plants", images_per_class=3, image_size=32)
    assert path == tmp_path / "plants"
    assert sorted(p.name for p in path.iterdir()) == list(PLANT_CLASSES)
    for name in PLANT_CLASSES:
        files = sorted(p.name for p in (path / name).iterdir())
        assert files == [f"{name}_{i:04d}.png" for i in range(3)]
    with Image.open(path / "oval" / "oval_0000.png") as image:
        assert image.mode == "RGB" and image.size == (32, 32)
    assert [p.name for p in tmp_path.iterdir()] == ["plants"]


def test_same_seed_same_bytes_other_seed_differs(tmp_path):
    first = write_plant_demo(tmp_path / "a", images_per_class=2, image_size=24)
    again = write_plant_demo(tmp_path / "b", images_per_class=2, image_size=24)
    other = write_plant_demo(tmp_path / "c", images_per_class=2, image_size=24, seed=1)
    assert file_bytes(first) == file_bytes(again)
    assert file_bytes(first) != file_bytes(other)


def test_refuses_non_empty_folder_and_accepts_empty_one(tmp_path):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    with pytest.raises(DataError, match="already exists and is not empty"):
        write_plant_demo(tmp_path / "full", images_per_class=1)
    assert [p.name for p in (tmp_path / "full").iterdir()] == ["keep.txt"]
    (tmp_path / "empty").mkdir()
    write_plant_demo(tmp_path / "empty", images_per_class=1, image_size=16)
    assert len(list((tmp_path / "empty").rglob("*.png"))) == len(PLANT_CLASSES)


def test_failed_write_leaves_nothing_behind(tmp_path, monkeypatch):
    def fail(*args):
        raise RuntimeError("disk full")

    monkeypatch.setattr(demo, "_draw_example", fail)
    with pytest.raises(RuntimeError):
        write_plant_demo(tmp_path / "plants", images_per_class=1)
    assert list(tmp_path.iterdir()) == []


def test_demo_loads_as_balanced_image_folder(tmp_path):
    path = write_plant_demo(tmp_path / "plants", images_per_class=6, image_size=16)
    data = load_image_folder(path, image_size=16, batch_size=8)
    assert data.info["class_names"] == list(PLANT_CLASSES)
    assert sum(data.info["num_examples"].values()) == 6 * len(PLANT_CLASSES)
    images, labels = next(data.train.as_numpy_iterator())
    assert images.shape[1:] == (16, 16, 3) and labels.max() < len(PLANT_CLASSES)
    assert np.ptp(images) > 50
