"""The application registry: CLI name -> factory, loader, demo data, defaults.

A new application is one `App` row here; shared code never branches on the
application's name. The rows name their functions by import path and load
them on first use, so reading the registry (`cnnrnn list`, `--help`) imports
neither Keras nor TensorFlow.
"""

import dataclasses
import functools
import importlib
from collections.abc import Callable

import numpy as np

from cnnrnn.data.demo import CHAR_DEMO_FILE, SENTIMENT_DEMO_FILE
from cnnrnn.data.options import STANDARDIZE
from cnnrnn.errors import CnnrnnError, DataError


class Lazy:
    """A function or class of another module, imported on its first use.

    Calling it calls the target; `inspect.signature` sees the target's
    signature (through `__wrapped__`).

    Args:
        path: str. `"package.module:name"`.
    """

    def __init__(self, path):
        self.path = path

    @functools.cached_property
    def __wrapped__(self):
        module, _, name = self.path.partition(":")
        return getattr(importlib.import_module(module), name)

    def __call__(self, *args, **kwargs):
        return self.__wrapped__(*args, **kwargs)

    def __repr__(self):
        return f"Lazy({self.path!r})"


def class_names_option(config):
    """Loader option that keeps a trained classifier's class order."""
    class_names = config["data_info"].get("class_names")
    return {"class_names": class_names} if class_names else {}


@dataclasses.dataclass(frozen=True)
class App:
    """One application: everything the CLI, training and tuning need.

    Args:
        name: str. CLI name, e.g. `"plant-classifier"`.
        summary: str. One line for `cnnrnn list`.
        build_model: callable. The keyword-only model factory.
        load_data: callable. `load_data(source, **data_options)` returning
            `cnnrnn.data.common.DataSplits`.
        write_demo_data: callable. `write_demo_data(directory)` writes a
            small learnable data set that `load_data` reads.
        demo_source: str. Path of the data source inside the demo folder
            (empty: the folder itself).
        predict: callable. `predict(model, inputs, config, top_k=...)`
            returning one `{"input", "predictions"}` dict per input.
        defaults: dict. Default `data`, `model` and `training` options,
            chosen for a user's own data.
        demo: dict. Showcase settings of the generated demo data (same
            sections), applied over `defaults` when no data source is given:
            a model sized to learn the demo in about a minute on a laptop.
        model_from_data: tuple of str. Factory arguments set by the data.
        reports: tuple of callables. `report(model, splits, split_name,
            config, run_dir)` run after training on the evaluation split of
            the `DataSplits`; each writes files and returns metrics to
            record.
        prepare_fine_tuning: callable or None. Switches a trained model to
            its fine-tuning phase; returns whether there is one.
        evaluation_options: callable. `evaluation_options(config)` returns the
            loader options that make new data readable by the trained model
            (its class names or vocabulary).
        feature_models: callable or None. `feature_models(model)` returns
            `(encoder, head)` for `training.precompute_features`:
            a frozen encoder run once over the data, and the compiled head
            (sharing the model's weights) trained on its features.
        sampler: callable or None. `sampler(model)` returns an object whose
            `stream(seed_text, **options)` yields generated text, for
            `cnnrnn generate`.
        evaluation_metrics: callable or None. `evaluation_metrics(model,
            splits, split_name, config)` returns metrics beyond the compiled
            ones (such as BLEU), for training and `cnnrnn evaluate`.
        captioner: callable or None. `captioner(model)` returns an object
            whose `caption(images, **options)` writes captions, for
            `cnnrnn caption`.
        backends: tuple of str. Keras backends that can train and run the
            application's model from the CLI (the data come through tf.data,
            which every backend reads).
    """

    name: str
    summary: str
    build_model: Callable
    load_data: Callable
    write_demo_data: Callable
    predict: Callable
    defaults: dict
    demo: dict = dataclasses.field(default_factory=dict)
    model_from_data: tuple[str, ...] = ()
    demo_source: str = ""
    reports: tuple[Callable, ...] = ()
    prepare_fine_tuning: Callable | None = None
    evaluation_options: Callable = class_names_option
    feature_models: Callable | None = None
    sampler: Callable | None = None
    evaluation_metrics: Callable | None = None
    captioner: Callable | None = None
    backends: tuple[str, ...] = ("tensorflow", "jax", "torch")


