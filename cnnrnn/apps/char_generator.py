"""The character-level text generator: an LSTM/GRU with stateful sampling."""

from cnnrnn.apps.base import COMMON_SPACE, RNN_TYPES, App, Lazy
from cnnrnn.demos.char_generator import CHAR_DEMO_FILE
from cnnrnn.errors import DataError


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


APP = App(
    name="char-generator",
    summary="text -> next character (LSTM/GRU); fast stateful sampling",
    build_model=Lazy("cnnrnn.models.char_generator:build_char_generator"),
    load_data=Lazy("cnnrnn.data.chars:load_char_corpus"),
    write_demo_data=Lazy("cnnrnn.demos.char_generator:write_char_demo"),
    demo_source=CHAR_DEMO_FILE,
    small_demo={"num_speeches": 30},
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
    # One layer (of the default 256 units) at a faster rate, 6 epochs: 12.6-13.9
    # s of training on 2 cores with AVX-512 (seeds 1/2/3), validation
    # 0.83/0.65/0.64 bits per character (two layers of 128 units for 20
    # epochs: 38 s, 0.70).
    demo={
        "model": {"num_layers": 1, "learning_rate": 5e-3},
        "training": {"epochs": 6},
    },
    model_from_data=("vocabulary", "lowercase"),
    reports=(Lazy("cnnrnn.generation:write_samples_report"),),
    evaluation_options=lambda config: {
        "vocabulary": config["model_from_data"]["vocabulary"]
    },
    sampler=Lazy("cnnrnn.models.char_generator:CharSampler"),
    search_space={
        **COMMON_SPACE,
        "rnn_type": RNN_TYPES,
        "num_layers": {"min": 1, "max": 3},
        "units": {"values": [128, 256, 512]},
        "embedding_dim": {"values": [32, 64, 128]},
    },
)
