import numpy as np
import pytest

from cnnrnn.models.sampling import sample_from_logits

pytestmark = pytest.mark.backends

LOGITS = np.log([[0.05, 0.5, 0.3, 0.15]])


def _draws(n=4000, **options):
    rng = np.random.default_rng(0)
    return sample_from_logits(np.repeat(LOGITS, n, axis=0), rng=rng, **options)


def test_draws_follow_the_probabilities():
    counts = np.bincount(_draws(), minlength=4) / 4000
    np.testing.assert_allclose(counts, [0.05, 0.5, 0.3, 0.15], atol=0.03)


def test_temperature_zero_is_greedy():
    assert set(_draws(temperature=0)) == {1}


def test_low_temperature_sharpens():
    assert np.mean(_draws(temperature=0.3) == 1) > np.mean(_draws() == 1) + 0.2


def test_top_k_keeps_the_k_likeliest():
    assert set(_draws(top_k=2)) == {1, 2}


def test_top_p_keeps_the_nucleus():
    # 0.5 + 0.3 reaches 0.7: the two likeliest tokens form the nucleus.
    assert set(_draws(top_p=0.7)) == {1, 2}
    assert set(_draws(top_p=0.4)) == {1}


def test_banned_tokens_are_never_drawn():
    assert 1 not in set(_draws(banned=(1,)))


def test_same_seed_same_draws():
    np.testing.assert_array_equal(_draws(n=50), _draws(n=50))


@pytest.mark.parametrize(
    "options",
    [{"temperature": -1}, {"temperature": "hot"}, {"top_k": 0}, {"top_p": 0}],
)
def test_bad_options(options):
    with pytest.raises(ValueError):
        _draws(n=1, **options)