def predict_images(model, inputs, config, *, top_k=3):
    """Classifies image files with a trained image classifier."""
    from cnnrnn import classification
    from cnnrnn.data import images

    pixels = images.load_image_files(inputs, image_size=config["data"]["image_size"])
    class_names = config["data_info"]["class_names"]
    return classification.predict_classes(
        model, pixels, inputs, class_names, top_k=top_k
    )


def predict_texts(model, inputs, config, *, top_k=3):
    """Classifies raw texts with a trained text classifier."""
    from cnnrnn import classification

    texts = [str(item) for item in inputs]
    for number, item in enumerate(texts, start=1):
        if not item.strip():
            raise DataError(f"Text {number} is empty: pass texts with some words.")
    class_names = config["data_info"]["class_names"]
    return classification.predict_classes(
        model, np.array(texts, dtype=object), texts, class_names, top_k=top_k
    )


def predict_clips(model, inputs, config, *, top_k=3):
    """Classifies video clips (files, frame folders or `.npy` arrays)."""
    from cnnrnn import classification
    from cnnrnn.data import video

    data = config["data"]
    clips = video.load_clip_files(
        inputs, num_frames=data["num_frames"], frame_size=data["frame_size"]
    )
    class_names = config["data_info"]["class_names"]
    return classification.predict_classes(
        model, clips, inputs, class_names, top_k=top_k
    )


def predict_next_chars(model, inputs, config, *, top_k=3):
    """Ranks the characters most likely to follow each text."""
    from cnnrnn import classification
    from cnnrnn.models import char_generator

    vocabulary = config["model_from_data"]["vocabulary"]
    labels = ["(unknown)", *(repr(char) for char in vocabulary)]
    results = []
    for number, item in enumerate(inputs, start=1):
        if not item:
            raise DataError(f"Text {number} is empty: pass some text to continue.")
        probabilities = char_generator.next_char_probabilities(model, item)
        (predictions,) = classification.top_k_predictions(
            probabilities[None], labels, k=top_k
        )
        results.append({"input": item, "predictions": predictions})
    return results


def predict_captions(model, inputs, config, *, top_k=3):
    """Captions image files by beam search (`top_k` is unused: one caption each)."""
    del top_k
    from cnnrnn.data import images
    from cnnrnn.models import image_captioner

    pixels = images.load_image_files(inputs, image_size=config["data"]["image_size"])
    found = image_captioner.CaptionDecoder(model).caption(
        pixels, beam_width=config["training"]["beam_width"], return_scores=True
    )
    return [
        {
            "input": str(path),
            "predictions": [{"label": text, "probability": float(np.exp(score))}],
        }
        for path, (text, score) in zip(inputs, found, strict=True)
    ]


