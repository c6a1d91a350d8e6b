"""Model factories, one module per application, and shared blocks."""

from cnnrnn.models.plant_classifier import build_plant_classifier, prepare_fine_tuning

__all__ = ["build_plant_classifier", "prepare_fine_tuning"]
