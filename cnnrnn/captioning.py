"""Caption quality: corpus BLEU on a data split, and example captions for a run."""

import math
from collections import Counter

import numpy as np

from cnnrnn import plots, runs
from cnnrnn.models.image_captioner import CaptionDecoder

BLEU_ORDERS = (1, 2, 3, 4)
EXAMPLES_FILE = "captions.txt"
NUM_EXAMPLES = 12


def bleu_scores(references, captions):
    """Corpus BLEU-1 to BLEU-4 of captions against their references.

    The BLEU of Papineni et al. (2002), as coco-caption, multi-bleu.perl and
    sacreBLEU compute it: clipped n-gram matches and n-gram counts summed over
    the corpus, their ratios' geometric mean, times the brevity penalty
    `exp(1 - r / c)` when the captions' total length `c` is below `r`, the sum
    over images of the reference length closest to the caption's (the
    shorter on a tie). A caption shorter than `n` words adds no n-gram to the
    count (nltk's `corpus_bleu` counts one unmatched n-gram for it, which
    lowers BLEU-3 and BLEU-4 of short captions).

    Args:
        references: list (one entry per image) of lists of reference
            captions, each a list of tokens.
        captions: list of str, one generated caption per image.

    Returns:
        `{"bleu_1": ..., "bleu_4": ...}`: floats in [0, 1], without
        smoothing (the standard corpus BLEU of captioning papers): 0 when
        some order up to `n` has no match.

    Example:

    >>> bleu_scores([[["a", "red", "circle"]]], ["a red circle"])["bleu_1"]
    1.0
    """
    if len(references) != len(captions):
        raise ValueError(
            "Expected one list of references per caption. Received: "
            f"{len(references)} lists of references and {len(captions)} captions."
        )
    matches = Counter()
    counts = Counter()
    caption_length = reference_length = 0
    for refs, caption in zip(references, captions, strict=True):
        words = caption.split()
        caption_length += len(words)
        reference_length += min((abs(len(ref) - len(words)), len(ref)) for ref in refs)[
            1
        ]
        for n in BLEU_ORDERS:
            ngrams = _ngrams(words, n)
            most_in_a_reference = Counter()
            for ref in refs:
                most_in_a_reference |= _ngrams(ref, n)
            matches[n] += sum((ngrams & most_in_a_reference).values())
            counts[n] += sum(ngrams.values())
    if caption_length == 0:
        brevity_penalty = 0.0
    elif caption_length >= reference_length:
        brevity_penalty = 1.0
    else:
        brevity_penalty = math.exp(1 - reference_length / caption_length)
    scores = {}
    for n in BLEU_ORDERS:
        orders = range(1, n + 1)
        if any(matches[k] == 0 for k in orders):
            scores[f"bleu_{n}"] = 0.0
            continue
        log_precision = sum(math.log(matches[k] / counts[k]) for k in orders) / n
        scores[f"bleu_{n}"] = float(brevity_penalty * math.exp(log_precision))
    return scores


def _ngrams(tokens, n):
    """How many times each n-gram (a tuple of n tokens) occurs in `tokens`."""
    return Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))


def caption_images(decoder, image_batches, **options):
    """Captions every batch of a dataset of images (`CaptionDecoder.caption`)."""
    captions = []
    for images in image_batches:
        captions += decoder.caption(np.asarray(images), **options)
    return captions


def bleu_metrics(model, splits, split_name, config):
    """BLEU-1..4 of greedy and beam-search captions on one split.

    Args:
        model: a trained `build_image_captioner` model.
        splits: the `DataSplits` of `cnnrnn.data.captions.load_captions`;
            `splits.extras[split_name]` holds the split's images and
            reference captions.
        split_name: str. `"test"` or `"validation"`.
        config: dict. The run configuration: `inference.beam_width` is the
            beam width.

    Returns:
        `{"bleu_1": ..., "bleu_4": ...}` for beam search, the same keys with
        a `greedy_` prefix for greedy decoding, and `beam_width`.
    """
    references = splits.extras.get(split_name)
    if references is None:
        return {}
    decoder = CaptionDecoder(model)
    beam_width = config["inference"]["beam_width"]
    greedy = caption_images(decoder, references.images)
    beam = caption_images(decoder, references.images, beam_width=beam_width)
    greedy_scores = bleu_scores(references.references, greedy)
    return {
        **bleu_scores(references.references, beam),
        **{f"greedy_{key}": value for key, value in greedy_scores.items()},
        "beam_width": beam_width,
    }


def write_examples_report(model, splits, split_name, config, run_dir):
    """Writes captions of a few evaluation images, as text and as a picture.

    `captions.txt` lists, for the first `NUM_EXAMPLES` images of the split,
    the greedy and beam-search captions and the references;
    `plots/captions.png` shows the images with their beam-search captions.

    Returns:
        `{"examples_file": "captions.txt"}`, for `metrics.json`.
    """
    references = splits.extras.get(split_name)
    if references is None:
        return {}
    images = []
    for batch in references.images:
        images += list(np.asarray(batch))
        if len(images) >= NUM_EXAMPLES:
            break
    images = np.array(images[:NUM_EXAMPLES])
    decoder = CaptionDecoder(model)
    beam_width = config["inference"]["beam_width"]
    greedy = decoder.caption(images)
    beam = decoder.caption(images, beam_width=beam_width)
    sections = []
    for index in range(len(images)):
        lines = [
            f"image: {references.names[index]}",
            f"  greedy:  {greedy[index]}",
            f"  beam {beam_width}:  {beam[index]}",
            "  references:",
            *(f"    - {' '.join(tokens)}" for tokens in references.references[index]),
        ]
        sections.append("\n".join(lines))
    with runs.atomic_path(run_dir / EXAMPLES_FILE) as tmp:
        tmp.write_text("\n\n".join(sections) + "\n", encoding="utf-8")
    plots.plot_captioned_images(images, beam, run_dir / runs.PLOTS_DIR / "captions.png")
    return {"examples_file": EXAMPLES_FILE}