PLANT_CLASSIFIER = App(
    name="plant-classifier",
    summary="RGB image -> plant class (CNN, optional pretrained backbone)",
    build_model=Lazy("cnnrnn.models.plant_classifier:build_plant_classifier"),
    load_data=Lazy("cnnrnn.data.images:load_images"),
    write_demo_data=Lazy("cnnrnn.data.demo:write_plant_demo"),
    predict=predict_images,
    defaults={
        "data": {
            "image_size": "auto",
            "batch_size": 32,
            "validation_split": 0.15,
            "test_split": 0.15,
            "seed": 1337,
            "on_bad_file": "skip",
            "cache": True,
        },
        # Real flower photos, test accuracy: 0.606 at 3 blocks, 64x64, 30
        # epochs at a constant rate (4,317 photos, as reported in issue 20);
        # on the shared 3,483 (64x64 chosen): 0.696 at 4 blocks, weight decay
        # and a cosine schedule over 30 epochs, 0.723 over 40.
        "model": {"depth": 4, "weight_decay": 0.02},
        "training": {
            "epochs": 40,
            "early_stopping_patience": 10,
            "learning_rate_schedule": "cosine",
            "precompute_features": False,
        },
    },
    # 20 M FLOPs per image instead of 309 M, no augmentation needed; the
    # cosine schedule runs to its end. 2 cores, seeds 1/2/3: 30/39/33 s of
    # training, best validation accuracy 0.978/0.957/0.989, test 0.977/0.989/0.989.
    demo={
        "data": {"image_size": [32, 32], "batch_size": 16},
        "model": {
            "depth": 3,
            "base_filters": 16,
            "augment": False,
            "weight_decay": 0.0,
        },
        "training": {"epochs": 24, "early_stopping_patience": 24},
    },
    model_from_data=("input_shape", "num_classes"),
    reports=(Lazy("cnnrnn.classification:confusion_matrix_report"),),
    prepare_fine_tuning=Lazy("cnnrnn.models.plant_classifier:prepare_fine_tuning"),
    feature_models=Lazy("cnnrnn.models.plant_classifier:feature_models"),
)

SENTIMENT_RNN = App(
    name="sentiment-rnn",
    summary="raw text -> sentiment (Embedding + LSTM/GRU, bidirectional)",
    build_model=Lazy("cnnrnn.models.sentiment:build_sentiment_rnn"),
    load_data=Lazy("cnnrnn.data.text:load_text_classification"),
    write_demo_data=Lazy("cnnrnn.data.demo:write_sentiment_demo"),
    demo_source=SENTIMENT_DEMO_FILE,
    predict=predict_texts,
    defaults={
        "data": {
            "text_column": 0,
            "label_column": -1,
            "delimiter": "auto",
            "header": "auto",
            "batch_size": 32,
            "validation_split": 0.15,
            "test_split": 0.15,
            "seed": 1337,
            "max_tokens": 20000,
            "standardize": STANDARDIZE,
            "bucketing": True,
        },
        "training": {"epochs": 30, "early_stopping_patience": 5},
    },
    model_from_data=("vocabulary", "num_classes", "standardize"),
    reports=(Lazy("cnnrnn.classification:confusion_matrix_report"),),
    backends=("tensorflow",),  # a raw-text model: strings need TensorFlow
)

CHAR_GENERATOR = App(
    name="char-generator",
    summary="text -> next character (LSTM/GRU); fast stateful sampling",
    build_model=Lazy("cnnrnn.models.char_generator:build_char_generator"),
    load_data=Lazy("cnnrnn.data.chars:load_char_corpus"),
    write_demo_data=Lazy("cnnrnn.data.demo:write_char_demo"),
    demo_source=CHAR_DEMO_FILE,
    predict=predict_next_chars,
    defaults={
        "data": {
            "sequence_length": 100,
            "stride": None,
            "batch_size": 64,
            "validation_split": 0.1,
            "test_split": 0.0,
            "lowercase": False,
            "seed": 1337,
        },
        "training": {"epochs": 20, "early_stopping_patience": 3},
    },
    # 128 units: 89 s of training instead of 206 s on 2 cores, validation
    # 0.70 bits per character instead of 0.59, speaker names all learned.
    demo={"model": {"units": 128}},
    model_from_data=("vocabulary", "lowercase"),
    reports=(Lazy("cnnrnn.generation:write_samples_report"),),
    evaluation_options=lambda config: {
        "vocabulary": config["model_from_data"]["vocabulary"]
    },
    sampler=Lazy("cnnrnn.models.char_generator:CharSampler"),
)

