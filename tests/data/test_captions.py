import csv
import json
import re

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds
from PIL import Image

from cnnrnn.data.captions import (
    END_ID,
    PAD_ID,
    SPECIAL_TOKENS,
    START_ID,
    UNK_ID,
    CaptionReferences,
    load_captions,
)
from cnnrnn.data.text import tokenize
from cnnrnn.errors import DataError

SIZE = 8


def shade(index):
    """Grey level of image `index`, so that pixels tell which image a batch holds."""
    return 10 + 20 * index


def write_image(path, index, mode="RGB"):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (SIZE, SIZE), (shade(index),) * 3).convert(mode).save(path)
    return path


def captions_of(index):
    """1 to 3 captions naming the image, e.g. 'Image4 shows a dog.'."""
    texts = [f"Image{index} shows a dog.", f"image{index}, a cat!", f"The image{index}"]
    return texts[: 1 + index % 3]


def write_set(folder, count=10, *, sub="", split_of=None):
    """Writes `count` images and `captions.csv`; returns the CSV rows."""
    rows = []
    for index in range(count):
        write_image(folder / sub / f"im{index}.png", index)
        for caption in captions_of(index):
            row = [f"{sub}/im{index}.png" if sub else f"im{index}.png", caption]
            rows.append(row + ([split_of(index)] if split_of else []))
    header = ["image", "caption"] + (["split"] if split_of else [])
    write_csv(folder / "captions.csv", [header, *rows])
    return rows


def write_csv(path, rows, delimiter=","):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as f:
        csv.writer(f, delimiter=delimiter, lineterminator="\n").writerows(rows)
    return path


def image_index(images):
    """The image indices of a batch of solid images."""
    return np.round((images[:, 0, 0, 0] - 10) / 20).astype(int).tolist()


def collect(dataset):
    images, inputs, targets = [], [], []
    for (batch_images, batch_inputs), batch_targets in dataset.as_numpy_iterator():
        images.append(batch_images)
        inputs.append(batch_inputs)
        targets.append(batch_targets)
    return np.concatenate(images), np.concatenate(inputs), np.concatenate(targets)


def words(ids, vocabulary):
    return [vocabulary[i] for i in ids if i not in (PAD_ID, START_ID, END_ID)]


def split_contents(data):
    """`{split: (names, references)}` of the validation and test references."""
    return {
        split: (refs.names, refs.references)
        for split, refs in data.extras.items()
        if refs is not None
    }


