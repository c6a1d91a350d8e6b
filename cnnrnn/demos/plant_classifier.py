"""Demo data of the plant classifier: drawn leaves of four shapes, a folder each."""

import pathlib

import numpy as np
from PIL import Image, ImageDraw

from cnnrnn.data.options import check_positive_int
from cnnrnn.demos.common import SUPERSAMPLE, draw_background, hsv, staging_folder

PLANT_CLASSES = ("heart", "maple", "needle", "oval")


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
    with staging_folder(directory) as staging:
        for label, class_name in enumerate(PLANT_CLASSES):
            (staging / class_name).mkdir()
            for index in range(images_per_class):
                rng = np.random.default_rng([seed, label, index])
                image = _draw_example(class_name, image_size, rng)
                image.save(staging / class_name / f"{class_name}_{index:04d}.png")
    return directory


def _draw_example(class_name, size, rng):
    """One RGB image of size `size` showing a leaf of class `class_name`."""
    image = Image.fromarray(draw_background(size, rng))
    big = size * SUPERSAMPLE
    # The leaf is drawn large on a transparent layer, then pasted down-sampled.
    layer = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    leaf_colour = hsv(
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
