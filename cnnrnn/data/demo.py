"""Generated demo data, so that every application runs offline on a fresh machine."""

import colorsys
import contextlib
import csv
import itertools
import os
import pathlib
import shutil
import tempfile

import av
import numpy as np
from PIL import Image, ImageDraw

from cnnrnn.data.options import check_positive_int
from cnnrnn.errors import DataError

PLANT_CLASSES = ("heart", "maple", "needle", "oval")

SENTIMENT_CLASSES = ("negative", "positive")
SENTIMENT_DEMO_FILE = "reviews.csv"

CHAR_DEMO_FILE = "play.txt"

VIDEO_CLASSES = ("down", "left", "right", "up")
# Direction of each class as (x, y) in image coordinates (y grows downwards).
_VIDEO_DIRECTIONS = {"down": (0, 1), "left": (-1, 0), "right": (1, 0), "up": (0, -1)}
_VIDEO_FRAME_RATE = 10

CAPTION_DEMO_FILE = "captions.csv"
CAPTION_COLOURS = ("red", "green", "blue", "yellow")
CAPTION_SHAPES = ("circle", "square", "triangle")
CAPTION_SIZES = ("small", "large")

# Leaves are drawn this many times larger, then downsampled (anti-aliasing).
_SUPERSAMPLE = 3


def write_plant_demo(directory, *, images_per_class=150, image_size=64, seed=0):
    """Writes a generated image-folder data set of leaf shapes, one folder per class.

    Each image shows one procedurally drawn leaf (heart-shaped, maple-like,
    needle-like or oval, with a stalk and veins) at a random angle, size and
    place, in a random green or yellow, on a noisy textured background with
    twigs. Colours are drawn from the same ranges for every class, so only the
    shape tells the classes apart. The same seed writes identical files.

    The set is written to a temporary sibling folder and then renamed, so
    `directory` is either complete or absent.

    Args:
        directory: str or path. Folder to create; it must be absent or empty.
        images_per_class: int. PNG images per class. Defaults to `150`.
        image_size: int. Width and height of the square images. Defaults to `64`.
        seed: int. Seed of the generator. Defaults to `0`.

    Returns:
        The folder as a `pathlib.Path`, holding
        `<directory>/<class>/<class>_<index:04d>.png` for every class in
        `PLANT_CLASSES`.

    Raises:
        DataError: if `directory` exists and is not an empty folder, or an
            option is invalid.

    Example:

    >>> path = write_plant_demo("plants", images_per_class=20)
    >>> data = cnnrnn.data.images.load_image_folder(path)
    """
    check_positive_int("images_per_class", images_per_class)
    check_positive_int("image_size", image_size)
    directory = pathlib.Path(directory)
    with _staging_folder(directory) as staging:
        for label, class_name in enumerate(PLANT_CLASSES):
            (staging / class_name).mkdir()
            for index in range(images_per_class):
                rng = np.random.default_rng([seed, label, index])
                image = _draw_example(class_name, image_size, rng)
                image.save(staging / class_name / f"{class_name}_{index:04d}.png")
    return directory


def write_sentiment_demo(directory, *, num_reviews=3000, seed=0):
    """Writes a generated CSV of short reviews whose sentiment depends on word order.

    Most reviews (about 70%) join two clauses of opposite sentiment with a
    contrast word, as in "The food was not great, but the service was really
    good." (positive); the label is the sentiment of the clause after the
    contrast word. Swapping the clauses keeps the words and flips the label,
    so a bag-of-words model stays near chance on these, while a recurrent
    model can read them. The other reviews are single clauses, with or without
    a negation ("It was not at all bad."). Each clause's sentiment is its
    adjective's, flipped by a negator. Labels are balanced, and the same seed
    writes an identical file.

    The file is written in a temporary sibling folder which is then renamed,
    so `directory` is either complete or absent.

    Args:
        directory: str or path. Folder to create; it must be absent or empty.
        num_reviews: int. Number of reviews (rows). Defaults to `3000`.
        seed: int. Seed of the generator. Defaults to `0`.

    Returns:
        The folder as a `pathlib.Path`, holding `SENTIMENT_DEMO_FILE`
        (`reviews.csv`): a header row `text,label`, then one review a row,
        labelled `negative` or `positive` (`SENTIMENT_CLASSES`).

    Raises:
        DataError: if `directory` exists and is not an empty folder, or an
            option is invalid.

    Example:

    >>> path = write_sentiment_demo("reviews", num_reviews=500)
    >>> data = cnnrnn.data.text.load_text_classification(path / "reviews.csv")
    """
    check_positive_int("num_reviews", num_reviews)
    directory = pathlib.Path(directory)
    with _staging_folder(directory) as staging:
        rng = np.random.default_rng(seed)
        labels = rng.permutation(np.arange(num_reviews) % 2)
        rows = [(_review(label, rng), SENTIMENT_CLASSES[label]) for label in labels]
        with open(
            staging / SENTIMENT_DEMO_FILE, "w", newline="", encoding="utf-8"
        ) as f:
            writer = csv.writer(f, lineterminator="\n")
            writer.writerow(["text", "label"])
            writer.writerows(rows)
    return directory


