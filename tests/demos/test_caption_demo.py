"""The demo data of `cnnrnn.demos.image_captioner`."""

import csv
import pathlib
import re

import numpy as np
import pytest
from PIL import Image

from cnnrnn.demos import image_captioner as demo
from cnnrnn.demos.image_captioner import (
    CAPTION_COLOURS,
    CAPTION_DEMO_FILE,
    CAPTION_SHAPES,
    CAPTION_SIZES,
    held_out_caption_pairs,
    write_caption_demo,
)
from cnnrnn.errors import DataError

CAPTION_OBJECT = r"(small|large) (red|green|blue|yellow) (circle|square|triangle)"
CAPTION_TEMPLATES = {
    "horizontal": [
        "a {A} to the left of a {B}",
        "a {B} to the right of a {A}",
        "a {A} and a {B}",
        "a {A} next to a {B}",
        "on the left a {A} and on the right a {B}",
    ],
    "vertical": [
        "a {A} above a {B}",
        "a {B} below a {A}",
        "a {A} and a {B}",
        "a {A} on top of a {B}",
        "at the top a {A} and at the bottom a {B}",
    ],
}
# Saturated reference colour of each name, to tell which one a mean colour is.
NAMED_COLOURS = {
    "red": (255, 0, 0),
    "green": (0, 255, 0),
    "blue": (0, 0, 255),
    "yellow": (255, 255, 0),
}


