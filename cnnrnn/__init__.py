"""cnnrnn: reusable Keras 3 application templates."""

__version__ = "0.1.0"