def write_char_demo(directory, *, num_speeches=1500, seed=0):
    """Writes a generated play-like text for training a character-level model.

    The play is a sequence of speeches separated by blank lines. Each speech
    is a speaker's name in capitals followed by a colon (`ROMEO:`), then one
    to three lines built from a small grammar of determiners, adjectives,
    nouns, verbs and prepositions, plus a few set phrases, each line
    capitalised and ending in ".", "!" or "?". The speaker changes at every
    speech. Its spelling, layout and grammar are easy to learn, and the default
    size (about 120 KB) is small enough to train a char-RNN on a CPU in
    minutes. The same seed writes an identical file.

    The file is written in a temporary sibling folder which is then renamed,
    so `directory` is either complete or absent.

    Args:
        directory: str or path. Folder to create; it must be absent or empty.
        num_speeches: int. Number of speeches. Defaults to `1500`.
        seed: int. Seed of the generator. Defaults to `0`.

    Returns:
        The folder as a `pathlib.Path`, holding `CHAR_DEMO_FILE` (`play.txt`),
        UTF-8 text ending with a newline.

    Raises:
        DataError: if `directory` exists and is not an empty folder, or an
            option is invalid.

    Example:

    >>> path = write_char_demo("play")
    >>> data = cnnrnn.data.chars.load_char_corpus(path / "play.txt")
    """
    check_positive_int("num_speeches", num_speeches)
    directory = pathlib.Path(directory)
    with _staging_folder(directory) as staging:
        rng = np.random.default_rng(seed)
        speeches, speaker = [], None
        for _ in range(num_speeches):
            speaker = _pick(rng, [s for s in _SPEAKERS if s != speaker])
            speeches.append(_speech(speaker, rng))
        (staging / CHAR_DEMO_FILE).write_text(
            "\n".join(speeches), encoding="utf-8", newline="\n"
        )
    return directory