VIDEO_CLASSIFIER = App(
    name="video-classifier",
    summary="video clip -> class (per-frame CNN + LSTM/GRU)",
    build_model=Lazy("cnnrnn.models.video_classifier:build_video_classifier"),
    load_data=Lazy("cnnrnn.data.video:load_videos"),
    write_demo_data=Lazy("cnnrnn.data.demo:write_video_demo"),
    predict=predict_clips,
    defaults={
        "data": {
            "num_frames": 12,
            "frame_size": [32, 32],
            "batch_size": 8,
            "validation_split": 0.15,
            "test_split": 0.15,
            "seed": 1337,
            "cache": True,
            "on_bad_file": "skip",
        },
        "training": {
            # The validation loss can stall for several epochs before the
            # recurrent layers pick up the motion: be patient.
            "epochs": 40,
            "early_stopping_patience": 10,
            "precompute_features": False,
        },
    },
    # 43 M FLOPs per clip instead of 241 M. 2 cores, seeds 1/2/3: 94/85/95 s
    # of training (422 s at the defaults), best validation accuracy
    # 0.989/0.989/0.924, test 1.0/0.989/0.955.
    demo={
        "data": {"num_frames": 8},
        "model": {"encoder_filters": 8},
        "training": {"epochs": 20},
    },
    model_from_data=("num_frames", "frame_shape", "num_classes"),
    reports=(Lazy("cnnrnn.classification:confusion_matrix_report"),),
    feature_models=Lazy("cnnrnn.models.video_classifier:feature_models"),
)

IMAGE_CAPTIONER = App(
    name="image-captioner",
    summary="image -> caption (CNN encoder + attention LSTM/GRU decoder)",
    build_model=Lazy("cnnrnn.models.image_captioner:build_image_captioner"),
    load_data=Lazy("cnnrnn.data.captions:load_captions"),
    write_demo_data=Lazy("cnnrnn.data.demo:write_caption_demo"),
    predict=predict_captions,
    defaults={
        "data": {
            "image_dir": None,
            "image_size": [32, 32],
            "batch_size": 32,
            "validation_split": 0.1,
            "test_split": 0.1,
            "seed": 1337,
            "max_tokens": 10000,
            "max_length": None,
            "standardize": STANDARDIZE,
            "on_bad_file": "skip",
            "cache": True,
        },
        "training": {"epochs": 12, "early_stopping_patience": 3, "beam_width": 3},
    },
    # 7 M FLOPs per example instead of 27 M. 2 cores: 104 s of training
    # instead of 228 s, test BLEU-4 0.909 with beam search instead of 0.941.
    demo={
        "model": {"encoder_filters": 8, "units": 64, "learning_rate": 2e-3},
        "training": {"epochs": 7},
    },
    model_from_data=("vocabulary", "image_shape", "max_length"),
    reports=(Lazy("cnnrnn.captioning:write_examples_report"),),
    evaluation_options=lambda config: {
        "vocabulary": config["model_from_data"]["vocabulary"],
        "max_length": config["model_from_data"]["max_length"],
    },
    evaluation_metrics=Lazy("cnnrnn.captioning:bleu_metrics"),
    captioner=Lazy("cnnrnn.models.image_captioner:CaptionDecoder"),
)

APPS = {
    app.name: app
    for app in (
        PLANT_CLASSIFIER,
        SENTIMENT_RNN,
        CHAR_GENERATOR,
        VIDEO_CLASSIFIER,
        IMAGE_CAPTIONER,
    )
}


def get_app(name):
    """Returns the registered application called `name`.

    Raises:
        CnnrnnError: for an unknown name, listing the known ones.
    """
    if name not in APPS:
        raise CnnrnnError(
            f"Unknown application '{name}'. Expected one of: {', '.join(APPS)} "
            "(see `cnnrnn list`)."
        )
    return APPS[name]


def check_backend(app):
    """Raises `CnnrnnError` if the active Keras backend cannot run `app`'s model."""
    import keras

    backend = keras.backend.backend()
    if backend not in app.backends:
        raise CnnrnnError(
            f"{app.name} needs the {' or '.join(app.backends)} backend (active: "
            f"{backend}). Set KERAS_BACKEND={app.backends[0]}, or see the README's "
            "'Backends' section for what runs elsewhere."
        )