def read_captions(directory):
    with open(directory / CAPTION_DEMO_FILE, newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


def caption_scenes(rows):
    """{image: (split, [five captions])} from the CSV rows after the header."""
    scenes = {}
    for image, caption, split in rows:
        scenes.setdefault(image, (split, []))[1].append(caption)
        assert scenes[image][0] == split, image
    return scenes


def scene_objects(captions):
    """The two objects (size, colour, shape) of a scene, from "a {A} and a {B}"."""
    match = re.fullmatch(f"a {CAPTION_OBJECT} and a {CAPTION_OBJECT}", captions[2])
    assert match, captions
    words = match.groups()
    return words[:3], words[3:]


@pytest.fixture(scope="module")
def caption_demo(tmp_path_factory):
    return write_caption_demo(
        tmp_path_factory.mktemp("captions") / "scenes", num_scenes=40, image_size=32
    )


def test_caption_demo_writes_images_and_five_captions_each(caption_demo):
    assert sorted(p.name for p in caption_demo.iterdir()) == [
        CAPTION_DEMO_FILE,
        "images",
    ]
    names = sorted(p.name for p in (caption_demo / "images").iterdir())
    assert names == [f"scene_{i:04d}.png" for i in range(40)]
    rows = read_captions(caption_demo)
    assert rows[0] == ["image", "caption", "split"] and len(rows) == 1 + 5 * 40
    assert [row[0] for row in rows[1::5]] == [f"images/{name}" for name in names]
    scenes = caption_scenes(rows[1:])
    assert all(len(captions) == 5 for _, captions in scenes.values())
    for image in scenes:
        with Image.open(caption_demo / image) as picture:
            assert picture.mode == "RGB" and picture.size == (32, 32)
            assert np.ptp(np.asarray(picture)) > 100


def test_caption_demo_is_deterministic(tmp_path):
    def all_bytes(directory):
        return {
            p.relative_to(directory): p.read_bytes()
            for p in sorted(directory.rglob("*"))
            if p.is_file()
        }

    options = {"num_scenes": 12, "image_size": 32}
    first = all_bytes(write_caption_demo(tmp_path / "a", **options))
    assert len(first) == 13
    assert all_bytes(write_caption_demo(tmp_path / "b", **options)) == first
    other = all_bytes(write_caption_demo(tmp_path / "c", **options, seed=1))
    assert other.keys() == first.keys()
    assert (
        other[pathlib.Path(CAPTION_DEMO_FILE)] != first[pathlib.Path(CAPTION_DEMO_FILE)]
    )
    assert all(other[name] != first[name] for name in first)


def test_caption_demo_captions_follow_the_templates(caption_demo):
    scenes = caption_scenes(read_captions(caption_demo)[1:])
    arrangements, sizes = set(), set()
    for captions in (captions for _, captions in scenes.values()):
        assert all(re.fullmatch("[a-z]+( [a-z]+)*", c) for c in captions), captions
        first, second = scene_objects(captions)
        assert first[1:] != second[1:], captions  # colour or shape differs
        names = {"A": " ".join(first), "B": " ".join(second)}
        matching = [
            arrangement
            for arrangement, templates in CAPTION_TEMPLATES.items()
            if captions == [template.format(**names) for template in templates]
        ]
        assert len(matching) == 1, captions
        arrangements.add(matching[0])
        sizes |= {first[0], second[0]}
    assert arrangements == set(CAPTION_TEMPLATES)
    assert sizes == set(CAPTION_SIZES)
    # The test's patterns spell the same words as the module's constants.
    assert CAPTION_OBJECT == "({}) ({}) ({})".format(
        *("|".join(words) for words in (CAPTION_SIZES, CAPTION_COLOURS, CAPTION_SHAPES))
    )


def test_caption_demo_shows_held_out_pairs_only_in_the_test_split(caption_demo):
    held_out = set(held_out_caption_pairs())
    scenes = caption_scenes(read_captions(caption_demo)[1:])
    splits = {"train": 0, "validation": 0, "test": 0}
    for split, captions in scenes.values():
        splits[split] += 1
        pair = tuple(sorted(" ".join(obj[1:]) for obj in scene_objects(captions)))
        assert (pair in held_out) == (split == "test"), (split, captions)
    # round(0.15 * 40) test scenes, then round(0.1 * 34) validation scenes.
    assert splits == {"train": 31, "validation": 3, "test": 6}


def test_caption_demo_test_split_shows_every_held_out_pair_in_both_orders(tmp_path):
    path = write_caption_demo(tmp_path / "scenes", num_scenes=200, image_size=32)
    scenes = caption_scenes(read_captions(path)[1:])
    splits = [split for split, _ in scenes.values()]
    # round(0.15 * 200) test scenes, then round(0.1 * 170) validation scenes.
    counts = {name: splits.count(name) for name in ("train", "validation", "test")}
    assert counts == {"train": 153, "validation": 17, "test": 30}
    tested = [
        tuple(" ".join(obj[1:]) for obj in scene_objects(captions))
        for split, captions in scenes.values()
        if split == "test"
    ]
    held_out = held_out_caption_pairs()
    unordered = [tuple(sorted(pair)) for pair in tested]
    # The held-out pairs take turns, so each one is tested about as often.
    assert {unordered.count(pair) for pair in held_out} <= {3, 4}
    assert len(set(tested)) > len(held_out)  # both orders of some pairs
    # Test scenes are spread over the numbering, not gathered at one end.
    test_images = [image for image, (split, _) in scenes.items() if split == "test"]
    assert test_images[0] < "images/scene_0050.png" < test_images[-1]


def test_held_out_caption_pairs_leave_every_kind_several_training_partners():
    kinds = {f"{c} {s}" for c in CAPTION_COLOURS for s in CAPTION_SHAPES}
    assert held_out_caption_pairs() == held_out_caption_pairs(seed=0)
    assert held_out_caption_pairs(seed=0) != held_out_caption_pairs(seed=1)
    for seed in range(20):
        pairs = held_out_caption_pairs(seed)
        assert len(pairs) == len(set(pairs)) == 8 and pairs == sorted(pairs)
        for pair in pairs:
            assert pair == tuple(sorted(pair)) and pair[0] != pair[1]
            assert set(pair) <= kinds
        for kind in kinds:
            held_partners = sum(kind in pair for pair in pairs)
            assert len(kinds) - 1 - held_partners >= 9, (seed, kind)


def test_caption_scene_draws_named_colours_sizes_and_shapes_in_their_halves():
    size = 64
    half = size // 2
    for index, (colour, shape) in enumerate(
        (c, s) for c in CAPTION_COLOURS for s in CAPTION_SHAPES
    ):
        other = ("small", "blue" if colour != "blue" else "red", "circle")
        for arrangement in CAPTION_TEMPLATES:
            objects = [("large", colour, shape), other]
            rng = np.random.default_rng(index)
            image = demo._draw_caption_scene(objects, arrangement, size, rng)
            pixels = np.asarray(image).astype(int)
            saturated = pixels.max(axis=-1) - pixels.min(axis=-1) > 120
            # Both objects fully visible: nothing saturated on the image's edge.
            assert not saturated[[0, -1]].any() and not saturated[:, [0, -1]].any()
            if arrangement == "horizontal":
                halves = [np.s_[:, :half], np.s_[:, half:]]
            else:
                halves = [np.s_[:half], np.s_[half:]]
            for (size_word, name, drawn_shape), where in zip(
                objects, halves, strict=True
            ):
                mask = saturated[where]
                mean = pixels[where][mask].mean(axis=0)
                nearest = min(
                    NAMED_COLOURS,
                    key=lambda n: np.linalg.norm(mean - NAMED_COLOURS[n]),
                )
                assert nearest == name, (objects, arrangement, mean)
                rows, columns = np.nonzero(mask)
                width = np.ptp(columns) + 1
                expected = {"small": (0.14, 0.18), "large": (0.28, 0.34)}
                low, high = (size * f for f in expected[size_word])
                assert low - 2 <= width <= high + 2, (objects, arrangement, width)
                box = mask[rows.min() : rows.max() + 1, columns.min() :][:, :width]
                fill = box.mean()
                if drawn_shape == "triangle":
                    third = len(box) // 3
                    assert fill < 0.62 and box[:third].sum() < box[-third:].sum()
                else:
                    assert fill > 0.65, (objects, arrangement, fill)


def test_caption_demo_refuses_bad_options_and_non_empty_folder_and_cleans_up(
    tmp_path, monkeypatch
):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    with pytest.raises(DataError, match="already exists and is not empty"):
        write_caption_demo(tmp_path / "full", num_scenes=2, image_size=32)
    assert [p.name for p in (tmp_path / "full").iterdir()] == ["keep.txt"]
    for option, value in [
        ("num_scenes", 0),
        ("num_scenes", 2.5),
        ("image_size", 31),
        ("image_size", 0),
        ("image_size", True),
    ]:
        options = {"num_scenes": 2, "image_size": 32, option: value}
        with pytest.raises(DataError, match=f"Received: {option}={value}"):
            write_caption_demo(tmp_path / "bad", **options)

    def fail(*args):
        raise RuntimeError("disk full")

    monkeypatch.setattr(demo, "_draw_caption_scene", fail)
    with pytest.raises(RuntimeError):
        write_caption_demo(tmp_path / "failed", num_scenes=2, image_size=32)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["full"]