def write_video_demo(
    directory, *, clips_per_class=150, num_frames=20, frame_size=32, seed=0
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
        frame_size: int. Width and height of the square frames; an even number
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
    check_positive_int("frame_size", frame_size)
    if num_frames < 2:
        raise DataError(
            f"Received: num_frames={num_frames!r}. Expected an integer >= 2: "
            "motion needs at least two frames."
        )
    if frame_size < 16 or frame_size % 2:
        raise DataError(
            f"Received: frame_size={frame_size!r}. Expected an even integer >= 16 "
            "(the video encoder needs an even size)."
        )
    directory = pathlib.Path(directory)
    with _staging_folder(directory) as staging:
        for label, class_name in enumerate(VIDEO_CLASSES):
            (staging / class_name).mkdir()
            for index in range(clips_per_class):
                rng = np.random.default_rng([seed, label, index])
                frames = _moving_shape_clip(
                    _VIDEO_DIRECTIONS[class_name], num_frames, frame_size, rng
                )
                _write_mp4(
                    staging / class_name / f"{class_name}_{index:03d}.mp4", frames
                )
    return directory


def write_caption_demo(directory, *, num_scenes=1500, image_size=64, seed=0):
    """Writes generated images of two shapes, each with five captions.

    Each scene shows two objects on a dull, blotchy, noisy background. An
    object is a size (`CAPTION_SIZES`: small, about 14% to 18% of the image
    width across, or large, about 28% to 34%), a colour (`CAPTION_COLOURS`,
    clearly distinct saturated hues with a little jitter) and a shape
    (`CAPTION_SHAPES`: a circle, a square turned by at most 15 degrees, or a
    triangle pointing up). The two objects differ in colour, shape or both.
    They are side by side (the first in the left half, the second in the
    right half) or one above the other (the first in the top half), each at a
    random place inside its half, fully visible and apart from the other.

    With `A` and `B` the first and second object as "size colour shape"
    words, the five captions of a side-by-side scene are "a A to the left of
    a B", "a B to the right of a A", "a A and a B", "a A next to a B" and "on
    the left a A and on the right a B"; those of a stacked scene are "a A
    above a B", "a B below a A", "a A and a B", "a A on top of a B" and "at
    the top a A and at the bottom a B". Captions are lowercase words without
    punctuation.

    The test split holds combinations never seen in training. Of the 66
    unordered pairs of different (colour, shape) kinds, 8 are held out,
    drawn at random from `seed` with no kind in more than two of them, so
    that every kind is still seen in training next to at least 9 others
    (`held_out_caption_pairs(seed)` lists them). `round(0.15 * num_scenes)`
    scenes, at random places in the numbering, form the test split; they
    show the held-out pairs in turn, each in a random order, arrangement and
    sizes. All other scenes show only the other 58 pairs; about 10% of them
    form the validation split, the rest the training split. So a model that
    captions the test scenes right has composed known words in a new way.
    The same seed writes identical files.

    The set is written to a temporary sibling folder and then renamed, so
    `directory` is either complete or absent.

    Args:
        directory: str or path. Folder to create; it must be absent or empty.
        num_scenes: int. Number of images. Defaults to `1500`.
        image_size: int, at least 32. Width and height of the square images.
            Defaults to `64`.
        seed: int. Seed of the generator. Defaults to `0`.

    Returns:
        The folder as a `pathlib.Path`, holding RGB PNG images
        `images/scene_<index:04d>.png` and `CAPTION_DEMO_FILE`
        (`captions.csv`): a header row `image,caption,split`, then five rows
        a scene, with the image's path relative to the folder, one caption,
        and the scene's split (`train`, `validation` or `test`).

    Raises:
        DataError: if `directory` exists and is not an empty folder, or an
            option is invalid.

    Example:

    >>> path = write_caption_demo("scenes", num_scenes=200)
    >>> with open(path / "captions.csv", newline="") as f:
    ...     row = next(csv.DictReader(f))
    >>> row["image"], row["split"]
    ('images/scene_0000.png', 'train')
    >>> row["caption"]
    'a large blue square to the left of a large green circle'
    """
    check_positive_int("num_scenes", num_scenes)
    check_positive_int("image_size", image_size)
    if image_size < 32:
        raise DataError(
            f"Received: image_size={image_size!r}. Expected an integer >= 32, "
            "so that small objects stay recognisable."
        )
    held_out = held_out_caption_pairs(seed)
    held_out_set = set(held_out)
    seen = [pair for pair in _caption_pairs() if pair not in held_out_set]
    split_rng = np.random.default_rng([seed, 2])
    order = split_rng.permutation(num_scenes)
    num_test = round(0.15 * num_scenes)
    num_validation = round(0.1 * (num_scenes - num_test))
    splits = np.array(["train"] * num_scenes, dtype=object)
    splits[order[:num_test]] = "test"
    splits[order[num_test : num_test + num_validation]] = "validation"

    directory = pathlib.Path(directory)
    with _staging_folder(directory) as staging:
        (staging / "images").mkdir()
        rows, num_shown = [], 0
        for index in range(num_scenes):
            rng = np.random.default_rng([seed, 3, index])
            if splits[index] == "test":
                pair = held_out[num_shown % len(held_out)]
                num_shown += 1
            else:
                pair = _pick(rng, seen)
            kinds = [kind.split() for kind in pair]
            if rng.random() < 0.5:
                kinds.reverse()
            objects = [(_pick(rng, CAPTION_SIZES), *kind) for kind in kinds]
            arrangement = _pick(rng, tuple(_CAPTION_TEMPLATES))
            image = _draw_caption_scene(objects, arrangement, image_size, rng)
            name = f"images/scene_{index:04d}.png"
            image.save(staging / name)
            rows += [
                (name, caption, splits[index])
                for caption in _scene_captions(objects, arrangement)
            ]
        with open(staging / CAPTION_DEMO_FILE, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f, lineterminator="\n")
            writer.writerow(["image", "caption", "split"])
            writer.writerows(rows)
    return directory


def held_out_caption_pairs(seed=0):
    """Returns the object pairs that `write_caption_demo` shows only in its test split.

    Args:
        seed: int. Seed given to `write_caption_demo`. Defaults to `0`.

    Returns:
        A sorted list of 8 sorted pairs of "colour shape" strings, such as
        `("blue circle", "red square")`. No kind is in more than two pairs.

    Example:

    >>> held_out_caption_pairs(seed=0)[0]
    ('blue circle', 'green square')
    """
    rng = np.random.default_rng([seed, 1])
    pairs = _caption_pairs()
    held_out, uses = [], dict.fromkeys(_caption_kinds(), 0)
    # Greedy choice in a random order. It never gets stuck: with fewer than 8
    # pairs, at least 5 kinds are in fewer than two pairs, and they cannot all
    # be paired with each other already.
    for index in rng.permutation(len(pairs)):
        pair = pairs[index]
        if all(uses[kind] < _MAX_HELD_OUT_PER_KIND for kind in pair):
            held_out.append(pair)
            for kind in pair:
                uses[kind] += 1
            if len(held_out) == _NUM_HELD_OUT_PAIRS:
                break
    return sorted(held_out)


def demo_data_dir(app_name):
    """Returns where the demo data of `app_name` is cached.

    Args:
        app_name: str. Application name, e.g. `"plant-classifier"`.

    Returns:
        `$CNNRNN_HOME/demo/<app_name>` as a `pathlib.Path`; `CNNRNN_HOME`
        defaults to `~/.cache/cnnrnn`.
    """
    home = os.environ.get("CNNRNN_HOME") or "~/.cache/cnnrnn"
    return pathlib.Path(home).expanduser() / "demo" / app_name


def ensure_demo_data(app_name, writer):
    """Returns the cached demo data of `app_name`, writing it on first use.

    Args:
        app_name: str. Application name, e.g. `"plant-classifier"`.
        writer: callable taking the folder to write, e.g. `write_plant_demo`.
            Called only when the folder is absent. Processes that call this
            at the same time all get the data (it is written to a temporary
            folder and renamed into place).

    Returns:
        The folder, `demo_data_dir(app_name)`.

    Example:

    >>> path = ensure_demo_data("plant-classifier", write_plant_demo)
    """
    path = demo_data_dir(app_name)
    if not path.exists():
        try:
            writer(path)
        except (OSError, DataError):
            if not path.exists():
                raise
            # Another process (say, a second worker) wrote the same data first.
    return path


@contextlib.contextmanager
def _staging_folder(directory):
    """Yields a temporary sibling of `directory`, renamed to it on success.

    Raises `DataError` first if `directory` exists and is not an empty folder
    (an empty one is replaced). On failure the temporary folder is removed.
    """
    if directory.exists():
        if not directory.is_dir() or any(directory.iterdir()):
            raise DataError(
                f"Demo folder '{directory}' already exists and is not empty: "
                "choose a new folder or remove this one."
            )
        directory.rmdir()
    directory.parent.mkdir(parents=True, exist_ok=True)
    staging = pathlib.Path(
        tempfile.mkdtemp(prefix=f".{directory.name}-", dir=directory.parent)
    )
    staging.chmod(0o755)  # mkdtemp makes it owner-only; demo data is not secret
    try:
        yield staging
        os.rename(staging, directory)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _draw_example(class_name, size, rng):
    """One RGB image of size `size` showing a leaf of class `class_name`."""
    image = Image.fromarray(_background(size, rng))
    big = size * _SUPERSAMPLE
    # The leaf is drawn large on a transparent layer, then pasted down-sampled.
    layer = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    leaf_colour = _hsv(
        rng.uniform(0.12, 0.36), rng.uniform(0.45, 0.95), rng.uniform(0.5, 0.95)
    )
    vein_colour = tuple(int(c * rng.uniform(0.6, 0.8)) for c in leaf_colour)
    outline, veins, base = _LEAF_SHAPES[class_name](rng)
    stalk = np.array([[0.0, base], [0.0, base - rng.uniform(0.15, 0.35)]])

    length = big * rng.uniform(0.34, 0.44)
    angle = rng.uniform(0, 2 * np.pi)
    rotation = np.array(
        [[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]]
    )
    centre = big / 2 + rng.uniform(-0.12, 0.12, size=2) * big

    def to_pixels(points):
        return [tuple(p) for p in (points * length) @ rotation.T + centre]

    width = max(1, round(big * 0.02))
    draw.line(to_pixels(stalk), fill=vein_colour + (255,), width=width)
    draw.polygon(to_pixels(outline), fill=leaf_colour + (255,))
    for vein in veins:
        draw.line(to_pixels(vein), fill=vein_colour + (255,), width=width)
    layer = layer.resize((size, size), Image.Resampling.BOX)
    image.paste(layer, (0, 0), layer)

    pixels = np.asarray(image, np.float32)
    pixels += rng.normal(0, rng.uniform(3, 8), pixels.shape)
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def _background(size, rng, twigs=True):
    """A blotchy, dull-coloured background, with a few twigs if `twigs`."""
    colours = np.array(
        [
            _hsv(rng.uniform(0, 1), rng.uniform(0.05, 0.4), rng.uniform(0.15, 0.6))
            for _ in range(2)
        ],
        np.float32,
    )
    grid = rng.uniform(0, 1, (rng.integers(3, 8),) * 2).astype(np.float32)
    blend = np.asarray(
        Image.fromarray(grid).resize((size, size), Image.Resampling.BICUBIC)
    ).clip(0, 1)[..., None]
    pixels = colours[0] * blend + colours[1] * (1 - blend)
    image = Image.fromarray(pixels.astype(np.uint8))
    if not twigs:
        return np.asarray(image)
    draw = ImageDraw.Draw(image)
    for _ in range(rng.integers(0, 3)):
        start, end = rng.uniform(0, size, (2, 2))
        twig = _hsv(
            rng.uniform(0.05, 0.12), rng.uniform(0.2, 0.6), rng.uniform(0.2, 0.5)
        )
        draw.line([tuple(start), tuple(end)], fill=twig, width=1)
    return np.asarray(image)


def _hsv(hue, saturation, value):
    return tuple(int(255 * c) for c in colorsys.hsv_to_rgb(hue, saturation, value))


def _moving_shape_clip(direction, num_frames, size, rng):
    """uint8 frames `(num_frames, size, size, 3)` of a shape moving in `direction`.

    The shape is drawn analytically with an anti-aliased edge, at sub-pixel
    positions, on a torus (distances wrap around the frame's edges).
    """
    background = _background(size, rng).astype(np.float32)
    background += rng.normal(0, 4, background.shape)
    colour = np.array(
        _hsv(rng.uniform(0, 1), rng.uniform(0.75, 1), rng.uniform(0.75, 1)),
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


# Caption scenes: two objects, each (size, colour, shape).

_CAPTION_TEMPLATES = {
    "horizontal": (
        "a {A} to the left of a {B}",
        "a {B} to the right of a {A}",
        "a {A} and a {B}",
        "a {A} next to a {B}",
        "on the left a {A} and on the right a {B}",
    ),
    "vertical": (
        "a {A} above a {B}",
        "a {B} below a {A}",
        "a {A} and a {B}",
        "a {A} on top of a {B}",
        "at the top a {A} and at the bottom a {B}",
    ),
}
_CAPTION_HUES = {"red": 0.0, "green": 1 / 3, "blue": 2 / 3, "yellow": 1 / 6}
# Width across of an object, as a fraction of the image width.
_CAPTION_WIDTHS = {"small": (0.14, 0.18), "large": (0.28, 0.34)}
_NUM_HELD_OUT_PAIRS = 8
_MAX_HELD_OUT_PER_KIND = 2


def _caption_kinds():
    """The 12 "colour shape" kinds, in a fixed order."""
    return [
        f"{colour} {shape}"
        for colour, shape in itertools.product(CAPTION_COLOURS, CAPTION_SHAPES)
    ]


def _caption_pairs():
    """The 66 sorted pairs of different kinds, in a fixed order."""
    return [tuple(sorted(pair)) for pair in itertools.combinations(_caption_kinds(), 2)]


def _scene_captions(objects, arrangement):
    """The five captions of a scene; `objects` are two (size, colour, shape)."""
    first, second = (" ".join(words) for words in objects)
    return [
        template.format(A=first, B=second)
        for template in _CAPTION_TEMPLATES[arrangement]
    ]


def _draw_caption_scene(objects, arrangement, size, rng):
    """One RGB image of size `size` showing two objects, each (size, colour, shape).

    The first object is in the left half (`arrangement="horizontal"`) or the
    top half (`"vertical"`) and the second in the other half, each at least
    3% of the image width away from the image's edges and 2% from the middle
    line, so both are fully visible and apart.
    """
    image = Image.fromarray(_background(size, rng, twigs=False))
    big = size * _SUPERSAMPLE
    layer = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    edge, gap = 0.03 * big, 0.02 * big
    for half, (size_word, colour, shape) in enumerate(objects):
        radius = big * rng.uniform(*_CAPTION_WIDTHS[size_word]) / 2
        # Along the split axis the object stays in its half; across, anywhere.
        low = half * big / 2 + (gap if half else edge) + radius
        high = (half + 1) * big / 2 - (edge if half else gap) - radius
        along = rng.uniform(low, high)
        across = rng.uniform(edge + radius, big - edge - radius)
        x, y = (along, across) if arrangement == "horizontal" else (across, along)
        hue = _CAPTION_HUES[colour] + rng.uniform(-0.02, 0.02)
        fill = _hsv(hue % 1, rng.uniform(0.8, 1), rng.uniform(0.8, 1)) + (255,)
        if shape == "circle":
            draw.ellipse([x - radius, y - radius, x + radius, y + radius], fill=fill)
        elif shape == "square":
            # Turned by up to 15 degrees, its bounding box still 2 * radius wide.
            angle = rng.uniform(-np.pi / 12, np.pi / 12)
            half_side = radius / (np.cos(angle) + abs(np.sin(angle)))
            corners = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]]) * half_side
            rotation = np.array(
                [[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]]
            )
            points = corners @ rotation.T + [x, y]
            draw.polygon([tuple(p) for p in points], fill=fill)
        else:  # a triangle pointing up, as wide as it is tall
            points = [
                (x, y - radius),
                (x + radius, y + radius),
                (x - radius, y + radius),
            ]
            draw.polygon(points, fill=fill)
    layer = layer.resize((size, size), Image.Resampling.BOX)
    image.paste(layer, (0, 0), layer)

    pixels = np.asarray(image, np.float32)
    pixels += rng.normal(0, rng.uniform(2, 6), pixels.shape)
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


