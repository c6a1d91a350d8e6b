"""Saved models give the same outputs in a fresh Python process.

Here, each case builds a small model of one application (trained a little
where its outputs should depend on training), saves it and computes its
outputs. Then one new interpreter, which imports only keras, NumPy and
`cnnrnn.models` as a user's script would, loads every saved model in safe
mode and computes the same outputs: this file run as a script. One process
for all cases, so that the backend starts once.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
if __name__ == "__main__":  # run as a script: cnnrnn and test_case from here
    sys.path[:0] = [str(Path(__file__).resolve().parents[n]) for n in (1, 2)]

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from test_case import keras_steps  # noqa: E402

from cnnrnn.models import (  # noqa: E402
    build_char_generator,
    build_image_captioner,
    build_plant_classifier,
    build_sentiment_rnn,
    build_video_classifier,
    caption,
    generate,
)
from cnnrnn.models.image_captioner import SPECIAL_TOKENS, START_ID  # noqa: E402

pytestmark = pytest.mark.backends

WORDS = ["good", "bad", "not", "but", "the", "movie", "was", "very"]
LONG = " ".join(["the movie was very good but not bad"] * 6)
CAPTION_WORDS = ["a", "red", "blue", "circle", "square"]


def _images(count, size=16, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(0, 255, (count, size, size, 3)).astype("float32")


def _sentiment():
    model = build_sentiment_rnn(
        vocabulary=WORDS, units=8, embedding_dim=8, pooling="attention", max_length=6
    )
    texts = np.array(["good but not bad", "bad but not good"] * 4, dtype=object)
    model.train_on_batch(texts, np.array([1, 0] * 4))
    # Upper case and punctuation, no word at all, longer than max_length.
    return model, np.array(["Not bad, but GOOD!", "very", "", LONG])


def _char_generator():
    model = build_char_generator(vocabulary=list("abc \n"), units=16, embedding_dim=8)
    return model, np.array("ab")


def _image_captioner():
    vocabulary = [*SPECIAL_TOKENS, *CAPTION_WORDS]
    model = build_image_captioner(
        image_shape=(16, 16, 3),
        vocabulary=vocabulary,
        encoder_depth=2,
        encoder_filters=8,
        embedding_dim=8,
        units=16,
        attention="luong",
        rnn_type="gru",
        max_length=6,
    )
    rng = np.random.default_rng(0)
    words = rng.integers(len(SPECIAL_TOKENS), len(vocabulary), (4, 5))
    inputs = np.concatenate([np.full((4, 1), START_ID), words], axis=1)
    targets = np.concatenate([words, np.zeros((4, 1), int)], axis=1)
    model.fit((_images(4), inputs), targets, epochs=2, verbose=0)
    return model, _images(4, seed=1)


def _video_classifier():
    model = build_video_classifier(
        num_frames=4,
        image_shape=(16, 16, 3),
        num_classes=3,
        encoder_depth=2,
        encoder_filters=4,
        encoder_units=8,
        units=8,
    )
    frames = _images(12).reshape(3, 4, 16, 16, 3)
    mask = np.array([[1, 1, 1, 1], [1, 1, 0, 0], [1, 1, 1, 0]], bool)
    return model, {"frames": frames, "mask": mask}


def _plant_classifier():
    model = build_plant_classifier(
        image_shape=(16, 16, 3), num_classes=3, depth=2, base_filters=4
    )
    return model, _images(4)


def _predict(model, inputs):
    if isinstance(inputs, np.ndarray) and inputs.dtype.kind == "U":
        inputs = inputs.astype(object)  # Keras 3.15 predicts on `object` strings
    return model.predict(inputs, verbose=0).tolist()


# name -> (build a model and its inputs, the outputs compared).
CASES = {
    "sentiment-rnn": (_sentiment, _predict),
    "char-generator": (
        _char_generator,
        lambda model, seed_text: generate(
            model, str(seed_text), length=80, seed=5, num_samples=2
        ),
    ),
    "image-captioner": (
        _image_captioner,
        lambda model, images: caption(model, images, beam_width=3),
    ),
    "video-classifier": (_video_classifier, _predict),
    "plant-classifier": (_plant_classifier, _predict),
}


def _cases_here():
    """The cases the active backend runs (raw strings need tensorflow)."""
    if keras.backend.backend() == "tensorflow":
        return list(CASES)
    return [name for name in CASES if name != "sentiment-rnn"]


def _save_inputs(path, inputs):
    arrays = inputs if isinstance(inputs, dict) else {"inputs": inputs}
    np.savez(path, **arrays)


def _load_inputs(path):
    with np.load(path) as data:
        if list(data.files) == ["inputs"]:
            return data["inputs"]
        return {key: data[key] for key in data.files}


def outputs_in_this_process(folder):
    """Loads every model saved in `folder` and computes its outputs."""
    found = {}
    for name in _cases_here():
        model = keras.saving.load_model(folder / f"{name}.keras", safe_mode=True)
        inputs = _load_inputs(folder / f"{name}.npz")
        found[name] = CASES[name][1](model, inputs)
    return found


@pytest.fixture(scope="module")
def saved_and_fresh(tmp_path_factory):
    """Per case, its outputs here; and the outputs of a fresh process."""
    keras.utils.set_random_seed(1337)
    folder = tmp_path_factory.mktemp("saved")
    expected = {}
    with keras_steps(eager=True):  # as in the other model tests
        for name in _cases_here():
            build, outputs = CASES[name]
            model, inputs = build()
            model.save(folder / f"{name}.keras")
            _save_inputs(folder / f"{name}.npz", inputs)
            expected[name] = outputs(model, inputs)
    result = subprocess.run(
        [sys.executable, __file__, str(folder)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return expected, json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("name", list(CASES))
def test_a_fresh_process_gives_the_same_outputs(saved_and_fresh, name):
    if name not in _cases_here():
        pytest.skip("tensorflow backend only: string inputs")
    expected, fresh = saved_and_fresh
    if isinstance(expected[name][0], str):  # generated text, captions
        assert fresh[name] == expected[name]
    else:
        np.testing.assert_allclose(fresh[name], expected[name], atol=1e-6, rtol=0)


if __name__ == "__main__":
    print(json.dumps(outputs_in_this_process(Path(sys.argv[1]))))
