"""The image captioner: a CNN encoder and an attention LSTM/GRU decoder."""

import numpy as np

from cnnrnn.apps.base import ACTIVATIONS, COMMON_SPACE, RNN_TYPES, App, Lazy
from cnnrnn.data.options import STANDARDIZE


def caption_files(model, paths, config, *, max_length=None, seed=None, **decoding):
    """Captions image files with a trained captioner.

    Args:
        model: the trained `keras.Model`.
        paths: list of image file paths.
        config: dict. The run's configuration (its image size, and its
            `inference.beam_width` unless `decoding` gives one).
        max_length, seed, **decoding: options of `CaptionDecoder.caption`
            (`decoding`: `beam_width`, `temperature`, `length_penalty`, ...),
            checked before any image is read.

    Returns:
        A `(caption, log_probability)` tuple per image.
    """
    from cnnrnn.data import images
    from cnnrnn.models import image_captioner

    decoding = {"beam_width": config["inference"]["beam_width"], **decoding}
    image_captioner.check_caption_options(**decoding)
    pixels = images.load_image_files(paths, image_size=config["data"]["image_size"])
    return image_captioner.CaptionDecoder(model).caption(
        pixels, **decoding, max_length=max_length, seed=seed, return_scores=True
    )


def predict_captions(model, inputs, config, *, top_k=3):
    """Captions image files by beam search (`top_k` is unused: one caption each)."""
    del top_k
    found = caption_files(model, inputs, config)
    return [
        {
            "input": str(path),
            "predictions": [{"label": text, "probability": float(np.exp(score))}],
        }
        for path, (text, score) in zip(inputs, found, strict=True)
    ]


APP = App(
    name="image-captioner",
    summary="image -> caption (CNN encoder + attention LSTM/GRU decoder)",
    build_model=Lazy("cnnrnn.models.image_captioner:build_image_captioner"),
    load_data=Lazy("cnnrnn.data.captions:load_captions"),
    write_demo_data=Lazy("cnnrnn.demos.image_captioner:write_caption_demo"),
    small_demo={"num_scenes": 24, "image_size": 32},
    predict=predict_captions,
    input_kind="image",
    defaults={
        "data": {
            "image_dir": None,
            "image_size": "auto",
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
        "training": {
            "epochs": 12,
            "early_stopping_patience": 3,
            "precompute_features": False,
        },
        # BLEU scores after training and `cnnrnn predict` use beam search.
        "inference": {"beam_width": 3},
    },
    # 7 M FLOPs per example instead of 27 M; batches of 64 at a faster rate,
    # 3 epochs. 2 cores with AVX-512, seeds 1/2/3: 16.1/16.3/14.4 s of
    # training, test BLEU-4 with beam search 0.68/0.76/0.74 (batches of 32 at
    # 2e-3 for 7 epochs: 31 s, 0.91; the best constant caption: 0.40).
    demo={
        "data": {"batch_size": 64, "image_size": [32, 32]},
        "model": {"encoder_filters": 8, "units": 64, "learning_rate": 4e-3},
        "training": {"epochs": 3},
    },
    model_from_data=("vocabulary", "image_shape", "max_length"),
    reports=(Lazy("cnnrnn.captioning:write_examples_report"),),
    evaluation_options=lambda config: {
        "vocabulary": config["model_from_data"]["vocabulary"],
        "max_length": config["model_from_data"]["max_length"],
    },
    evaluation_metrics=Lazy("cnnrnn.captioning:bleu_metrics"),
    prepare_fine_tuning=Lazy("cnnrnn.models.backbones:prepare_fine_tuning"),
    feature_models=Lazy("cnnrnn.models.image_captioner:feature_models"),
    caption_files=caption_files,
    search_space={
        **COMMON_SPACE,
        "encoder_depth": {"min": 2, "max": 4},
        "encoder_filters": {"values": [8, 16, 32]},
        "activation": ACTIVATIONS,
        "units": {"values": [64, 128, 256]},
        "embedding_dim": {"values": [32, 64, 128]},
        "rnn_type": RNN_TYPES,
        "attention": {"values": ["bahdanau", "luong", "none"]},
    },
)