# Leaf shapes in leaf coordinates, tip towards +y, spanning about -1 to 1. Each
# returns the outline polygon, a list of vein polylines, and where the stalk
# joins the leaf (its y coordinate on the x = 0 axis).


def _profile_leaf(half_width, rng, pairs):
    """A leaf from its half width along y: outline, midrib and `pairs` vein pairs."""
    y = np.linspace(-1, 1, 60)
    right = np.stack([half_width(y), y], axis=1)
    outline = np.concatenate([right, right[::-1] * [-1, 1]])
    veins = [np.array([[0.0, -1.0], [0.0, 0.9]])]
    for y in np.linspace(-0.6, 0.4, pairs):
        rise = rng.uniform(0.2, 0.4)
        reach = 0.8 * half_width(y + rise)
        veins += [np.array([[0.0, y], [side * reach, y + rise]]) for side in (-1, 1)]
    return outline, veins, -1.0


def _oval(rng):
    width = rng.uniform(0.35, 0.5)
    tip = rng.uniform(0.0, 0.3)

    def half_width(y):
        return width * np.sqrt(1 - y**2) * (1 - tip * np.clip(y, 0, 1) ** 2)

    return _profile_leaf(half_width, rng, pairs=rng.integers(3, 5))


def _needle(rng):
    width = rng.uniform(0.13, 0.2)

    def half_width(y):
        return width * (1 - y**2) ** 1.2 * (1.2 - 0.2 * y)

    return _profile_leaf(half_width, rng, pairs=0)


