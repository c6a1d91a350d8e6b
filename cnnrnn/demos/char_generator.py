"""Demo data of the character generator: a generated play of short speeches."""

import pathlib

import numpy as np

from cnnrnn.data.options import check_positive_int
from cnnrnn.demos.common import pick, staging_folder

CHAR_DEMO_FILE = "play.txt"


def write_char_demo(directory, *, num_speeches=1500, seed=0):
    """Writes a generated play-like text for training a character-level model.

    The play is a sequence of speeches separated by blank lines. Each speech
    is a speaker's name in capitals followed by a colon (`ROMEO:`), then one
    to three lines built from a small grammar of determiners, adjectives,
    nouns, verbs and prepositions, plus a few set phrases, each line
    capitalised and ending in ".", "!" or "?". The speaker changes at every
    speech. Its spelling, layout and grammar are easy to learn, and the default
    size (about 120 KB) is small enough to train a char-RNN on a CPU in
    minutes. The same seed writes an identical file.

    The file is written in a temporary sibling folder which is then renamed,
    so `directory` is either complete or absent.

    Args:
        directory: str or path. Folder to create; it must be absent or empty.
        num_speeches: int. Number of speeches. Defaults to `1500`.
        seed: int. Seed of the generator. Defaults to `0`.

    Returns:
        The folder as a `pathlib.Path`, holding `CHAR_DEMO_FILE` (`play.txt`),
        UTF-8 text ending with a newline.

    Raises:
        DataError: if `directory` exists and is not an empty folder, or an
            option is invalid.

    Example:

    >>> path = write_char_demo("play")
    >>> data = cnnrnn.data.chars.load_char_corpus(path / "play.txt")
    """
    check_positive_int("num_speeches", num_speeches)
    directory = pathlib.Path(directory)
    with staging_folder(directory) as staging:
        rng = np.random.default_rng(seed)
        speeches, speaker = [], None
        for _ in range(num_speeches):
            speaker = pick(rng, [s for s in _SPEAKERS if s != speaker])
            speeches.append(_speech(speaker, rng))
        (staging / CHAR_DEMO_FILE).write_text(
            "\n".join(speeches), encoding="utf-8", newline="\n"
        )
    return directory


# Play speeches for the character-level demo.

_SPEAKERS = ("ROMEO", "JULIET", "HAMLET", "OPHELIA", "MACBETH", "PORTIA")
_DETERMINERS = ("the", "the", "my", "thy", "our", "this", "yon")
_PLAY_ADJECTIVES = (
    "gentle", "quiet", "sweet", "noble", "fair", "cruel", "bright", "dark",
    "proud", "silent", "golden", "bitter", "weary", "wild", "tender",
)  # fmt: skip
_NOUNS = (
    "moon", "sea", "heart", "night", "king", "lady", "sword", "rose", "star",
    "friend", "crown", "storm", "garden", "tower", "soul", "dream", "river",
    "castle", "heaven", "grave",
)  # fmt: skip
_VERBS = (
    "shine", "weep", "sleep", "burn", "fade", "sing", "wait", "call", "fall",
    "rise", "tremble", "wander", "dream", "speak", "mourn",
)  # fmt: skip
_PREPOSITIONS = ("upon", "beneath", "beside", "within", "for", "against")
_LINES = (
    "{det} {adj} {noun} doth {verb} {prep} {det2} {adj2} {noun2}.",
    "{det} {noun} doth {verb} {prep} {det2} {noun2}!",
    "{det} {adj} {noun} shall {verb} no more.",
    "why doth {det} {adj} {noun} {verb}?",
    "o {adj} {noun}, {verb} {prep} {det2} {noun2}!",
    "canst thou {verb} {prep} {det} {adj} {noun}?",
    "good night, sweet {noun}, and fare thee well!",
    "alas, the night is long.",
    "what say you?",
    "i pray thee, stay a while.",
)


def _speech(speaker, rng):
    """One speech: the speaker's line, then one to three verse lines."""
    lines = [f"{speaker}:"]
    for _ in range(rng.integers(1, 4)):
        line = pick(rng, _LINES).format(
            det=pick(rng, _DETERMINERS),
            adj=pick(rng, _PLAY_ADJECTIVES),
            noun=pick(rng, _NOUNS),
            verb=pick(rng, _VERBS),
            prep=pick(rng, _PREPOSITIONS),
            det2=pick(rng, _DETERMINERS),
            adj2=pick(rng, _PLAY_ADJECTIVES),
            noun2=pick(rng, _NOUNS),
        )
        lines.append(line[0].upper() + line[1:])
    return "\n".join(lines) + "\n"
