import json

import numpy as np
import pytest
import tensorflow_datasets as tfds
from PIL import Image

from cnnrnn.data.common import stratified_split, tfds_split_specs
from cnnrnn.data.images import (
    AUTO_IMAGE_SIZE_RANGE,
    auto_image_size,
    load_image_files,
    load_image_folder,
    load_images,
    load_tfds_images,
)
from cnnrnn.errors import DataError


def write_images(folder, count, *, seed, mode="RGB", ext="png", size=16, start=0):
    """Writes `count` random images of `mode` into `folder`; returns their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = []
    for index in range(start, start + count):
        pixels = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
        path = folder / f"{index:03d}.{ext}"
        Image.fromarray(pixels).convert(mode).save(path)
        paths.append(path)
    return paths


@pytest.fixture
def image_folder(tmp_path, seed):
    """3 classes x 8 RGB PNG images of 16x16."""
    root = tmp_path / "images"
    for offset, name in enumerate(["daisy", "rose", "tulip"]):
        write_images(root / name, 8, seed=seed + offset)
    return root


def collect(dataset):
    images, labels = zip(*dataset.as_numpy_iterator(), strict=True)
    return np.concatenate(images), np.concatenate(labels)


def test_folder_batches_shapes_dtypes_and_labels(image_folder):
    data = load_image_folder(image_folder, image_size=12, batch_size=4)
    images, labels = collect(data.train)
    assert images.dtype == np.float32 and images.shape[1:] == (12, 12, 3)
    assert labels.dtype == np.int32 and set(labels) == {0, 1, 2}
    assert images.min() >= 0 and images.max() <= 255 and images.max() > 1
    counts = data.info["num_examples"]
    assert sum(counts.values()) == 24 and min(counts.values()) >= 3
    assert len(collect(data.validation)[1]) == counts["validation"]
    assert len(collect(data.test)[1]) == counts["test"]
    assert data.model_args == {"image_shape": (12, 12, 3), "num_classes": 3}
    assert data.info["class_names"] == ["daisy", "rose", "tulip"]
    assert data.info["num_skipped"] == 0 and data.info["num_converted"] == 0
    json.dumps(data.info)


def test_folder_image_size_tuple_and_test_only_split(image_folder):
    data = load_images(
        str(image_folder), image_size=(10, 14), validation_split=0, test_split=1.0
    )
    assert data.train is None and data.validation is None
    images, labels = collect(data.test)
    assert images.shape == (24, 10, 14, 3) and len(labels) == 24


def test_auto_image_size_is_the_median_shorter_side_within_range():
    smallest, largest = AUTO_IMAGE_SIZE_RANGE
    assert auto_image_size([(50, 70), (60, 40), (90, 90)]) == 48
    assert auto_image_size([(1000, 2000)] * 3) == largest
    assert auto_image_size([(8, 8), (10, 12)]) == smallest


def test_folder_auto_image_size_is_chosen_from_the_images(tmp_path, seed):
    for offset, name in enumerate(["a", "b"]):
        write_images(tmp_path / name, 3, seed=seed + offset, size=50)
    data = load_image_folder(tmp_path, image_size="auto", batch_size=8)
    assert data.info["chosen"] == {"image_size": [48, 48]}
    assert data.model_args["image_shape"] == (48, 48, 3)
    assert collect(data.train)[0].shape[1:] == (48, 48, 3)
    assert "chosen" not in load_image_folder(tmp_path, image_size=16).info


def test_same_seed_same_split_and_other_seed_differs(image_folder):
    def held_out(seed):
        data = load_image_folder(image_folder, seed=seed)
        return sorted(collect(data.test)[0].sum(axis=(1, 2, 3)).tolist())

    assert held_out(1) == held_out(1)
    assert held_out(1) != held_out(2)


def test_hidden_files_and_folders_are_ignored_silently(image_folder):
    (image_folder / ".DS_Store").write_bytes(b"\0\1")
    (image_folder / "rose" / "._000.png").write_bytes(b"\0\1")
    write_images(image_folder / ".ipynb_checkpoints", 2, seed=0)
    data = load_image_folder(image_folder)
    assert data.info["class_names"] == ["daisy", "rose", "tulip"]
    assert data.info["num_skipped"] == 0


@pytest.mark.parametrize(
    "name, content, reason",
    [("broken.jpg", b"not an image", "PIL can read"), ("notes.txt", b"hi", ".txt")],
)
def test_bad_file_is_skipped_and_counted_or_raises(image_folder, name, content, reason):
    bad = image_folder / "rose" / name
    bad.write_bytes(content)
    data = load_image_folder(image_folder)
    assert data.info["num_skipped"] == 1
    assert data.info["skipped_files"][0].startswith(f"{bad}: ")
    assert sum(data.info["num_examples"].values()) == 24
    with pytest.raises(DataError, match=reason) as error:
        load_image_folder(image_folder, on_bad_file="error")
    assert str(bad) in str(error.value) and "\n" not in str(error.value)


def test_truncated_image_is_skipped(image_folder):
    path = image_folder / "rose" / "000.png"
    path.write_bytes(path.read_bytes()[:60])
    data = load_image_folder(image_folder)
    assert data.info["num_skipped"] == 1


def test_mixed_modes_are_converted_or_raise(image_folder, seed):
    tulips = image_folder / "tulip"
    for offset, (mode, ext) in enumerate(
        [("L", "png"), ("RGBA", "png"), ("P", "gif"), ("CMYK", "jpg"), ("P", "bmp")]
    ):
        write_images(tulips, 1, seed=seed, mode=mode, ext=ext, start=100 + offset)
    data = load_image_folder(image_folder, validation_split=0, test_split=1.0)
    assert data.info["num_converted"] == 5
    assert collect(data.test)[0].shape == (29, 64, 64, 3)
    with pytest.raises(DataError, match=r"100\.png' has mode 'L', not RGB"):
        load_image_folder(image_folder, on_bad_file="error")


def test_empty_class_folder_raises(image_folder):
    (image_folder / "lily").mkdir()
    with pytest.raises(DataError, match="Class folder .*lily' holds no images"):
        load_image_folder(image_folder)


def test_class_folder_of_only_bad_files_raises(image_folder):
    (image_folder / "lily").mkdir()
    (image_folder / "lily" / "a.png").write_bytes(b"junk")
    with pytest.raises(DataError, match="lily' holds no readable images"):
        load_image_folder(image_folder)


def test_single_class_raises(tmp_path, seed):
    write_images(tmp_path / "rose", 3, seed=seed)
    with pytest.raises(DataError, match="only one class \\('rose'\\)"):
        load_image_folder(tmp_path)


def test_missing_folder_and_file_instead_of_folder_raise(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        load_image_folder(tmp_path / "missing")
    (tmp_path / "file.png").write_bytes(b"x")
    with pytest.raises(DataError, match="is a file"):
        load_images(tmp_path / "file.png")


def test_folder_without_class_folders_raises(tmp_path, seed):
    with pytest.raises(DataError, match="is empty"):
        load_image_folder(tmp_path)
    write_images(tmp_path, 2, seed=seed)
    with pytest.raises(DataError, match="holds files but no class sub-folders.*rose"):
        load_image_folder(tmp_path)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (
            {"on_bad_file": "x"},
            "Received: on_bad_file='x'. Expected one of 'skip', 'error'.",
        ),
        ({"image_size": 0}, "Received: image_size=0."),
        ({"image_size": (8, 8, 3)}, "Received: image_size=(8, 8, 3)."),
        ({"batch_size": 0}, "Received: batch_size=0."),
        ({"validation_split": -0.1}, "Received: validation_split=-0.1."),
        ({"validation_split": 0.6, "test_split": 0.5}, "sum to at most 1"),
        ({"class_names": "rose"}, "Received: class_names='rose'."),
    ],
)
def test_bad_options_raise(image_folder, kwargs, message):
    with pytest.raises(DataError) as error:
        load_image_folder(image_folder, **kwargs)
    assert message in str(error.value)


def test_class_names_order_labels_and_allow_a_subset(image_folder):
    class_names = ["tulip", "lily", "rose", "daisy"]
    data = load_image_folder(
        image_folder, class_names=class_names, validation_split=0, test_split=1.0
    )
    assert data.model_args["num_classes"] == 4
    assert data.info["class_names"] == class_names
    assert set(collect(data.test)[1]) == {0, 2, 3}

    for name in ["daisy", "rose"]:
        for path in (image_folder / name).iterdir():
            path.unlink()
        (image_folder / name).rmdir()
    data = load_image_folder(
        image_folder, class_names=class_names, validation_split=0, test_split=1.0
    )
    assert set(collect(data.test)[1]) == {0}


def test_class_not_in_class_names_raises(image_folder):
    with pytest.raises(DataError, match="does not know: 'daisy', 'tulip'"):
        load_image_folder(image_folder, class_names=["rose", "lily"])


def test_load_image_files_matches_training_pixels(image_folder, tmp_path, seed):
    paths = sorted(image_folder.glob("*/*.png"))
    images = load_image_files(paths, image_size=(10, 12))
    assert images.dtype == np.float32 and images.shape == (24, 10, 12, 3)
    data = load_image_folder(
        image_folder, image_size=(10, 12), validation_split=0, test_split=1.0
    )
    trained = collect(data.test)[0]
    np.testing.assert_allclose(
        np.sort(images.sum(axis=(1, 2, 3))), np.sort(trained.sum(axis=(1, 2, 3)))
    )

    (palette,) = write_images(tmp_path / "p", 1, seed=seed, mode="P", ext="bmp")
    expected = np.asarray(Image.open(palette).convert("RGB"), np.float32)
    np.testing.assert_array_equal(load_image_files(palette, image_size=16)[0], expected)


def test_load_image_files_errors_name_the_file(tmp_path):
    missing = tmp_path / "missing.png"
    with pytest.raises(DataError, match="missing.png' does not exist"):
        load_image_files([missing])
    (tmp_path / "photos").mkdir()
    with pytest.raises(DataError, match="photos' is a folder: pass a readable"):
        load_image_files([tmp_path / "photos"])
    corrupt = tmp_path / "corrupt.jpg"
    corrupt.write_bytes(b"junk")
    with pytest.raises(DataError, match="corrupt.jpg'"):
        load_image_files([corrupt])
    with pytest.raises(DataError, match="No image files"):
        load_image_files([])


def test_tfds_images_with_mock_data(tmp_path):
    with tfds.testing.mock_data(num_examples=6):
        data = load_images("tfds:tf_flowers", image_size=8, batch_size=4)
        images, labels = collect(data.train)
        names = ["roses", "tulips", "sunflowers", "daisy", "dandelion", "lily"]
        relabelled = load_tfds_images(
            "tf_flowers", class_names=names, data_dir=str(tmp_path), image_size="auto"
        )
        relabels = collect(relabelled.validation)[1]
    assert images.shape == (6, 8, 8, 3) and images.dtype == np.float32
    assert labels.dtype == np.int32 and labels.max() < 5
    assert data.info["class_names"][:2] == ["dandelion", "daisy"]
    assert data.info["splits"] == {
        "train": "train[:70%]",
        "validation": "train[70%:85%]",
        "test": "train[85%:]",
    }
    assert data.model_args == {"image_shape": (8, 8, 3), "num_classes": 5}
    assert relabelled.model_args["num_classes"] == 6
    assert relabelled.info["chosen"]["image_size"][0] >= AUTO_IMAGE_SIZE_RANGE[0]
    assert set(relabels) <= {0, 1, 2, 3, 4}
    json.dumps(data.info)


def test_tfds_accepts_the_folder_options_through_load_images():
    options = {"image_size": [8, 8], "on_bad_file": "error", "cache": False}
    with tfds.testing.mock_data(num_examples=3):
        data = load_images("tfds:beans", **options)
        assert next(data.test.as_numpy_iterator())[0].shape == (3, 8, 8, 3)
        with pytest.raises(DataError, match="on_bad_file='x'"):
            load_images("tfds:beans", on_bad_file="x")


def test_tfds_errors():
    with tfds.testing.mock_data(num_examples=2):
        with pytest.raises(DataError, match="Unknown TensorFlow Datasets name"):
            load_images("tfds:no_such_dataset")
        with pytest.raises(DataError, match="not an image-classification set"):
            load_tfds_images("imdb_reviews")


@pytest.mark.parametrize(
    "available, fractions, expected",
    [
        ({"train", "test"}, (0.2, 0.15), ("train[:80%]", "train[80%:]", "test")),
        ({"train", "validation", "test"}, (0.2, 0.1), ("train", "validation", "test")),
        ({"train"}, (0.0, 1.0), (None, None, "train")),
        ({"train"}, (0.1, 0.0), ("train[:90%]", "train[90%:]", None)),
    ],
)
def test_tfds_split_specs_use_own_splits_and_cut_missing_ones(
    available, fractions, expected
):
    specs = tfds_split_specs("x", available, *fractions)
    assert tuple(specs.values()) == expected
    assert list(specs) == ["train", "validation", "test"]


def test_stratified_split_keeps_every_class_in_every_split():
    labels = np.repeat([0, 1, 2], [3, 10, 40])
    train, val, test = stratified_split(
        labels, validation_split=0.15, test_split=0.15, seed=0
    )
    assert sorted(np.concatenate([train, val, test])) == list(range(len(labels)))
    for split in (train, val, test):
        assert set(labels[split]) == {0, 1, 2}
    assert len(test) == 1 + 2 + 6


def test_stratified_split_seed_and_edge_fractions():
    labels = np.arange(30) % 3
    first = stratified_split(labels, validation_split=0.2, test_split=0.1, seed=3)
    again = stratified_split(labels, validation_split=0.2, test_split=0.1, seed=3)
    other = stratified_split(labels, validation_split=0.2, test_split=0.1, seed=4)
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    assert not np.array_equal(first[0], other[0])
    train, val, test = stratified_split(
        labels, validation_split=0, test_split=1.0, seed=0
    )
    assert len(train) == len(val) == 0 and len(test) == 30
    with pytest.raises(DataError, match="Received: test_split=1.5"):
        stratified_split(labels, validation_split=0, test_split=1.5, seed=0)


def test_a_folder_given_a_tfds_data_dir_is_a_clear_error(image_folder):
    with pytest.raises(DataError, match="data.data_dir .* is a folder"):
        load_images(str(image_folder), data_dir="/tmp/tfds")
