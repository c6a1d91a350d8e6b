"""Building blocks shared by the application models."""

import keras


def conv_block(x, filters, *, name):
    """Applies two 3x3 convolutions, each with batch norm and ReLU, then pools.

    Every convolution is `Conv2D(filters, 3, padding="same", use_bias=False)`
    followed by `BatchNormalization` and `ReLU` (the norm makes a bias
    redundant). The norm's moving statistics use momentum 0.9 (as in PyTorch
    and keras-hub's ResNet) rather than Keras' 0.99, so they settle within a
    few epochs on small datasets. A 2x2 `MaxPooling2D` then halves the height
    and width.

    Args:
        x: tensor of shape `(batch, height, width, channels)`.
        filters: int. Number of filters of both convolutions.
        name: str. Prefix of the layer names: `f"{name}_conv1"`,
            `f"{name}_bn1"`, `f"{name}_relu1"`, ..., `f"{name}_pool"`.

    Returns:
        Tensor of shape `(batch, height // 2, width // 2, filters)`.

    Example:

    >>> inputs = keras.Input(shape=(16, 16, 3))
    >>> conv_block(inputs, 8, name="block1").shape
    (None, 8, 8, 8)
    """
    for i in (1, 2):
        x = keras.layers.Conv2D(
            filters, 3, padding="same", use_bias=False, name=f"{name}_conv{i}"
        )(x)
        x = keras.layers.BatchNormalization(momentum=0.9, name=f"{name}_bn{i}")(x)
        x = keras.layers.ReLU(name=f"{name}_relu{i}")(x)
    return keras.layers.MaxPooling2D(2, name=f"{name}_pool")(x)


@keras.saving.register_keras_serializable(package="cnnrnn")
class ImageAugmentation(keras.layers.Layer):
    """Random flips, rotation, zoom and contrast, active only in training.

    Keras' random preprocessing layers augment whenever `training` is not
    passed, so a model that holds them directly augments when it is called as
    `model(x)` or exported with `model.export()`. This layer wraps them and
    makes inference (no augmentation) the default.

    Args:
        flip: str or None. `RandomFlip` mode. Defaults to
            `"horizontal_and_vertical"`.
        rotation: float. `RandomRotation` factor (fraction of a full turn).
            Defaults to 0.1.
        zoom: float. `RandomZoom` height factor. Defaults to 0.1.
        contrast: float. `RandomContrast` factor. Defaults to 0.1.
        seed: int or None. Seed of the random layers.
        **kwargs: base layer keyword arguments, such as `name`.

    Example:

    >>> augment = ImageAugmentation(rotation=0.2)
    >>> augment(keras.ops.zeros((2, 16, 16, 3)), training=True).shape
    (2, 16, 16, 3)
    """

    def __init__(
        self,
        flip="horizontal_and_vertical",
        rotation=0.1,
        zoom=0.1,
        contrast=0.1,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.flip, self.rotation, self.zoom = flip, rotation, zoom
        self.contrast, self.seed = contrast, seed
        self.augmentations = [
            keras.layers.RandomFlip(flip, seed=seed) if flip else None,
            keras.layers.RandomRotation(rotation, seed=seed) if rotation else None,
            keras.layers.RandomZoom(zoom, seed=seed) if zoom else None,
            keras.layers.RandomContrast(contrast, seed=seed) if contrast else None,
        ]
        self.augmentations = [layer for layer in self.augmentations if layer]

    def build(self, input_shape):
        for layer in self.augmentations:
            layer.build(input_shape)

    def call(self, inputs, training=False):
        if not training:
            return inputs
        for layer in self.augmentations:
            inputs = layer(inputs, training=True)
        return inputs

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "flip": self.flip,
            "rotation": self.rotation,
            "zoom": self.zoom,
            "contrast": self.contrast,
            "seed": self.seed,
        }
