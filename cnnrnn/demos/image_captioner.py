"""Demo data of the image captioner: scenes of two shapes, five captions each."""

import csv
import itertools
import pathlib

import numpy as np
from PIL import Image, ImageDraw

from cnnrnn.data.options import check_positive_int
from cnnrnn.demos.common import (
    SUPERSAMPLE,
    draw_background,
    hsv,
    pick,
    staging_folder,
)
from cnnrnn.errors import DataError

CAPTION_DEMO_FILE = "captions.csv"
CAPTION_COLOURS = ("red", "green", "blue", "yellow")
CAPTION_SHAPES = ("circle", "square", "triangle")
CAPTION_SIZES = ("small", "large")


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
    with staging_folder(directory) as staging:
        (staging / "images").mkdir()
        rows, num_shown = [], 0
        for index in range(num_scenes):
            rng = np.random.default_rng([seed, 3, index])
            if splits[index] == "test":
                pair = held_out[num_shown % len(held_out)]
                num_shown += 1
            else:
                pair = pick(rng, seen)
            kinds = [kind.split() for kind in pair]
            if rng.random() < 0.5:
                kinds.reverse()
            objects = [(pick(rng, CAPTION_SIZES), *kind) for kind in kinds]
            arrangement = pick(rng, tuple(_CAPTION_TEMPLATES))
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
    image = Image.fromarray(draw_background(size, rng, twigs=False))
    big = size * SUPERSAMPLE
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
        fill = hsv(hue % 1, rng.uniform(0.8, 1), rng.uniform(0.8, 1)) + (255,)
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
