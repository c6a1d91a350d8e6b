"""Model factories, one module per application, and shared blocks."""

from cnnrnn.models.plant_classifier import build_plant_classifier, prepare_fine_tuning
from cnnrnn.models.sentiment import build_sentiment_rnn

__all__ = ["build_plant_classifier", "build_sentiment_rnn", "prepare_fine_tuning"]