def _heart(rng):
    t = np.linspace(0, 2 * np.pi, 120, endpoint=False)
    x = 16 * np.sin(t) ** 3
    # The classic heart curve points down: negate y so the tip points up.
    y = -(13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t))
    scale = 2 / np.ptp(y)
    outline = np.stack([x * scale * rng.uniform(0.9, 1.05), (y - y.min()) * scale - 1])
    outline = outline.T
    notch = outline[0, 1]  # t = 0: the dent between the two lobes
    veins = [np.array([[0.0, notch], [0.0, 0.9]])]
    for side in (-1, 1):
        for reach in (0.45, 0.65):
            veins.append(np.array([[0.0, notch], [side * reach, notch + reach]]))
    return outline, veins, notch


def _maple(rng):
    lobes = rng.choice([5, 7])
    depth = rng.uniform(0.35, 0.5)
    theta = np.linspace(0, 2 * np.pi, 240, endpoint=False)
    # Lobes peak where cos(lobes * theta / 2) = +-1, the first one at the tip.
    radius = (
        1 - depth + depth * np.abs(np.cos(lobes * theta / 2)) ** rng.uniform(1.5, 3)
    )
    # Pull in the bottom of the leaf, where the stalk joins it.
    radius *= 1 - 0.5 * np.exp(-(((theta - np.pi) / 0.5) ** 2))
    base = -radius[len(theta) // 2]
    outline = np.stack([radius * np.sin(theta), radius * np.cos(theta)], axis=1)
    peaks = 2 * np.pi * np.arange(lobes) / lobes
    veins = [
        np.array([[0.0, base], [0.0, 0.0], [0.85 * np.sin(a), 0.85 * np.cos(a)]])
        for a in peaks
        if abs(a - np.pi) > 0.6
    ]
    return outline, veins, base


_LEAF_SHAPES = {"heart": _heart, "maple": _maple, "needle": _needle, "oval": _oval}


# Sentiment reviews. Every choice below is drawn independently of the label,
# except the adjective's polarity, which is set so that the clause has the
# sentiment wanted (flipped when the clause is negated). Both clauses of a
# two-clause review are drawn from the same templates, so a review and its
# swapped twin (same words, opposite label) are equally likely.

_ASPECTS = (
    "food", "service", "plot", "acting", "battery", "screen", "staff", "price",
    "sound", "camera", "delivery", "ending", "music", "room", "design", "keyboard",
)  # fmt: skip
_ADJECTIVES = (
    (
        "bad", "terrible", "awful", "poor", "disappointing",
        "boring", "dull", "horrible", "mediocre", "weak",
    ),
    (
        "good", "great", "excellent", "wonderful", "amazing",
        "pleasant", "solid", "impressive", "fantastic", "lovely",
    ),
)  # fmt: skip
_NEGATORS = ("not", "never", "hardly", "far from", "not at all")
_INTENSIFIERS = ("", "", "", "really", "very", "quite", "so", "truly", "rather")
_CLAUSES = (
    "the {aspect} was {predicate}",
    "the {aspect} is {predicate}",
    "the {aspect} felt {predicate}",
    "the {aspect} seemed {predicate}",
    "i found the {aspect} {predicate}",
    "the {aspect} turned out {predicate}",
)
_SINGLE_CLAUSES = _CLAUSES + (
    "it was {predicate}",
    "this one is {predicate}",
    "the whole thing was {predicate}",
)
_CONTRASTS = (
    ", but", " but", ", yet", "; yet", ", though in the end", ". however,",
    ", and yet", ". still,", ", although in the end", " - but then again,",
)  # fmt: skip
_OPENINGS = ("", "", "", "honestly, ", "to be fair, ", "well, ", "i must say ")
_ENDINGS = (".", ".", ".", "!", "...", " overall.", " to be honest.", "")
# Share of reviews with two clauses joined by a contrast word.
_TWO_CLAUSE_SHARE = 0.7


def _pick(rng, choices):
    return choices[rng.integers(len(choices))]


def _clause(sentiment, templates, rng):
    """A clause of the given sentiment (0 negative, 1 positive)."""
    negated = rng.random() < 0.5
    words = [_pick(rng, _NEGATORS)] if negated else []
    words += [_pick(rng, _INTENSIFIERS), _pick(rng, _ADJECTIVES[sentiment ^ negated])]
    predicate = " ".join(word for word in words if word)
    return _pick(rng, templates).format(
        aspect=_pick(rng, _ASPECTS), predicate=predicate
    )


def _review(label, rng):
    """One review text whose sentiment is `label` (0 negative, 1 positive)."""
    if rng.random() < _TWO_CLAUSE_SHARE:
        first = _clause(1 - label, _CLAUSES, rng)
        body = f"{first}{_pick(rng, _CONTRASTS)} {_clause(label, _CLAUSES, rng)}"
    else:
        body = _clause(label, _SINGLE_CLAUSES, rng)
    text = f"{_pick(rng, _OPENINGS)}{body}{_pick(rng, _ENDINGS)}"
    return text[0].upper() + text[1:]


# Play speeches for the character-level demo.

_SPEAKERS = ("ROMEO", "JULIET", "HAMLET", "OPHELIA", "MACBETH", "PORTIA")
_DETERMINERS = ("the", "the", "my", "thy", "our", "this", "yon")
_PLAY_ADJECTIVES = (
    "gentle", "quiet", "sweet", "noble", "fair", "cruel", "bright", "dark",
    "proud", "silent", "golden", "bitter", "weary", "wild", "tender",
)  # fmt: skip
_NOUNS = (
    "moon", "sea", "heart", "night", "king", "lady", "sword", "rose", "star",
    "friend", "crown", "storm", "garden", "tower", "soul", "dream", "river",
    "castle", "heaven", "grave",
)  # fmt: skip
_VERBS = (
    "shine", "weep", "sleep", "burn", "fade", "sing", "wait", "call", "fall",
    "rise", "tremble", "wander", "dream", "speak", "mourn",
)  # fmt: skip
_PREPOSITIONS = ("upon", "beneath", "beside", "within", "for", "against")
_LINES = (
    "{det} {adj} {noun} doth {verb} {prep} {det2} {adj2} {noun2}.",
    "{det} {noun} doth {verb} {prep} {det2} {noun2}!",
    "{det} {adj} {noun} shall {verb} no more.",
    "why doth {det} {adj} {noun} {verb}?",
    "o {adj} {noun}, {verb} {prep} {det2} {noun2}!",
    "canst thou {verb} {prep} {det} {adj} {noun}?",
    "good night, sweet {noun}, and fare thee well!",
    "alas, the night is long.",
    "what say you?",
    "i pray thee, stay a while.",
)


def _speech(speaker, rng):
    """One speech: the speaker's line, then one to three verse lines."""
    lines = [f"{speaker}:"]
    for _ in range(rng.integers(1, 4)):
        line = _pick(rng, _LINES).format(
            det=_pick(rng, _DETERMINERS),
            adj=_pick(rng, _PLAY_ADJECTIVES),
            noun=_pick(rng, _NOUNS),
            verb=_pick(rng, _VERBS),
            prep=_pick(rng, _PREPOSITIONS),
            det2=_pick(rng, _DETERMINERS),
            adj2=_pick(rng, _PLAY_ADJECTIVES),
            noun2=_pick(rng, _NOUNS),
        )
        lines.append(line[0].upper() + line[1:])
    return "\n".join(lines) + "\n"
