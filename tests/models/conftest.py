"""The model tests run Keras's train and predict steps eagerly on tensorflow.

Tracing a small model's train step costs seconds (a two-layer bidirectional
GRU video classifier: 7.4 s, against 0.4 s eagerly), and what most of these
tests check (shapes, masking, saving, options, decoding) is the same either
way. Every configuration's smoke test and every learning check run traced
(`test_case.traced`, the `graph` mark), as a user's training does; so do all
tests outside `tests/models`.
"""

import keras
import pytest


@pytest.fixture(autouse=True)
def eager_unless_graph(request):
    if (
        keras.backend.backend() != "tensorflow"
        or request.node.get_closest_marker("graph") is not None
    ):
        yield
        return
    import tensorflow as tf

    tf.config.run_functions_eagerly(True)
    try:
        yield
    finally:
        tf.config.run_functions_eagerly(False)
