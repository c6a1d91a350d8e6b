"""Pretrained `keras.applications` backbones shared by the image models."""

import functools

import keras

# Backbone name -> (keras.applications constructor, (scale, offset) that maps raw
# 0..255 pixels to the range the backbone expects, or None when the backbone
# includes its own preprocessing and takes raw pixels).
_BACKBONES = {
    # The smallest: width multiplier 0.25, 0.47 M parameters.
    "mobilenet_v1_0.25": (
        functools.partial(keras.applications.MobileNet, alpha=0.25),
        (1 / 127.5, -1.0),
    ),
    "mobilenet_v2": (keras.applications.MobileNetV2, (1 / 127.5, -1.0)),
    "mobilenet_v3_small": (keras.applications.MobileNetV3Small, None),
    "mobilenet_v3_large": (keras.applications.MobileNetV3Large, None),
    "efficientnet_b0": (keras.applications.EfficientNetB0, None),
    "efficientnet_v2_b0": (keras.applications.EfficientNetV2B0, None),
}
# Names of the backbones, as accepted by `backbone_features`.
BACKBONES = tuple(_BACKBONES)
# Smallest height and width of an image that every backbone accepts.
MIN_BACKBONE_SIZE = 32
# The image encoders of the models: a small CNN, then the backbones.
IMAGE_ENCODERS = ("small_cnn", *BACKBONES)


def check_image_encoder(name, encoder, *, weights):
    """Raises `ValueError` unless `encoder` is one of `IMAGE_ENCODERS` and
    `weights` (None or `"imagenet"`) suits it; `name` is the argument's name."""
    if not isinstance(encoder, str) or encoder not in IMAGE_ENCODERS:
        expected = ", ".join(repr(choice) for choice in IMAGE_ENCODERS)
        raise ValueError(
            f"Unknown encoder. Received: {name}={encoder!r}. Expected one of "
            f"{expected}."
        )
    if weights not in (None, "imagenet"):
        raise ValueError(
            f"Received: weights={weights!r}. Expected one of None, 'imagenet'."
        )
    if weights is not None and encoder == "small_cnn":
        raise ValueError(
            "Pretrained weights need a keras.applications encoder. "
            f"Received: weights={weights!r}, {name}='small_cnn'"
        )


def backbone_features(
    x, backbone, *, weights, train_backbone, input_shape, name, pooling="avg"
):
    """Applies a `keras.applications` backbone to raw pixels, then pools.

    Adds the rescaling that the backbone expects (a `Rescaling` layer named
    `f"{name}_rescaling"`, for the backbones without their own preprocessing),
    then the backbone without its top, with global average pooling, named
    `f"{name}_backbone"` (or, with `pooling=None`, the grid of features
    before pooling). Unless `train_backbone`, the backbone is frozen and
    called in inference mode.

    Args:
        x: tensor of shape `(batch, height, width, 3)`, raw pixels in
            `[0, 255]`.
        backbone: str. One of `BACKBONES`.
        weights: str or None. `"imagenet"` (downloaded on first use) or None
            for random weights.
        train_backbone: bool. Whether the backbone is trainable.
        input_shape: tuple of 3 ints. `(height, width, 3)`, at least
            `MIN_BACKBONE_SIZE` high and wide.
        name: str. Prefix of the layer names.
        pooling: `"avg"` or None. None keeps the grid of features. Defaults
            to `"avg"`.

    Returns:
        Tensor of shape `(batch, features)`, or `(batch, rows, columns,
        features)` with `pooling=None`.

    Example:

    >>> images = keras.Input(shape=(32, 32, 3))
    >>> backbone_features(
    ...     images,
    ...     "mobilenet_v3_small",
    ...     weights=None,
    ...     train_backbone=False,
    ...     input_shape=(32, 32, 3),
    ...     name="demo",
    ... ).shape
    (None, 576)
    """
    constructor, rescaling = _BACKBONES[backbone]
    if rescaling is not None:
        scale, offset = rescaling
        x = keras.layers.Rescaling(scale, offset=offset, name=f"{name}_rescaling")(x)
    base = constructor(
        include_top=False, weights=weights, input_shape=input_shape, pooling=pooling
    )
    # Renamed afterwards: EfficientNetV2 constructors look their blocks up by name.
    base.name = f"{name}_backbone"
    if train_backbone:
        return base(x)
    base.trainable = False
    return base(x, training=False)
