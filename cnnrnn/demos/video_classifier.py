"""Demo data of the video classifier: clips of a shape moving in four directions."""

import pathlib

import av
import numpy as np

from cnnrnn.data.options import check_positive_int
from cnnrnn.demos.common import draw_background, hsv, staging_folder
from cnnrnn.errors import DataError

VIDEO_CLASSES = ("down", "left", "right", "up")
# Direction of each class as (x, y) in image coordinates (y grows downwards).
_VIDEO_DIRECTIONS = {"down": (0, 1), "left": (-1, 0), "right": (1, 0), "up": (0, -1)}
_VIDEO_FRAME_RATE = 10


def write_video_demo(
    directory, *, clips_per_class=150, num_frames=20, image_size=32, seed=0
):
    """Writes a generated video-folder data set of moving shapes, one folder per class.

    Each clip shows one filled circle or square, of a random saturated colour
    and a random size, moving steadily down, left, right or up (the class) over
    a dull, noisy background, by 35% to 60% of the frame size over the clip.
    The scene wraps around like a torus: a shape leaving the frame on one side
    comes back on the other. The starting point is uniform over the frame and
    nothing else depends on the class, so every frame of every class shows a
    shape at a uniformly random place: a single frame cannot tell the class,
    only the motion over time can. The same seed writes identical files.

    Clips are MPEG-4 Part 2 videos (`mpeg4` codec, `yuv420p`, 10 frames per
    second) in `.mp4` files, encoded with PyAV. The set is written to a
    temporary sibling folder and then renamed, so `directory` is either
    complete or absent.

    Args:
        directory: str or path. Folder to create; it must be absent or empty.
        clips_per_class: int. Clips per class. Defaults to `150`.
        num_frames: int, at least 2. Frames per clip. Defaults to `20`.
        image_size: int. Width and height of the square frames; an even number
            of at least 16. Defaults to `32`.
        seed: int. Seed of the generator. Defaults to `0`.

    Returns:
        The folder as a `pathlib.Path`, holding
        `<directory>/<class>/<class>_<index:03d>.mp4` for every class in
        `VIDEO_CLASSES`.

    Raises:
        DataError: if `directory` exists and is not an empty folder, or an
            option is invalid.

    Example:

    >>> path = write_video_demo("moves", clips_per_class=20)
    >>> data = cnnrnn.data.video.load_video_folder(path, num_frames=16)
    """
    check_positive_int("clips_per_class", clips_per_class)
    check_positive_int("num_frames", num_frames)
    check_positive_int("image_size", image_size)
    if num_frames < 2:
        raise DataError(
            f"Received: num_frames={num_frames!r}. Expected an integer >= 2: "
            "motion needs at least two frames."
        )
    if image_size < 16 or image_size % 2:
        raise DataError(
            f"Received: image_size={image_size!r}. Expected an even integer >= 16 "
            "(the video encoder needs an even size)."
        )
    directory = pathlib.Path(directory)
    with staging_folder(directory) as staging:
        for label, class_name in enumerate(VIDEO_CLASSES):
            (staging / class_name).mkdir()
            for index in range(clips_per_class):
                rng = np.random.default_rng([seed, label, index])
                frames = _moving_shape_clip(
                    _VIDEO_DIRECTIONS[class_name], num_frames, image_size, rng
                )
                _write_mp4(
                    staging / class_name / f"{class_name}_{index:03d}.mp4", frames
                )
    return directory


def _moving_shape_clip(direction, num_frames, size, rng):
    """uint8 frames `(num_frames, size, size, 3)` of a shape moving in `direction`.

    The shape is drawn analytically with an anti-aliased edge, at sub-pixel
    positions, on a torus (distances wrap around the frame's edges).
    """
    background = draw_background(size, rng).astype(np.float32)
    background += rng.normal(0, 4, background.shape)
    colour = np.array(
        hsv(rng.uniform(0, 1), rng.uniform(0.75, 1), rng.uniform(0.75, 1)),
        np.float32,
    )
    radius = rng.uniform(0.12, 0.2) * size
    square = rng.random() < 0.5
    travel = rng.uniform(0.35, 0.6) * size
    start = rng.uniform(0, size, 2)
    progress = np.arange(num_frames) / (num_frames - 1) * travel
    centres = (start + progress[:, None] * np.array(direction)) % size
    pixels = np.arange(size) + 0.5
    # Offsets from the centre, wrapped into [-size / 2, size / 2).
    dx = (pixels[None, None, :] - centres[:, 0, None, None] + size / 2) % size
    dy = (pixels[None, :, None] - centres[:, 1, None, None] + size / 2) % size
    dx, dy = dx - size / 2, dy - size / 2
    if square:
        distance = np.maximum(np.abs(dx), np.abs(dy))
    else:
        distance = np.hypot(dx, dy)
    alpha = np.clip(radius - distance + 0.5, 0, 1)[..., None]
    frames = background * (1 - alpha) + colour * alpha
    frames += rng.normal(0, 3, frames.shape)
    return np.clip(np.round(frames), 0, 255).astype(np.uint8)


def _write_mp4(path, frames):
    """Encodes uint8 RGB frames into an MPEG-4 video file with PyAV."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=_VIDEO_FRAME_RATE)
        stream.height, stream.width = frames.shape[1:3]
        stream.pix_fmt = "yuv420p"
        stream.bit_rate = 2_000_000
        # One thread: the encoded bytes then do not depend on the machine.
        stream.thread_count = 1
        for frame in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, "rgb24")))
        container.mux(stream.encode())
