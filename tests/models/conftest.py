"""The model tests run Keras's train and predict steps eagerly on tensorflow.

Tracing a small model's train step costs seconds (a two-layer bidirectional
GRU video classifier: 7.4 s, against 0.4 s eagerly), and what most of these
tests check (shapes, masking, saving, options, decoding) is the same either
way. Every configuration's smoke test and every learning check run traced
(`test_case.keras_steps`, the `graph` mark), as a user's training does; so
do all tests outside `tests/models`.
"""

import pytest
from test_case import keras_steps


@pytest.fixture(autouse=True)
def eager_unless_graph(request):
    with keras_steps(eager=request.node.get_closest_marker("graph") is None):
        yield
