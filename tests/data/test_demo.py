import csv
import pathlib
import re

import av
import numpy as np
import pytest
from PIL import Image

from cnnrnn.data import demo
from cnnrnn.data.chars import load_char_corpus
from cnnrnn.data.demo import (
    CAPTION_COLOURS,
    CAPTION_DEMO_FILE,
    CAPTION_SHAPES,
    CAPTION_SIZES,
    CHAR_DEMO_FILE,
    PLANT_CLASSES,
    SENTIMENT_CLASSES,
    SENTIMENT_DEMO_FILE,
    VIDEO_CLASSES,
    demo_data_dir,
    ensure_demo_data,
    held_out_caption_pairs,
    write_caption_demo,
    write_char_demo,
    write_plant_demo,
    write_sentiment_demo,
    write_video_demo,
)
from cnnrnn.data.images import load_image_folder
from cnnrnn.data.text import load_text_classification
from cnnrnn.data.video import load_video_folder
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


def test_demo_data_dir_uses_cnnrnn_home_or_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CNNRNN_HOME", str(tmp_path))
    assert demo_data_dir("plant-classifier") == tmp_path / "demo" / "plant-classifier"
    monkeypatch.delenv("CNNRNN_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    expected = tmp_path / "home" / ".cache" / "cnnrnn" / "demo" / "x"
    assert demo_data_dir("x") == expected


def test_ensure_demo_data_writes_once(tmp_path, monkeypatch):
    monkeypatch.setenv("CNNRNN_HOME", str(tmp_path))
    calls = []

    def writer(path):
        calls.append(path)
        write_plant_demo(path, images_per_class=1, image_size=16)

    first = ensure_demo_data("plant-classifier", writer)
    second = ensure_demo_data("plant-classifier", writer)
    assert first == second == tmp_path / "demo" / "plant-classifier"
    assert calls == [first]
    assert len(list(first.rglob("*.png"))) == len(PLANT_CLASSES)


def test_ensure_demo_data_when_another_process_wrote_it_first(tmp_path, monkeypatch):
    """Two workers start at once: the slower one's rename fails, its data is there."""
    monkeypatch.setenv("CNNRNN_HOME", str(tmp_path))

    def racing_writer(path):
        write_plant_demo(path, images_per_class=1, image_size=16)  # the other one
        write_plant_demo(path, images_per_class=1, image_size=16)  # this one

    path = ensure_demo_data("plant-classifier", racing_writer)
    assert len(list(path.rglob("*.png"))) == len(PLANT_CLASSES)
    assert [p.name for p in path.parent.iterdir()] == ["plant-classifier"]


def test_ensure_demo_data_reports_a_real_failure(tmp_path, monkeypatch):
    monkeypatch.setenv("CNNRNN_HOME", str(tmp_path))

    def failing_writer(path):
        raise OSError("No space left on device")

    with pytest.raises(OSError, match="No space left"):
        ensure_demo_data("plant-classifier", failing_writer)


def read_reviews(directory):
    with open(directory / SENTIMENT_DEMO_FILE, newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


def clause_sentiment(words):
    """The sentiment (0 or 1) of a clause: its adjective's, flipped by a negator."""
    adjectives = [w for w in words if w in demo._ADJECTIVES[0] + demo._ADJECTIVES[1]]
    assert len(adjectives) == 1, words
    negated = bool({"not", "never", "hardly", "far"} & set(words))
    return int(adjectives[0] in demo._ADJECTIVES[1]) ^ negated


def test_sentiment_demo_is_deterministic_balanced_and_labelled_by_last_clause(
    tmp_path,
):
    path = write_sentiment_demo(tmp_path / "reviews", num_reviews=400)
    assert path == tmp_path / "reviews"
    assert [p.name for p in path.iterdir()] == [SENTIMENT_DEMO_FILE]
    rows = read_reviews(path)
    assert rows[0] == ["text", "label"] and len(rows) == 401
    labels = [label for _, label in rows[1:]]
    assert labels.count("negative") == labels.count("positive") == 200
    again = write_sentiment_demo(tmp_path / "again", num_reviews=400)
    other = write_sentiment_demo(tmp_path / "other", num_reviews=400, seed=1)
    content = (path / SENTIMENT_DEMO_FILE).read_bytes()
    assert (again / SENTIMENT_DEMO_FILE).read_bytes() == content
    assert (other / SENTIMENT_DEMO_FILE).read_bytes() != content
    contrasts = {"but", "yet", "however", "still", "end"}
    two_clauses = 0
    for text, label in rows[1:]:
        words = re.findall(r"[a-z]+", text.lower())
        cuts = [i for i, word in enumerate(words) if word in contrasts]
        if cuts:
            two_clauses += 1
            first, last = words[: cuts[0]], words[cuts[-1] + 1 :]
            assert clause_sentiment(first) != clause_sentiment(last), text
        else:
            last = words
        assert SENTIMENT_CLASSES[clause_sentiment(last)] == label, text
    assert 0.6 < two_clauses / 400 < 0.8


def test_sentiment_demo_swapped_clauses_flip_the_label(tmp_path):
    """A bag of words cannot tell a two-clause review from its swapped twin."""
    rng = np.random.default_rng(0)
    flips = 0
    for _ in range(200):
        first = demo._clause(0, demo._CLAUSES, rng)
        second = demo._clause(1, demo._CLAUSES, rng)
        review = f"{first} but {second}"
        twin = f"{second} but {first}"
        assert sorted(review.split()) == sorted(twin.split())
        words = [review.split(), twin.split()]
        cut = [w.index("but") for w in words]
        labels = [clause_sentiment(w[c + 1 :]) for w, c in zip(words, cut, strict=True)]
        flips += labels == [1, 0]
    assert flips == 200


def test_sentiment_demo_default_size_refusal_and_cleanup(tmp_path, monkeypatch):
    rows = read_reviews(write_sentiment_demo(tmp_path / "default"))
    assert len(rows) == 3001
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    with pytest.raises(DataError, match="already exists and is not empty"):
        write_sentiment_demo(tmp_path / "full", num_reviews=2)
    with pytest.raises(DataError, match="Received: num_reviews=0"):
        write_sentiment_demo(tmp_path / "zero", num_reviews=0)

    def fail(*args):
        raise RuntimeError("disk full")

    monkeypatch.setattr(demo, "_review", fail)
    with pytest.raises(RuntimeError):
        write_sentiment_demo(tmp_path / "failed", num_reviews=2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["default", "full"]


def test_sentiment_demo_loads_as_text_classification(tmp_path):
    path = write_sentiment_demo(tmp_path / "reviews", num_reviews=200)
    data = load_text_classification(path / SENTIMENT_DEMO_FILE, batch_size=16)
    assert data.info["class_names"] == list(SENTIMENT_CLASSES)
    assert data.info["num_examples"] == {"train": 140, "validation": 30, "test": 30}
    assert data.info["num_skipped_empty"] == 0
    vocabulary = data.model_args["vocabulary"]
    assert {"but", "not", "good", "bad"} <= set(vocabulary)
    assert "label" not in vocabulary and "text" not in vocabulary
    texts, labels = next(data.train.as_numpy_iterator())
    assert texts.dtype == object and labels.dtype == np.int32


def read_play(directory):
    return (directory / CHAR_DEMO_FILE).read_text(encoding="utf-8")


def test_char_demo_is_deterministic_play_of_speeches(tmp_path):
    path = write_char_demo(tmp_path / "play", num_speeches=300)
    assert path == tmp_path / "play"
    assert [p.name for p in path.iterdir()] == [CHAR_DEMO_FILE]
    content = (path / CHAR_DEMO_FILE).read_bytes()
    again = write_char_demo(tmp_path / "again", num_speeches=300)
    other = write_char_demo(tmp_path / "other", num_speeches=300, seed=1)
    assert (again / CHAR_DEMO_FILE).read_bytes() == content
    assert (other / CHAR_DEMO_FILE).read_bytes() != content
    text = read_play(path)
    assert text.endswith("\n") and not text.endswith("\n\n")
    speeches = text.split("\n\n")
    assert len(speeches) == 300
    speakers = []
    for speech in speeches:
        speaker, *lines = speech.strip("\n").split("\n")
        assert speaker.endswith(":") and speaker[:-1] in demo._SPEAKERS, speech
        assert 1 <= len(lines) <= 3, speech
        for line in lines:
            assert re.fullmatch(r"[A-Z][a-z ,]+[.!?]", line), line
        speakers.append(speaker)
    assert all(a != b for a, b in zip(speakers, speakers[1:], strict=False))
    assert set(speakers) == {f"{name}:" for name in demo._SPEAKERS}


def test_char_demo_default_size_refusal_and_cleanup(tmp_path, monkeypatch):
    size = len((write_char_demo(tmp_path / "default") / CHAR_DEMO_FILE).read_bytes())
    assert 100_000 < size < 150_000
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    with pytest.raises(DataError, match="already exists and is not empty"):
        write_char_demo(tmp_path / "full", num_speeches=2)
    with pytest.raises(DataError, match="Received: num_speeches=0"):
        write_char_demo(tmp_path / "zero", num_speeches=0)

    def fail(*args):
        raise RuntimeError("disk full")

    monkeypatch.setattr(demo, "_speech", fail)
    with pytest.raises(RuntimeError):
        write_char_demo(tmp_path / "failed", num_speeches=2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["default", "full"]


def test_char_demo_loads_as_char_corpus_with_small_vocabulary(tmp_path):
    path = write_char_demo(tmp_path / "play", num_speeches=200)
    data = load_char_corpus(path / CHAR_DEMO_FILE, sequence_length=50)
    vocabulary = data.model_args["vocabulary"]
    assert len(vocabulary) < 60 and {"\n", ":", " ", "R", "?"} <= set(vocabulary)
    assert data.info["num_files"] == 1 and data.info["num_examples"]["validation"]
    inputs, targets = next(data.train.as_numpy_iterator())
    assert inputs.shape == targets.shape == (64, 50)


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
        tmp_path / "moves", clips_per_class=3, num_frames=8, frame_size=32
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

    options = {"clips_per_class": 2, "num_frames": 4, "frame_size": 16}
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
        ("frame_size", 17),
        ("frame_size", 8),
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
        tmp_path / "moves", clips_per_class=4, num_frames=10, frame_size=16
    )
    data = load_video_folder(path, num_frames=6, frame_size=16, batch_size=4)
    assert data.info["class_names"] == list(VIDEO_CLASSES)
    assert sum(data.info["num_examples"].values()) == 4 * len(VIDEO_CLASSES)
    assert data.info["num_skipped"] == 0 and data.info["num_short_clips"] == 0
    inputs, labels = next(data.train.as_numpy_iterator())
    assert inputs["frames"].shape[1:] == (6, 16, 16, 3) and inputs["mask"].all()
    assert np.ptp(inputs["frames"]) > 100 and labels.max() < len(VIDEO_CLASSES)


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
