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