def test_batches_hold_shifted_ids_and_the_right_images(tmp_path):
    write_set(tmp_path)
    data = load_captions(
        tmp_path / "captions.csv", image_size=SIZE, batch_size=4, seed=1
    )
    (images, inputs), targets = next(iter(data.train))
    assert images.dtype == tf.float32 and images.shape == (4, SIZE, SIZE, 3)
    assert inputs.dtype == tf.int32 and targets.dtype == tf.int32
    length = data.model_args["max_length"] + 1
    assert inputs.shape == targets.shape == (4, length)
    assert data.model_args["max_length"] == data.info["max_length"] == 4
    assert data.model_args["image_shape"] == [SIZE, SIZE, 3]
    json.dumps(data.model_args)
    json.dumps(data.info)

    vocabulary = data.model_args["vocabulary"]
    images, inputs, targets = collect(data.train)
    assert len(images) == data.info["num_examples"]["train"]
    for index, input_ids, target_ids in zip(
        image_index(images), inputs, targets, strict=True
    ):
        assert input_ids[0] == START_ID and END_ID not in input_ids
        size = int(np.count_nonzero(target_ids))
        assert target_ids[size - 1] == END_ID and not target_ids[size:].any()
        np.testing.assert_array_equal(input_ids[1:size], target_ids[: size - 1])
        assert not input_ids[size:].any()
        caption = " ".join(words(target_ids, vocabulary))
        assert caption in [" ".join(t) for t in tokenize(captions_of(index))]
    assert images.min() >= 10 and images.max() <= 250
    batches = -(-data.info["num_examples"]["train"] // 4)
    assert data.train.cardinality() == batches


def test_split_by_image_keeps_every_caption_of_an_image_together(tmp_path):
    write_set(tmp_path, 12)
    data = load_captions(tmp_path, image_size=SIZE, batch_size=5, seed=3)
    assert data.info["splits"] == "random by image"
    assert data.info["num_images"] == {"train": 10, "validation": 1, "test": 1}
    train_images = image_index(collect(data.train)[0])
    held_out = {
        split: [int(re.sub(r"\D", "", name)) for name in refs.names]
        for split, refs in data.extras.items()
    }
    assert not set(train_images) & set(held_out["validation"] + held_out["test"])
    assert not set(held_out["validation"]) & set(held_out["test"])
    for index in set(train_images):
        assert train_images.count(index) == len(captions_of(index))
    for split, indices in held_out.items():
        refs = data.extras[split].references
        assert [len(r) for r in refs] == [len(captions_of(i)) for i in indices]
        examples = data.info["num_examples"][split]
        assert examples == sum(len(captions_of(i)) for i in indices)
        expected = [i for i in indices for _ in captions_of(i)]
        assert image_index(collect(getattr(data, split))[0]) == expected
    total = sum(len(captions_of(i)) for i in range(12))
    assert sum(data.info["num_examples"].values()) == total


def test_same_seed_same_split_and_other_seeds_differ(tmp_path):
    write_set(tmp_path, 12)

    def held_out(seed):
        data = load_captions(tmp_path, image_size=SIZE, seed=seed)
        return split_contents(data)

    assert held_out(5) == held_out(5)
    assert len({str(held_out(seed)) for seed in range(4)}) > 1


def test_split_column_is_kept_and_missing_validation_cut_from_train(tmp_path):
    write_set(tmp_path, 10, split_of=lambda i: "test" if i >= 8 else "train")
    data = load_captions(tmp_path, image_size=SIZE, validation_split=0.25)
    assert data.info["splits"] == "from the source"
    assert data.extras["test"].names == ["im8.png", "im9.png"]
    assert data.info["num_images"] == {"train": 6, "validation": 2, "test": 2}
    validation = data.extras["validation"].names
    assert len(validation) == 2 and not set(validation) & {"im8.png", "im9.png"}


def test_split_values_aliases_and_errors(tmp_path):
    values = ["Train", "val", "dev", "TEST", "validation"]
    write_set(tmp_path, 5, split_of=lambda i: values[i])
    data = load_captions(tmp_path, image_size=SIZE)
    assert data.info["num_images"] == {"train": 1, "validation": 3, "test": 1}
    write_set(tmp_path, 3, split_of=lambda i: ["train", "holdout", "test"][i])
    with pytest.raises(DataError, match=r"line 3: split 'holdout' is not one of"):
        load_captions(tmp_path)
    write_csv(
        tmp_path / "captions.csv",
        [
            ["image", "caption", "split"],
            ["im0.png", "a", "train"],
            ["im0.png", "b", "test"],
        ],
    )
    with pytest.raises(DataError, match="line 3: image 'im0.png' is in split 'test'"):
        load_captions(tmp_path)


def test_vocabulary_comes_from_training_captions_only(tmp_path):
    write_set(tmp_path, 6, split_of=lambda i: "test" if i == 5 else "train")
    data = load_captions(tmp_path, image_size=SIZE, validation_split=0.0)
    vocabulary = data.model_args["vocabulary"]
    assert tuple(vocabulary[:4]) == SPECIAL_TOKENS
    assert data.info["vocabulary_size"] == len(vocabulary) == len(set(vocabulary))
    assert "image0" in vocabulary and "image5" not in vocabulary
    # Most frequent first: 'image0'..'image4' are rarer than 'shows', 'a', 'dog'.
    assert vocabulary.index("dog") < vocabulary.index("image4")
    _, inputs, _ = collect(data.test)
    assert inputs[0][:2].tolist() == [START_ID, UNK_ID]

    small = load_captions(tmp_path, image_size=SIZE, max_tokens=6)
    assert small.model_args["vocabulary"][:4] == list(SPECIAL_TOKENS)
    assert len(small.model_args["vocabulary"]) == 6


def test_given_vocabulary_is_used_and_checked(tmp_path):
    write_set(tmp_path, 4)
    vocabulary = [*SPECIAL_TOKENS, "a", "dog", "cat"]
    data = load_captions(
        tmp_path,
        image_size=SIZE,
        vocabulary=vocabulary,
        validation_split=0.0,
        test_split=1.0,
    )
    assert data.train is None and data.validation is None
    assert data.model_args["vocabulary"] == vocabulary
    assert data.info["num_images"]["test"] == 4
    _, inputs, targets = collect(data.test)
    assert set(inputs.ravel()) <= {PAD_ID, UNK_ID, START_ID, 4, 5, 6}
    # 'image0 shows a dog' -> unknown, unknown, a, dog.
    assert [START_ID, UNK_ID, UNK_ID, 4, 5] in inputs[:, :5].tolist()
    with pytest.raises(DataError, match=r"Received: vocabulary=\['a', 'dog'\]"):
        load_captions(tmp_path, vocabulary=["a", "dog"])
    with pytest.raises(DataError, match="no training captions to learn a vocabulary"):
        load_captions(tmp_path, validation_split=0.0, test_split=1.0)


def test_tsv_flickr_tokens_and_coco_json_read_like_the_csv(tmp_path):
    rows = write_set(tmp_path / "csv", 8)
    expected = split_contents(load_captions(tmp_path / "csv", image_size=SIZE))

    tsv = tmp_path / "csv" / "captions.tsv"
    write_csv(tsv, [["filename", "text"], *rows], delimiter="\t")
    assert split_contents(load_captions(tsv, image_size=SIZE)) == expected

    numbers = {}
    lines = []
    for name, caption in rows:
        numbers[name] = numbers.get(name, -1) + 1
        lines.append(f"{name}#{numbers[name]}\t{caption}")
    tokens = tmp_path / "csv" / "Flickr8k.token.txt"
    tokens.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert split_contents(load_captions(tokens, image_size=SIZE)) == expected

    names = list(dict.fromkeys(name for name, _ in rows))
    coco = {
        "images": [{"id": 100 + i, "file_name": name} for i, name in enumerate(names)],
        "annotations": [
            {"id": i, "image_id": 100 + names.index(name), "caption": caption}
            for i, (name, caption) in enumerate(rows)
        ],
    }
    path = tmp_path / "csv" / "captions_train.json"
    path.write_text(json.dumps(coco), encoding="utf-8")
    assert split_contents(load_captions(path, image_size=SIZE)) == expected


def test_table_without_header_and_unquoted_commas(tmp_path):
    write_image(tmp_path / "a.png", 0)
    write_image(tmp_path / "b.png", 1)
    path = tmp_path / "list.csv"
    path.write_text('a.png,a red, round ball\nb.png,"a dog, running"\n')
    data = load_captions(path, image_size=SIZE, validation_split=0, test_split=0.5)
    assert data.info["num_images"] == {"train": 1, "validation": 0, "test": 1}
    train = words(collect(data.train)[2][0], data.model_args["vocabulary"])
    test = data.extras["test"].references[0][0]
    expected = [["a", "red", "round", "ball"], ["a", "dog", "running"]]
    assert sorted([train, test]) == sorted(expected)


def test_folder_source_finds_its_captions_file_or_raises(tmp_path):
    write_set(tmp_path, 4)
    (tmp_path / ".hidden.csv").write_text("x,y\n")
    (tmp_path / "notes.txt").write_text("not captions\n")
    data = load_captions(tmp_path, image_size=SIZE)
    assert data.info["captions_file"] == str(tmp_path / "captions.csv")
    (tmp_path / "more.json").write_text("{}")
    with pytest.raises(DataError, match="several captions files.*'captions.csv'"):
        load_captions(tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match="no captions file \\(it is empty\\)"):
        load_captions(empty)
    with pytest.raises(DataError, match="does not exist: pass a captions file"):
        load_captions(tmp_path / "absent.csv")
    with pytest.raises(DataError, match="Received: source=None. Expected a captions"):
        load_captions(None)


def test_images_in_a_sub_folder_are_found_by_name(tmp_path):
    rows = write_set(tmp_path, 4, sub="Images/all")
    flat = [[name.rsplit("/", 1)[1], caption] for name, caption in rows]
    write_csv(tmp_path / "captions.csv", [["image_name", "sentence"], *flat])
    data = load_captions(tmp_path, image_size=SIZE, validation_split=0, test_split=0)
    assert data.info["num_images"]["train"] == 4
    assert data.info["num_missing_images"] == 0
    assert data.info["num_uncaptioned_images"] == 0
    write_image(tmp_path / "other" / "im0.png", 0)
    with pytest.raises(DataError, match="several files there have its file name"):
        load_captions(tmp_path)
    elsewhere = tmp_path / "csvs" / "c.csv"
    write_csv(elsewhere, [["image", "caption"], ["all/im1.png", "a dog"]])
    data = load_captions(
        elsewhere, image_dir=tmp_path / "Images", validation_split=0, test_split=0
    )
    assert data.info["image_dir"] == str(tmp_path / "Images")


def test_problems_are_counted_in_info(tmp_path):
    rows = write_set(tmp_path, 6)
    write_image(tmp_path / "lonely.jpg", 3)
    write_image(tmp_path / ".hidden.png", 3)
    write_image(tmp_path / "grey.png", 4, mode="L")
    (tmp_path / "broken.png").write_bytes(b"not an image")
    extra = [
        ["gone.png", "a missing image"],
        ["gone.png", "again"],
        ["grey.png", "a grey picture"],
        ["broken.png", "a broken picture"],
        ["im0.png", "   "],
        ["im1.png", "?!"],
    ]
    write_csv(tmp_path / "captions.csv", [["image", "caption"], *rows, *extra])
    data = load_captions(tmp_path, image_size=SIZE)
    info = data.info
    assert info["num_missing_images"] == 1 and info["missing_images"] == ["gone.png"]
    assert info["num_uncaptioned_images"] == 1
    assert info["num_empty_captions"] == 2
    assert info["num_skipped"] == 1
    assert re.fullmatch(
        r".*broken\.png: is not an image PIL can read", info["skipped_files"][0]
    )
    assert info["num_converted"] == 1
    assert sum(info["num_images"].values()) == 7
    assert sum(info["num_examples"].values()) == len(rows) + 1
    with pytest.raises(DataError, match="Image file '.*broken.png' is not an image"):
        load_captions(tmp_path, on_bad_file="error")


def test_nothing_usable_raises(tmp_path):
    write_image(tmp_path / "broken.png", 0).write_bytes(b"junk")
    write_csv(
        tmp_path / "c.csv",
        [["image", "caption"], ["gone.png", "a dog"], ["broken.png", "a cat"]],
    )
    message = r"no usable \(image, caption\) pair \(1 missing image\(s\), e.g. 'gone"
    with pytest.raises(DataError, match=message):
        load_captions(tmp_path / "c.csv")
    write_csv(tmp_path / "c.csv", [["image", "caption"]])
    with pytest.raises(DataError, match="holds a header row but no captions"):
        load_captions(tmp_path / "c.csv")


def test_image_names_leaving_the_image_folder_are_refused_and_counted(tmp_path):
    folder = tmp_path / "data"
    rows = write_set(folder, 4)
    write_image(tmp_path / "secret.png", 9)
    write_image(tmp_path / "elsewhere" / "im1.png", 9)
    extra = [
        ["../secret.png", "a file outside"],
        [str(tmp_path / "secret.png"), "an absolute path outside"],
        ["../elsewhere/im1.png", "outside, though im1.png is inside"],
        ["../secret.png", "the same name again"],
        [str(folder / "im0.png"), "an absolute path inside"],
        ["sub/../im1.png", "a path that stays inside"],
    ]
    write_csv(folder / "captions.csv", [["image", "caption"], *rows, *extra])
    data = load_captions(folder, image_size=SIZE, validation_split=0, test_split=0)
    info = data.info
    assert info["num_outside_images"] == 3
    assert info["outside_images"] == [
        "../secret.png",
        str(tmp_path / "secret.png"),
        "../elsewhere/im1.png",
    ]
    assert info["num_missing_images"] == 0
    assert info["num_images"]["train"] == 4
    assert info["num_examples"]["train"] == len(rows) + 2
    assert 9 not in image_index(collect(data.train)[0])
    message = (
        r"line \d+: image name '\.\./secret\.png' leaves the image folder '.*data': "
        "give image names relative to image_dir"
    )
    with pytest.raises(DataError, match=message):
        load_captions(folder, on_bad_file="error")
    write_csv(folder / "captions.csv", [["image", "caption"], *extra[:3]])
    message = r"3 image name\(s\) outside image_dir, e.g. '\.\./secret\.png'"
    with pytest.raises(DataError, match=message):
        load_captions(folder)


def test_linked_image_folders_are_searched_without_looping(tmp_path):
    rows = write_set(tmp_path / "elsewhere", 4, sub="images")
    (tmp_path / "elsewhere" / "images" / "loop").symlink_to(
        tmp_path / "elsewhere" / "images", target_is_directory=True
    )
    flat = [[name.rsplit("/", 1)[1], caption] for name, caption in rows]
    folder = tmp_path / "data"
    write_csv(folder / "captions.csv", [["image", "caption"], *flat])
    (folder / "images").symlink_to(
        tmp_path / "elsewhere" / "images", target_is_directory=True
    )
    data = load_captions(folder, image_size=SIZE, validation_split=0, test_split=0)
    assert data.info["num_images"]["train"] == 4
    assert data.info["num_missing_images"] == 0
    assert data.info["num_outside_images"] == 0
    assert data.info["num_uncaptioned_images"] == 0
    # A linked image_dir holds its real path's names too.
    (tmp_path / "link").symlink_to(tmp_path / "elsewhere" / "images")
    real = tmp_path / "elsewhere" / "images" / "im0.png"
    write_csv(folder / "c.csv", [["image", "caption"], [str(real), "a dog"]])
    data = load_captions(
        folder / "c.csv", image_dir=tmp_path / "link", validation_split=0, test_split=0
    )
    assert data.info["num_outside_images"] == 0
    assert data.info["num_images"]["train"] == 1
    assert data.info["num_uncaptioned_images"] == 3


def test_undecodable_captions_are_replaced_and_counted(tmp_path):
    write_set(tmp_path, 4)
    content = (tmp_path / "captions.csv").read_bytes()
    content += b"im0.png,caf\xe9 au lait\nim1.png,plain words\n"
    (tmp_path / "captions.csv").write_bytes(content)
    data = load_captions(tmp_path, image_size=SIZE, validation_split=0, test_split=0)
    assert data.info["num_replaced"] == 1
    write_set(tmp_path, 4)
    data = load_captions(tmp_path, image_size=SIZE, validation_split=0, test_split=0)
    assert data.info["num_replaced"] == 0


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"image_size": 0}, "Received: image_size=0."),
        ({"batch_size": 0}, "Received: batch_size=0."),
        ({"validation_split": 0.6, "test_split": 0.5}, "sum to at most 1"),
        ({"max_tokens": 4}, "Received: max_tokens=4. Expected an integer >= 5"),
        ({"max_length": 0}, "Received: max_length=0."),
        ({"standardize": "upper"}, "Received: standardize='upper'."),
        ({"vocabulary": "abc"}, "Received: vocabulary='abc'."),
        ({"on_bad_file": "x"}, "Received: on_bad_file='x'."),
        ({"cache": "yes"}, "Received: cache='yes'."),
        ({"image_dir": "nowhere"}, "Received: image_dir='nowhere'"),
    ],
)
def test_bad_options_raise(tmp_path, kwargs, message):
    write_set(tmp_path, 3)
    with pytest.raises(DataError) as error:
        load_captions(tmp_path, **kwargs)
    assert message in str(error.value)


