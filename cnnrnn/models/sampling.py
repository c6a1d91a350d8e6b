"""Choosing the next token from logits: greedy, temperature, top-k and top-p."""

import numpy as np

from cnnrnn.models.checks import check_int, is_int


def check_sampling_options(*, temperature, top_k, top_p):
    """Raises `ValueError` for sampling options out of range."""
    if isinstance(temperature, bool) or not isinstance(temperature, int | float):
        temperature = None
    if temperature is None or temperature < 0:
        raise ValueError(
            "Argument `temperature` must be a number >= 0 (0 picks the most "
            f"probable token). Received: temperature={temperature!r}"
        )
    if top_k is not None:
        check_int("top_k", top_k)
    if top_p is not None and (
        isinstance(top_p, bool)
        or not isinstance(top_p, int | float)
        or not 0 < top_p <= 1
    ):
        raise ValueError(
            f"Argument `top_p` must be in (0, 1]. Received: top_p={top_p!r}"
        )


def sample_from_logits(
    logits, *, rng, temperature=1.0, top_k=None, top_p=None, banned=()
):
    """Draws one token id per row of `logits`.

    Args:
        logits: array of shape `(batch, vocab_size)`: unnormalised
            log-probabilities.
        rng: `numpy.random.Generator`. Source of randomness; the same seed
            draws the same tokens.
        temperature: float. Divides the logits: below 1 sharpens, above 1
            flattens the distribution; 0 always picks the most probable
            token. Defaults to 1.0.
        top_k: int or None. Keep only the `top_k` most probable tokens.
            Defaults to None (all).
        top_p: float or None. Keep only the most probable tokens whose
            probabilities add up to `top_p` (nucleus sampling; the most
            probable token is always kept). Defaults to None (all).
        banned: sequence of int. Token ids never drawn (e.g. the
            out-of-vocabulary id). Defaults to `()`.

    Returns:
        An int64 array of shape `(batch,)`.

    Example:

    >>> rng = np.random.default_rng(0)
    >>> sample_from_logits(np.array([[0.0, 5.0, 1.0]]), rng=rng, temperature=0)
    array([1])
    """
    check_sampling_options(temperature=temperature, top_k=top_k, top_p=top_p)
    logits = np.array(logits, dtype=np.float64)
    logits[:, list(banned)] = -np.inf
    if temperature == 0:
        return np.argmax(logits, axis=-1)
    logits = logits / temperature
    if is_int(top_k) and top_k < logits.shape[-1]:
        kth_largest = np.partition(logits, -top_k, axis=-1)[:, -top_k, None]
        logits[logits < kth_largest] = -np.inf
    probabilities = np.exp(logits - logits.max(axis=-1, keepdims=True))
    probabilities /= probabilities.sum(axis=-1, keepdims=True)
    if top_p is not None and top_p < 1:
        order = np.argsort(-probabilities, axis=-1)
        ranked = np.take_along_axis(probabilities, order, axis=-1)
        outside = np.cumsum(ranked, axis=-1) - ranked >= top_p
        kept = np.zeros_like(probabilities)
        np.put_along_axis(kept, order, np.where(outside, 0.0, ranked), axis=-1)
        probabilities = kept / kept.sum(axis=-1, keepdims=True)
    cumulative = np.cumsum(probabilities, axis=-1)
    draws = rng.random((len(probabilities), 1)) * cumulative[:, -1:]
    ids = (cumulative <= draws).sum(axis=-1)
    return np.minimum(ids, probabilities.shape[-1] - 1)
