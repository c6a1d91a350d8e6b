"""Pretrained word vectors (GloVe or word2vec text format) for a vocabulary."""

import dataclasses
import functools
import pathlib

import numpy as np

from cnnrnn.errors import DataError

# At most this many missing words are listed in `WordVectors.missing`.
_MAX_LISTED = 20


@dataclasses.dataclass(frozen=True)
class WordVectors:
    """The rows of an embedding matrix read from a word vectors file.

    Args:
        matrix: float32 array `(num_ids, dim)`: row `i` is the vector of word
            id `i`. Ids without a vector in the file (the padding and
            out-of-vocabulary ids too) get small random vectors of the file's
            spread, fixed by the vocabulary.
        num_found: int. Words of the vocabulary found in the file.
        num_missing: int. Words of the vocabulary not in the file.
        missing: list of str. The first missing words, most frequent first.
    """

    matrix: np.ndarray
    num_found: int
    num_missing: int
    missing: list

    def summary(self):
        """A one-line account of the words found and missing."""
        total = self.num_found + self.num_missing
        text = (
            f"{self.num_found} of {total} words have a pretrained vector "
            f"(dim {self.matrix.shape[1]})"
        )
        if self.missing:
            text += f"; {self.num_missing} missing, e.g. {', '.join(self.missing[:5])}"
        return text


def read_word_vectors(path, vocabulary, *, num_reserved=2):
    """Reads the vectors of a vocabulary's words from a text vectors file.

    The file holds one word per line followed by its vector, separated by
    spaces (GloVe's `glove.6B.100d.txt`, or word2vec's text format, whose
    first line `count dim` is skipped). A word is looked up as it is, then
    lowercased. Reading is cached for the last file and vocabulary.

    Args:
        path: str or path. The vectors file.
        vocabulary: list of str. The words, in id order, without the
            `num_reserved` reserved ids that come first.
        num_reserved: int. Ids before the first word (padding and
            out-of-vocabulary for `TextVectorization`). Defaults to 2.

    Returns:
        A `WordVectors`.

    Raises:
        DataError: if the file is missing, holds no vectors, or has a line
            whose vector is not numbers of the same size as the others.

    Example:

    >>> vectors = read_word_vectors("glove.6B.100d.txt", ["good", "film"])
    >>> vectors.matrix.shape
    (4, 100)
    """
    path = pathlib.Path(path)
    if not path.is_file():
        raise DataError(
            f"Word vectors file '{path}' not found: give model.embeddings the "
            "path of a GloVe or word2vec text file (word, then its numbers)."
        )
    return _read(path, path.stat().st_mtime_ns, tuple(vocabulary), num_reserved)


@functools.lru_cache(maxsize=1)
def _read(path, mtime, vocabulary, num_reserved):
    del mtime  # part of the cache key only
    wanted = {word: index for index, word in enumerate(vocabulary)}
    vectors, exact, dim = {}, set(), None
    with path.open(encoding="utf-8", errors="replace") as lines:
        for number, line in enumerate(lines, start=1):
            parts = line.rstrip().split(" ")
            if number == 1 and len(parts) == 2 and all(p.isdigit() for p in parts):
                continue  # word2vec's header: count and size
            if len(parts) < 2:
                continue
            word, values = parts[0], parts[1:]
            dim = dim or len(values)
            if len(values) != dim:
                raise DataError(
                    f"Word vectors file '{path}', line {number}: {len(values)} "
                    f"numbers after {word!r}, {dim} before: fix or remove the line."
                )
            index = wanted.get(word)
            if index is None:
                index = wanted.get(word.lower())
                if index is None or index in exact:
                    continue
            else:
                exact.add(index)
            try:
                vectors[index] = np.asarray(values, dtype="float32")
            except ValueError:
                raise DataError(
                    f"Word vectors file '{path}', line {number}: the vector of "
                    f"{word!r} is not numbers: fix or remove the line."
                ) from None
    if dim is None:
        raise DataError(
            f"Word vectors file '{path}' holds no vectors: expected lines of a "
            "word and its numbers, separated by spaces."
        )
    found = np.stack(list(vectors.values())) if vectors else np.ones((1, dim))
    random = np.random.default_rng(len(vocabulary))
    matrix = random.normal(0, found.std(), (num_reserved + len(vocabulary), dim))
    for index, vector in vectors.items():
        matrix[num_reserved + index] = vector
    missing = [word for index, word in enumerate(vocabulary) if index not in vectors]
    return WordVectors(
        matrix=matrix.astype("float32"),
        num_found=len(vectors),
        num_missing=len(missing),
        missing=missing[:_MAX_LISTED],
    )
