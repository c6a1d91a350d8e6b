"""Caption quality: corpus BLEU on a data split, and example captions for a run."""

import warnings

import numpy as np
from nltk.translate.bleu_score import corpus_bleu

from cnnrnn import plots, runs
from cnnrnn.models.image_captioner import CaptionDecoder

BLEU_ORDERS = (1, 2, 3, 4)
EXAMPLES_FILE = "captions.txt"
NUM_EXAMPLES = 12


def bleu_scores(references, captions):
    """Corpus BLEU-1 to BLEU-4 of captions against their references (nltk).

    Args:
        references: list (one entry per image) of lists of reference
            captions, each a list of tokens.
        captions: list of str, one generated caption per image.

    Returns:
        `{"bleu_1": ..., "bleu_4": ...}`: floats in [0, 1], without
        smoothing (the standard corpus BLEU of captioning papers).

    Example:

    >>> bleu_scores([[["a", "red", "circle"]]], ["a red circle"])["bleu_1"]
    1.0
    """
    hypotheses = [text.split() for text in captions]
    weights = [tuple(1 / n for _ in range(n)) for n in BLEU_ORDERS]
    with warnings.catch_warnings():  # nltk warns when an n-gram order has no match
        warnings.simplefilter("ignore", UserWarning)
        scores = corpus_bleu(references, hypotheses, weights=weights)
    return {f"bleu_{n}": float(s) for n, s in zip(BLEU_ORDERS, scores, strict=True)}


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