def test_malformed_files_raise_with_the_line(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text("image,caption\nim0.png\n")
    with pytest.raises(DataError, match="line 2: expected an image name and a caption"):
        load_captions(path)
    path.write_text("image,caption,split\nim0.png,a dog, brown,train\n")
    with pytest.raises(DataError, match="line 2: expected 3 fields as in the header"):
        load_captions(path)
    path.write_text("picture,caption\nim0.png,a dog\n")
    with pytest.raises(DataError, match="has a header .* name its columns 'image'"):
        load_captions(path)
    tokens = tmp_path / "t.token.txt"
    tokens.write_text("im0.png#0\ta dog\nim0.png a cat\n")
    with pytest.raises(DataError, match="line 2: expected 'name.jpg#0<TAB>caption'"):
        load_captions(tokens)
    coco = tmp_path / "c.json"
    coco.write_text('{"images": [], "annotations": [{"image_id": 1}]}')
    with pytest.raises(DataError, match=r"annotations\[0\]: expected COCO captions"):
        load_captions(coco)
    coco.write_text("{oops")
    with pytest.raises(DataError, match="is not valid JSON"):
        load_captions(coco)


def test_max_length_truncates_keeping_end_and_counts(tmp_path):
    write_set(tmp_path, 6)
    data = load_captions(tmp_path, image_size=SIZE, max_length=2, test_split=0.5)
    assert data.model_args["max_length"] == 2
    _, inputs, targets = collect(data.train)
    assert inputs.shape[1] == 3 and (inputs[:, 0] == START_ID).all()
    assert (targets[:, -1] == END_ID).all()
    # 'imageN shows a dog' (4 words) is cut, and so is 'imageN a cat' (3).
    expected = sum(len(captions_of(i)) for i in range(6))
    assert data.info["num_truncated"] == expected - sum(i % 3 == 2 for i in range(6))
    refs = data.extras["test"].references
    assert max(len(tokens) for caption in refs for tokens in caption) == 4


def test_caption_references_hold_every_caption_in_names_order(tmp_path):
    write_set(tmp_path, 9)
    for cache in (True, False):
        data = load_captions(
            tmp_path, image_size=SIZE, batch_size=2, test_split=0.5, cache=cache
        )
        refs = data.extras["test"]
        assert isinstance(refs, CaptionReferences) and len(refs.names) == 4
        indices = [int(re.sub(r"\D", "", name)) for name in refs.names]
        assert refs.references == [tokenize(captions_of(i)) for i in indices]
        assert refs.references[0][0][0].startswith("image")
        batches = list(refs.images.as_numpy_iterator())
        assert [len(batch) for batch in batches] == [2, 2]
        assert image_index(np.concatenate(batches)) == indices
        assert batches[0].dtype == np.float32 and batches[0].shape[1:] == (8, 8, 3)
        images, inputs, _ = collect(data.test)
        assert len(images) == data.info["num_examples"]["test"]


def test_uncached_pipeline_gives_the_cached_examples(tmp_path):
    write_set(tmp_path, 6)
    write_image(tmp_path / "im2.png", 2, mode="P")
    cached = load_captions(tmp_path, image_size=SIZE, test_split=0.5)
    uncached = load_captions(tmp_path, image_size=SIZE, test_split=0.5, cache=False)
    assert cached.info["num_converted"] == 1
    for first, second in zip(collect(cached.test), collect(uncached.test), strict=True):
        np.testing.assert_allclose(first, second)


def test_tokenize_matches_text_vectorization():
    assert tokenize([]) == []
    assert tokenize(["A dog, running!", "  ", "a DOG"]) == [
        ["a", "dog", "running"],
        [],
        ["a", "dog"],
    ]
    assert tokenize(["A dog, running!"], standardize=None) == [
        ["A", "dog,", "running!"]
    ]


def test_tfds_coco_captions_with_mock_data():
    with tfds.testing.mock_data(num_examples=10):
        data = load_captions("tfds:coco_captions", image_size=SIZE, batch_size=4)
        (images, inputs), targets = next(iter(data.train))
        references = data.extras["test"]
        with pytest.raises(DataError, match="Unknown TensorFlow Datasets name"):
            load_captions("tfds:no_such_dataset")
        with pytest.raises(DataError, match="not an image-captioning set"):
            load_captions("tfds:mnist")
        with pytest.raises(DataError, match="Expected image_dir=None"):
            load_captions("tfds:coco_captions", image_dir="x")
    assert images.shape == (4, SIZE, SIZE, 3) and images.dtype == tf.float32
    length = data.model_args["max_length"] + 1
    assert inputs.shape == targets.shape == (4, length)
    assert data.info["num_images"] == {"train": 8, "validation": 1, "test": 1}
    assert data.info["source"] == "tfds:coco_captions"
    assert data.info["splits"] == "from the source"
    assert data.info["tfds_splits"] == {
        "train": "train",
        "validation": None,
        "test": None,
    }
    assert len(references.names) == 1 and references.references[0]
    assert data.model_args["vocabulary"][:4] == list(SPECIAL_TOKENS)
    json.dumps(data.info)


def test_the_id_layout_is_the_models():
    from cnnrnn.models import image_captioner

    assert SPECIAL_TOKENS == image_captioner.SPECIAL_TOKENS
    ids = (PAD_ID, UNK_ID, START_ID, END_ID)
    model_ids = (
        image_captioner.PAD_ID,
        image_captioner.UNK_ID,
        image_captioner.START_ID,
        image_captioner.END_ID,
    )
    assert ids == model_ids
