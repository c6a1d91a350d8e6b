"""Model factories, one module per application, and shared blocks."""

from cnnrnn.models.backbones import prepare_fine_tuning
from cnnrnn.models.char_generator import CharSampler, build_char_generator, generate
from cnnrnn.models.image_captioner import (
    CaptionDecoder,
    build_image_captioner,
    caption,
)
from cnnrnn.models.plant_classifier import build_plant_classifier
from cnnrnn.models.row_classifier import build_row_rnn_classifier
from cnnrnn.models.sentiment import build_sentiment_rnn, split_vectorizer
from cnnrnn.models.video_classifier import build_video_classifier

__all__ = [
    "CaptionDecoder",
    "CharSampler",
    "build_char_generator",
    "build_image_captioner",
    "build_plant_classifier",
    "build_row_rnn_classifier",
    "build_sentiment_rnn",
    "build_video_classifier",
    "caption",
    "generate",
    "prepare_fine_tuning",
    "split_vectorizer",
]
