"""Private Keras / Keras Tuner APIs: an untested release series warns once."""

import importlib.metadata
import warnings

import pytest

from cnnrnn import private_api


@pytest.fixture
def installed(monkeypatch):
    """Sets the version `importlib.metadata` reports for every distribution."""
    private_api.check.cache_clear()
    yield lambda version: monkeypatch.setattr(
        importlib.metadata, "version", lambda distribution: version
    )
    private_api.check.cache_clear()


def test_a_checked_series_is_silent(installed):
    installed(f"{private_api.CHECKED['keras'][-1]}.9")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert private_api.check("keras", "Model profiling")


def test_another_series_warns_once_and_says_what_to_do(installed):
    installed("9.0.1")
    pinned = private_api.CHECKED["keras-tuner"][-1]
    with pytest.warns(private_api.UncheckedVersionWarning) as caught:
        assert not private_api.check("keras-tuner", "Resumable searches")
        assert not private_api.check("keras-tuner", "Resumable searches")
    (warning,) = caught
    message = str(warning.message)
    assert message.startswith("Resumable searches uses private keras-tuner APIs")
    assert "installed 9.0.1" in message
    assert f"install keras-tuner=={pinned}.*" in message
