import json

import av
import numpy as np
import pytest
import tensorflow_datasets as tfds
from PIL import Image

from cnnrnn.data import video
from cnnrnn.data.video import (
    load_clip_files,
    load_tfds_videos,
    load_video_folder,
    load_videos,
    read_clip,
)
from cnnrnn.errors import DataError


def write_video(path, frames, *, codec="mpeg4"):
    """Encodes uint8 RGB frames `(count, height, width, 3)` with PyAV."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=10)
        stream.height, stream.width = frames.shape[1:3]
        stream.pix_fmt = "yuv420p"
        for frame in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, "rgb24")))
        container.mux(stream.encode())
    return path


def ramp(count, height=16, width=16, *, start=20, step=8):
    """Gray frames whose brightness encodes the frame index: start + step * index."""
    values = (start + step * np.arange(count)).astype(np.uint8)
    return np.broadcast_to(
        values[:, None, None, None], (count, height, width, 3)
    ).copy()


def brightness(frames):
    return frames.reshape(len(frames), -1).mean(axis=1)


def write_frame_folder(folder, frames):
    """Writes frames as `frame_1.png`, `frame_2.png`, ... (not zero-padded)."""
    folder.mkdir(parents=True)
    for index, frame in enumerate(frames, start=1):
        Image.fromarray(frame).save(folder / f"frame_{index}.png")
    return folder


def make_clip_folder(root, classes=("jump", "run", "walk"), per_class=5):
    """Writes `per_class` clips per class, cycling through the clip kinds.

    Clip `i` of class `c` is a ramp starting at `10 * c + 2 * i`, so every clip
    differs; its kind is an mp4 video, an avi video, a .npy array, a frame
    folder, or (the fifth) a short mp4 of 3 frames.
    """
    for label, name in enumerate(classes):
        folder = root / name
        folder.mkdir(parents=True)
        for index in range(per_class):
            frames = ramp(9, start=10 * label + 2 * index, step=20)
            kind = index % 5
            if kind == 0:
                write_video(folder / f"clip{index}.mp4", frames)
            elif kind == 1:
                write_video(folder / f"clip{index}.avi", frames)
            elif kind == 2:
                np.save(folder / f"clip{index}.npy", frames)
            elif kind == 3:
                write_frame_folder(folder / f"clip{index}", frames)
            else:
                write_video(folder / f"clip{index}.mp4", frames[:3])
    return root


@pytest.fixture
def clip_folder(tmp_path):
    return make_clip_folder(tmp_path / "clips")


def collect(dataset):
    frames, masks, labels = [], [], []
    for inputs, label in dataset.as_numpy_iterator():
        frames.append(inputs["frames"])
        masks.append(inputs["mask"])
        labels.append(label)
    return np.concatenate(frames), np.concatenate(masks), np.concatenate(labels)


OPTIONS = {"num_frames": 4, "image_size": 8, "batch_size": 4}


@pytest.mark.parametrize("extension", ["mp4", "mkv"])
def test_read_clip_picks_frames_evenly_across_the_whole_video(tmp_path, extension):
    # An mkv file has no frame count in its header: it is decoded once in full.
    path = write_video(tmp_path / f"ramp.{extension}", ramp(25, 24, 32))
    frames, mask = read_clip(path, num_frames=5, image_size=8)
    assert frames.shape == (5, 8, 8, 3) and frames.dtype == np.uint8
    assert mask.dtype == bool and mask.all()
    # Frames 0, 6, 12, 18 and 24: the first and the last frame are kept.
    expected = 20 + 8 * np.array([0, 6, 12, 18, 24])
    np.testing.assert_allclose(brightness(frames), expected, atol=4)


def test_read_clip_pads_a_short_clip_and_masks_the_padding(tmp_path):
    path = write_video(tmp_path / "short.mp4", ramp(3))
    frames, mask = read_clip(path, num_frames=6, image_size=(8, 12))
    assert frames.shape == (6, 8, 12, 3)
    assert mask.tolist() == [True, True, True, False, False, False]
    assert (frames[3:] == 0).all()
    np.testing.assert_allclose(brightness(frames[:3]), [20, 28, 36], atol=4)


def test_read_clip_frame_folder_in_numeric_order_ignoring_other_files(tmp_path):
    folder = write_frame_folder(tmp_path / "clip", ramp(12, step=10))
    (folder / "notes.txt").write_text("not a frame")
    Image.fromarray(ramp(1, start=255)[0]).save(folder / ".hidden.png")
    frames, mask = read_clip(folder, num_frames=4, image_size=8)
    assert mask.all()
    # frame_1 .. frame_12 sorted by number; kept indices 0, 4, 7 and 11.
    assert brightness(frames).tolist() == [20, 60, 90, 130]


def test_read_clip_npy_uint8_grayscale_and_float(tmp_path):
    np.save(tmp_path / "rgb.npy", ramp(8))
    frames, mask = read_clip(tmp_path / "rgb.npy", num_frames=8, image_size=8)
    assert mask.all() and brightness(frames).tolist() == list(20 + 8 * np.arange(8))
    gray = np.full((2, 10, 10), 300.4, np.float32)
    gray[0] = 99.6
    np.save(tmp_path / "gray.npy", gray)
    frames, mask = read_clip(tmp_path / "gray.npy", num_frames=3, image_size=8)
    assert mask.tolist() == [True, True, False]
    assert frames[0].min() == frames[0].max() == 100 and (frames[1] == 255).all()


def test_read_clip_resizes_and_centre_crops_keeping_the_aspect_ratio(tmp_path):
    wide = np.zeros((1, 20, 40, 3), np.uint8)
    wide[:, :, :10, 0] = 255  # red left quarter
    wide[:, :, 10:30, 1] = 255  # green middle half
    wide[:, :, 30:, 2] = 255  # blue right quarter
    np.save(tmp_path / "wide.npy", wide)
    frames, _ = read_clip(tmp_path / "wide.npy", num_frames=1, image_size=10)
    # Resized to 10 x 20, then the middle 10 x 10: the green part only.
    assert frames.shape == (1, 10, 10, 3)
    assert (frames[0, :, 1:-1, 1] == 255).all()
    assert frames[0, :, 1:-1, [0, 2]].max() == 0
    frames, _ = read_clip(tmp_path / "wide.npy", num_frames=1, image_size=(16, 8))
    assert frames.shape == (1, 16, 8, 3)
    assert (frames[0, :, 1:-1, 1] == 255).all()
    tall = np.transpose(wide, (0, 2, 1, 3))
    np.save(tmp_path / "tall.npy", tall)
    frames, _ = read_clip(tmp_path / "tall.npy", num_frames=1, image_size=10)
    assert frames.shape == (1, 10, 10, 3)
    assert (frames[0, 1:-1, :, 1] == 255).all()
    assert frames[0, 1:-1, :, [0, 2]].max() == 0


def bad_clips(folder):
    """Writes four unreadable clips into `folder`; returns their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    junk = folder / "junk.mp4"
    junk.write_bytes(np.random.default_rng(0).bytes(2000))
    good = write_video(folder / "whole.mp4", ramp(10)).read_bytes()
    truncated = folder / "truncated.mp4"
    truncated.write_bytes(good[: len(good) // 2])
    (folder / "whole.mp4").unlink()
    array = folder / "array.npy"
    array.write_bytes(b"\x93NUMPY not really")
    empty = folder / "empty_clip"
    empty.mkdir()
    return [junk, truncated, array, empty]


def test_read_clip_rejects_unreadable_clips_naming_them(tmp_path):
    for path in bad_clips(tmp_path / "bad"):
        with pytest.raises(DataError, match=f"Clip '.*{path.name}' "):
            read_clip(path, num_frames=4, image_size=8)
    with pytest.raises(DataError, match="missing.mp4' does not exist"):
        read_clip(tmp_path / "missing.mp4")
    np.save(tmp_path / "flat.npy", np.zeros((4, 8), np.uint8))
    with pytest.raises(DataError, match=r"has shape \(4, 8\)"):
        read_clip(tmp_path / "flat.npy")


def test_folder_shapes_dtypes_counts_and_info(clip_folder):
    data = load_video_folder(
        clip_folder, validation_split=0.2, test_split=0.2, seed=1, **OPTIONS
    )
    frames, masks, labels = collect(data.train)
    assert frames.dtype == np.float32 and frames.shape[1:] == (4, 8, 8, 3)
    assert masks.dtype == bool and masks.shape[1:] == (4,)
    assert labels.dtype == np.int32 and set(labels) == {0, 1, 2}
    assert data.model_args == {
        "num_frames": 4,
        "image_shape": (8, 8, 3),
        "num_classes": 3,
    }
    info = data.info
    assert info["class_names"] == ["jump", "run", "walk"]
    assert info["num_examples"] == {"train": 9, "validation": 3, "test": 3}
    assert info["num_skipped"] == 0 and info["skipped_files"] == []
    assert info["num_short_clips"] == 3 and info["num_cached"] == 0
    assert info["source"] == str(clip_folder) and info["cache_dir"] is None
    json.dumps(info)
    # The three short clips (3 frames) are padded: their mask ends with False.
    others = [collect(d)[1] for d in (data.validation, data.test)]
    lengths = np.concatenate([masks, *others]).sum(axis=1)
    assert sorted(lengths.tolist()) == [3] * 3 + [4] * 12
    assert frames.max() > 1 and frames.min() >= 0


def held_out(folder, seed):
    data = load_video_folder(folder, seed=seed, **OPTIONS)
    split = {}
    for name in ("validation", "test"):
        frames, _, labels = collect(getattr(data, name))
        sums = frames.sum(axis=(1, 2, 3, 4)).tolist()
        split[name] = sorted(zip(labels.tolist(), sums, strict=True))
    return data, split


def test_splits_are_stratified_and_seeded(clip_folder):
    data, first = held_out(clip_folder, 1)
    _, again = held_out(clip_folder, 1)
    _, other = held_out(clip_folder, 2)
    assert first == again and first != other
    for name in ("validation", "test"):
        assert {label for label, _ in first[name]} == {0, 1, 2}
    # The training split is reshuffled at every epoch, with the seed.
    epochs = [collect(data.train)[2].tolist() for _ in range(3)]
    assert sorted(epochs[0]) == sorted(epochs[1]) and len(set(map(tuple, epochs))) > 1


def test_bad_clips_are_skipped_and_named_or_raise(clip_folder):
    bad = bad_clips(clip_folder / "run")
    data = load_videos(str(clip_folder), **OPTIONS)
    assert data.info["num_skipped"] == 4
    skipped = data.info["skipped_files"]
    for path in bad:
        assert any(line.startswith(f"{path}: ") for line in skipped), skipped
    assert sum(data.info["num_examples"].values()) == 15
    with pytest.raises(DataError, match="array.npy' is not a readable .npy"):
        load_video_folder(clip_folder, on_bad_file="error", **OPTIONS)


def test_a_class_with_only_bad_clips_is_an_error(tmp_path):
    root = make_clip_folder(tmp_path / "clips", classes=("jump", "run"))
    bad_clips(root / "sit")
    with pytest.raises(DataError, match="sit' holds no readable clips"):
        load_video_folder(root, **OPTIONS)


def test_wrong_layouts_and_options_are_errors(tmp_path, clip_folder):
    layout = "DIR/<class>/<clip>.mp4"
    with pytest.raises(DataError, match=f"does not exist.*{layout}"):
        load_video_folder(tmp_path / "missing")
    (tmp_path / "file.mp4").write_bytes(b"")
    with pytest.raises(DataError, match="is a file"):
        load_video_folder(tmp_path / "file.mp4")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="is empty, with no class sub-folders"):
        load_video_folder(tmp_path / "empty")
    (tmp_path / "flat").mkdir()
    write_video(tmp_path / "flat" / "a.mp4", ramp(4))
    with pytest.raises(DataError, match=f"holds files but no class.*{layout}"):
        load_video_folder(tmp_path / "flat")
    one = make_clip_folder(tmp_path / "one", classes=("jump",), per_class=1)
    with pytest.raises(DataError, match="only one class \\('jump'\\)"):
        load_video_folder(one)
    (clip_folder / "sit").mkdir()
    (clip_folder / "sit" / "readme.txt").write_text("no clips")
    with pytest.raises(DataError, match="sit' holds no clips"):
        load_video_folder(clip_folder)
    for option, value in [
        ("image_size", 4),
        ("image_size", (8, 8, 3)),
        ("num_frames", 0),
        ("batch_size", 1.5),
        ("cache", 3),
        ("on_bad_file", "ignore"),
        ("num_workers", 0),
        ("test_split", 1.5),
    ]:
        with pytest.raises(DataError, match=f"Received: {option}="):
            load_video_folder(clip_folder, **{option: value})


def test_disk_cache_is_reused_without_decoding(tmp_path, clip_folder, monkeypatch):
    cache = tmp_path / "cache"
    first = load_video_folder(clip_folder, cache=cache, **OPTIONS)
    assert first.info["num_cached"] == 0 and first.info["cache_dir"] == str(cache)
    assert len(list(cache.glob("*.npy"))) == 15
    assert not [p for p in cache.iterdir() if p.suffix != ".npy"]

    def must_not_decode(*args):
        raise AssertionError("decoded a cached clip")

    with monkeypatch.context() as patch:
        patch.setattr(video, "_load_clip", must_not_decode)
        second = load_video_folder(clip_folder, cache=str(cache), **OPTIONS)
    assert second.info["num_cached"] == 15
    assert second.info["num_short_clips"] == 3
    in_memory = load_video_folder(clip_folder, **OPTIONS)
    for name in ("train", "validation", "test"):
        for a, b in zip(
            collect(getattr(second, name)),
            collect(getattr(in_memory, name)),
            strict=True,
        ):
            np.testing.assert_array_equal(a, b)
    # A changed clip, or other options, are decoded again.
    np.save(clip_folder / "jump" / "clip2.npy", ramp(9, start=0))
    again = load_video_folder(clip_folder, cache=cache, **OPTIONS)
    assert again.info["num_cached"] == 14
    other = load_video_folder(clip_folder, cache=cache, **{**OPTIONS, "num_frames": 3})
    assert other.info["num_cached"] == 0


def test_class_names_order_is_respected(clip_folder):
    names = ["walk", "sit", "jump", "run"]
    data = load_video_folder(clip_folder, class_names=names, **OPTIONS)
    assert data.info["class_names"] == names and data.model_args["num_classes"] == 4
    labels = np.concatenate(
        [collect(d)[2] for d in (data.train, data.validation, data.test)]
    )
    assert sorted(set(labels.tolist())) == [0, 2, 3]
    with pytest.raises(DataError, match="classes the model does not know: 'walk'"):
        load_video_folder(clip_folder, class_names=["jump", "run"], **OPTIONS)


def test_load_clip_files(tmp_path, clip_folder):
    paths = [
        clip_folder / "jump" / "clip0.mp4",
        clip_folder / "run" / "clip3",
        str(clip_folder / "walk" / "clip4.mp4"),
    ]
    inputs = load_clip_files(paths, num_frames=4, image_size=(8, 12))
    assert inputs["frames"].shape == (3, 4, 8, 12, 3)
    assert inputs["frames"].dtype == np.float32 and inputs["mask"].dtype == bool
    assert inputs["mask"].sum(axis=1).tolist() == [4, 4, 3]
    single = load_clip_files(paths[0], num_frames=4, image_size=(8, 12))
    np.testing.assert_array_equal(single["frames"][0], inputs["frames"][0])
    with pytest.raises(DataError, match="nope.mp4' does not exist"):
        load_clip_files([paths[0], tmp_path / "nope.mp4"])
    junk = bad_clips(tmp_path / "bad")[0]
    with pytest.raises(
        DataError, match="junk.mp4. is corrupt or not a video PyAV can decode"
    ):
        load_clip_files([junk])
    with pytest.raises(DataError, match="No clips given"):
        load_clip_files([])


def test_tfds_ucf101_with_mock_data():
    # ucf101 has no supervised keys: its only Video and ClassLabel are used.
    # The `ucf101_1` config has frames of any size: the mock makes small ones.
    with tfds.testing.mock_data(num_examples=4):
        data = load_videos(
            "tfds:ucf101/ucf101_1",
            num_frames=4,
            image_size=(8, 10),
            batch_size=2,
            validation_split=0.25,
            test_split=0.25,
            on_bad_file="error",
            num_workers=2,
        )
        frames, masks, labels = collect(data.train)
        names = ["ApplyEyeMakeup", "Zzz"] + data.info["class_names"][1:]
        relabelled = load_tfds_videos(
            "ucf101/ucf101_1",
            class_names=names,
            num_frames=4,
            image_size=8,
            validation_split=0,
            test_split=0.5,
            cache=False,
        )
        relabels = np.concatenate(
            [collect(d)[2] for d in (relabelled.train, relabelled.test)]
        )
    # The mock gives every split `num_examples` clips, whatever the slice.
    assert frames.shape == (4, 4, 8, 10, 3) and frames.dtype == np.float32
    assert masks.all() and labels.dtype == np.int32 and labels.max() < 101
    assert np.ptp(frames) > 20  # random noise frames were decoded
    assert data.info["splits"] == {
        "train": "train[:50%]",
        "validation": "train[50%:75%]",
        "test": "train[75%:]",
    }
    assert data.info["num_examples"] == {"train": 4, "validation": 4, "test": 4}
    assert data.model_args == {
        "num_frames": 4,
        "image_shape": (8, 10, 3),
        "num_classes": 101,
    }
    assert data.info["class_names"][0] == "ApplyEyeMakeup"
    assert relabelled.model_args["num_classes"] == 102 and 1 not in relabels
    json.dumps(data.info)


def test_tfds_errors():
    with tfds.testing.mock_data(num_examples=2):
        with pytest.raises(DataError, match="Unknown TensorFlow Datasets name"):
            load_videos("tfds:no_such_dataset")
        with pytest.raises(DataError, match="not a video-classification set"):
            load_tfds_videos("tf_flowers")
        with pytest.raises(DataError, match="on_bad_file='x'"):
            load_videos("tfds:ucf101", on_bad_file="x")


def test_auto_frame_size_is_chosen_from_every_kind_of_clip(tmp_path):
    root = tmp_path / "clips"
    write_video(root / "a" / "wide.mp4", ramp(4, 48, 64))
    np.save(root / "a" / "square.npy", ramp(4, 48, 48))
    write_frame_folder(root / "b" / "frames", ramp(4, 64, 96))
    write_video(root / "b" / "large.mp4", ramp(4, 80, 80))
    (root / "b" / "broken.mp4").write_bytes(b"not a video")
    data = load_videos(str(root), num_frames=2, image_size="auto", cache=False)
    # Median shorter side 56, rounded down to a multiple of 16.
    assert data.info["chosen"] == {"image_size": [48, 48]}
    assert data.model_args["image_shape"] == (48, 48, 3)
    assert data.info["num_skipped"] == 1
