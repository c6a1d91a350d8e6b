"""The demo data of `cnnrnn.demos.video_classifier`."""

import av
import numpy as np
import pytest

from cnnrnn.data.video import load_video_folder
from cnnrnn.demos import video_classifier as demo
from cnnrnn.demos.video_classifier import VIDEO_CLASSES, write_video_demo
from cnnrnn.errors import DataError


def decode_video(path):
    with av.open(str(path)) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    return np.stack(frames)


def shape_motion(frames):
    """Total (x, y) motion of the saturated shape, on the wrapped-around frame.

    The shape's position in a frame is the circular mean of its pixels (the
    scene wraps around); the motion is the sum of the wrapped steps between
    consecutive frames.
    """
    size = frames.shape[1]
    pixels = frames.astype(int)
    shape = (pixels.max(axis=-1) - pixels.min(axis=-1)) > 100
    angles = 2 * np.pi * (np.arange(size) + 0.5) / size

    def position(weights):  # weights (frames, size) summed over the other axis
        angle = np.arctan2(weights @ np.sin(angles), weights @ np.cos(angles))
        return angle * size / (2 * np.pi)

    path = np.stack([position(shape.sum(axis=1)), position(shape.sum(axis=2))], 1)
    steps = (np.diff(path, axis=0) + size / 2) % size - size / 2
    return steps.sum(axis=0)


def test_video_demo_clips_decode_and_the_shape_moves_in_the_class_direction(
    tmp_path,
):
    path = write_video_demo(
        tmp_path / "moves", clips_per_class=3, num_frames=8, image_size=32
    )
    assert path == tmp_path / "moves"
    assert sorted(p.name for p in path.iterdir()) == list(VIDEO_CLASSES)
    for name in VIDEO_CLASSES:
        files = sorted(p.name for p in (path / name).iterdir())
        assert files == [f"{name}_{i:03d}.mp4" for i in range(3)]
        direction = np.array(demo._VIDEO_DIRECTIONS[name])
        for file in files:
            frames = decode_video(path / name / file)
            assert frames.shape == (8, 32, 32, 3)
            motion = shape_motion(frames)
            along, across = motion @ direction, abs(motion @ direction[::-1])
            assert 0.3 * 32 < along < 0.65 * 32 and across < 1.5, (file, motion)
    assert [p.name for p in tmp_path.iterdir()] == ["moves"]


def test_video_demo_frames_do_not_depend_on_the_class_except_for_motion():
    """From the same random state, every class draws the same first frame."""
    clips = [
        demo._moving_shape_clip(direction, 6, 16, np.random.default_rng(5))
        for direction in demo._VIDEO_DIRECTIONS.values()
    ]
    for clip in clips[1:]:
        np.testing.assert_array_equal(clip[0], clips[0][0])
        assert not np.array_equal(clip[-1], clips[0][-1])


def test_video_demo_is_deterministic_refuses_non_empty_folder_and_cleans_up(
    tmp_path, monkeypatch
):
    def video_bytes(directory):
        return {
            p.relative_to(directory): p.read_bytes()
            for p in sorted(directory.rglob("*.mp4"))
        }

    options = {"clips_per_class": 2, "num_frames": 4, "image_size": 16}
    first = video_bytes(write_video_demo(tmp_path / "a", **options))
    assert len(first) == 2 * len(VIDEO_CLASSES)
    assert video_bytes(write_video_demo(tmp_path / "b", **options)) == first
    assert video_bytes(write_video_demo(tmp_path / "c", **options, seed=1)) != first
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    with pytest.raises(DataError, match="already exists and is not empty"):
        write_video_demo(tmp_path / "full", **options)
    for option, value in [
        ("clips_per_class", 0),
        ("num_frames", 1),
        ("image_size", 17),
        ("image_size", 8),
    ]:
        with pytest.raises(DataError, match=f"Received: {option}={value}"):
            write_video_demo(tmp_path / "bad", **{**options, option: value})

    def fail(*args):
        raise RuntimeError("disk full")

    monkeypatch.setattr(demo, "_write_mp4", fail)
    with pytest.raises(RuntimeError):
        write_video_demo(tmp_path / "failed", **options)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b", "c", "full"]


def test_video_demo_loads_as_balanced_video_folder(tmp_path):
    path = write_video_demo(
        tmp_path / "moves", clips_per_class=4, num_frames=10, image_size=16
    )
    data = load_video_folder(path, num_frames=6, image_size=16, batch_size=4)
    assert data.info["class_names"] == list(VIDEO_CLASSES)
    assert sum(data.info["num_examples"].values()) == 4 * len(VIDEO_CLASSES)
    assert data.info["num_skipped"] == 0 and data.info["num_short_clips"] == 0
    inputs, labels = next(data.train.as_numpy_iterator())
    assert inputs["frames"].shape[1:] == (6, 16, 16, 3) and inputs["mask"].all()
    assert np.ptp(inputs["frames"]) > 100 and labels.max() < len(VIDEO_CLASSES)
