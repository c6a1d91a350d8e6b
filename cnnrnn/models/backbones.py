"""Pretrained `keras.applications` backbones shared by the image models."""

import contextlib
import os
import pathlib
import socket
import urllib.parse

import keras

from cnnrnn.errors import CnnrnnError
from cnnrnn.models.checks import check_positive, compile_like
from cnnrnn.models.layers import ReverseChannels

# Short names -> (keras.applications constructor name, its keyword arguments).
_SHORT_NAMES = {
    # MobileNet v1 at width multiplier 0.25: 0.22 M parameters, the smallest.
    "mobilenet_v1_0.25": ("MobileNet", {"alpha": 0.25}),
    "mobilenet_v1_0.5": ("MobileNet", {"alpha": 0.5}),
    "mobilenet_v1": ("MobileNet", {}),
    "mobilenet_v2": ("MobileNetV2", {}),
    "mobilenet_v3_small": ("MobileNetV3Small", {}),
    "mobilenet_v3_large": ("MobileNetV3Large", {}),
    "efficientnet_b0": ("EfficientNetB0", {}),
    "efficientnet_v2_b0": ("EfficientNetV2B0", {}),
}
# Short names of the small backbones, as accepted by `backbone_features`.
BACKBONES = tuple(_SHORT_NAMES)
# Every `keras.applications` image model, also accepted by its own name.
APPLICATIONS = tuple(name for name in dir(keras.applications) if name[:1].isupper())
# Smallest height and width of an image that every backbone accepts (Inception
# and Xception models want 75 and 71; Keras says so when they get less).
MIN_BACKBONE_SIZE = 32

# How each family of models expects its pixels, made from raw 0..255 RGB (as
# their `preprocess_input` does); the others (EfficientNet, EfficientNetV2,
# MobileNetV3, ConvNeXt) take raw pixels and preprocess inside the model.
_MINUS_ONE_TO_ONE = {
    "MobileNet",
    "MobileNetV2",
    "InceptionV3",
    "InceptionResNetV2",
    "Xception",
    "NASNetMobile",
    "NASNetLarge",
    "ResNet50V2",
    "ResNet101V2",
    "ResNet152V2",
}
_BGR_MINUS_IMAGENET_MEAN = {"VGG16", "VGG19", "ResNet50", "ResNet101", "ResNet152"}
_IMAGENET_STANDARDISED = {"DenseNet121", "DenseNet169", "DenseNet201"}
_IMAGENET_MEAN = (0.485, 0.456, 0.406)  # of RGB pixels scaled to [0, 1]
_IMAGENET_STD = (0.229, 0.224, 0.225)
_CAFFE_BGR_MEAN = (103.939, 116.779, 123.68)  # of BGR pixels in [0, 255]
# Seconds a download of ImageNet weights may wait on the network.
_DOWNLOAD_TIMEOUT = 30


class WeightsError(CnnrnnError, ValueError):
    """Pretrained weights that cannot be found or loaded."""


def check_backbone(name, backbone, *, others=()):
    """Raises `ValueError` unless `backbone` is a short name or an application.

    Args:
        name: str. The argument's name, for the message.
        backbone: one of `BACKBONES` or of `APPLICATIONS` (such as
            `"ResNet50"`).
        others: tuple. The argument's other valid values, for the message.
    """
    if not isinstance(backbone, str) or not (
        backbone in _SHORT_NAMES or backbone in APPLICATIONS
    ):
        expected = ", ".join(repr(choice) for choice in (*others, *BACKBONES))
        raise ValueError(
            f"Unknown {name.replace('_', ' ')}. Received: {name}={backbone!r}. "
            "Expected one of "
            f"{expected}, or a keras.applications model name such as 'ResNet50'."
        )


def check_weights(weights):
    """Raises `ValueError` unless `weights` is None, `"imagenet"` or a file."""
    if weights in (None, "imagenet"):
        return
    if not isinstance(weights, (str, os.PathLike)) or not os.path.isfile(weights):
        raise ValueError(
            f"Weights file not found. Received: weights={weights!r}. Expected "
            "None, 'imagenet' or the path of a keras.applications weights file "
            "(.h5)."
        )


def check_image_encoder(name, encoder, *, weights):
    """Raises `ValueError` unless `encoder` is `"small_cnn"` or a backbone and
    `weights` (None, `"imagenet"` or a weights file) suits it; `name` is the
    argument's name."""
    if encoder != "small_cnn":
        check_backbone(name, encoder, others=("small_cnn",))
    check_weights(weights)
    if weights is not None and encoder == "small_cnn":
        raise ValueError(
            "Pretrained weights need a keras.applications encoder. "
            f"Received: weights={weights!r}, {name}='small_cnn'"
        )


def backbone_features(
    x, backbone, *, weights, train_backbone, image_shape, name, pooling="avg"
):
    """Applies a `keras.applications` backbone to raw pixels, then pools.

    Adds the preprocessing that the backbone expects (layers named
    `f"{name}_rescaling"` and, for some families, `f"{name}_bgr"` and
    `f"{name}_normalization"`; none for the backbones with their own), then
    the backbone without its top, with global average pooling, named
    `f"{name}_backbone"` (or, with `pooling=None`, the grid of features
    before pooling). Unless `train_backbone`, the backbone is frozen and
    called in inference mode.

    Args:
        x: tensor of shape `(batch, height, width, 3)`, raw pixels in
            `[0, 255]`.
        backbone: str. One of `BACKBONES` or of `APPLICATIONS`.
        weights: None for random weights, `"imagenet"` for Keras's cached
            ImageNet file (`$KERAS_HOME/models`, downloaded when missing and
            online), or the path of a weights file.
        train_backbone: bool. Whether the backbone is trainable.
        image_shape: tuple of 3 ints. `(height, width, 3)`, at least
            `MIN_BACKBONE_SIZE` high and wide.
        name: str. Prefix of the layer names.
        pooling: `"avg"` or None. None keeps the grid of features. Defaults
            to `"avg"`.

    Returns:
        Tensor of shape `(batch, features)`, or `(batch, rows, columns,
        features)` with `pooling=None`.

    Raises:
        WeightsError: if the ImageNet weights are neither cached nor
            downloadable, or a weights file does not fit the backbone.

    Example:

    >>> images = keras.Input(shape=(32, 32, 3))
    >>> backbone_features(
    ...     images,
    ...     "mobilenet_v3_small",
    ...     weights=None,
    ...     train_backbone=False,
    ...     image_shape=(32, 32, 3),
    ...     name="demo",
    ... ).shape
    (None, 576)
    """
    application, options = _SHORT_NAMES.get(backbone, (backbone, {}))
    x = backbone_preprocessing(x, application, name=name)
    base = _load_application(
        application,
        weights=weights,
        include_top=False,
        input_shape=image_shape,
        pooling=pooling,
        **options,
    )
    # Renamed afterwards: EfficientNetV2 constructors look their blocks up by name.
    base.name = f"{name}_backbone"
    if train_backbone:
        return base(x)
    base.trainable = False
    return base(x, training=False)


def backbone_preprocessing(x, application, *, name):
    """Maps raw 0..255 RGB pixels to what `application` expects.

    Matches `keras.applications.<family>.preprocess_input` with Keras layers
    (`Rescaling`, `Normalization` and `ReverseChannels`), so a saved model
    loads in safe mode. Returns `x` unchanged for the models that preprocess
    inside themselves.

    Args:
        x: tensor of shape `(batch, height, width, 3)`.
        application: str. One of `APPLICATIONS`.
        name: str. Prefix of the layer names.

    Example:

    >>> images = keras.Input(shape=(32, 32, 3))
    >>> backbone_preprocessing(images, "ResNet50", name="demo").shape
    (None, 32, 32, 3)
    """
    if application in _MINUS_ONE_TO_ONE:
        return keras.layers.Rescaling(1 / 127.5, offset=-1.0, name=f"{name}_rescaling")(
            x
        )
    if application in _BGR_MINUS_IMAGENET_MEAN:
        x = ReverseChannels(name=f"{name}_bgr")(x)
        return keras.layers.Normalization(
            mean=list(_CAFFE_BGR_MEAN), variance=[1.0] * 3, name=f"{name}_normalization"
        )(x)
    if application in _IMAGENET_STANDARDISED:
        x = keras.layers.Rescaling(1 / 255, name=f"{name}_rescaling")(x)
        return keras.layers.Normalization(
            mean=list(_IMAGENET_MEAN),
            variance=[s**2 for s in _IMAGENET_STD],
            name=f"{name}_normalization",
        )(x)
    return x


def _load_application(application, *, weights, **kwargs):
    """Builds `keras.applications.<application>`, with one-line weight errors."""
    constructor = getattr(keras.applications, application)
    if weights != "imagenet":
        model = constructor(weights=None, **kwargs)
        if weights is not None:
            _load_weights_file(model, application, weights)
        return model
    try:
        with _download_timeout(_DOWNLOAD_TIMEOUT):
            return constructor(weights="imagenet", **kwargs)
    except Exception as error:
        message = str(error)
        if not message.startswith("URL fetch failure on "):
            raise
        origin = message.removeprefix("URL fetch failure on ").split(": ")[0]
        file_name = pathlib.PurePosixPath(urllib.parse.urlsplit(origin).path).name
        raise WeightsError(
            f"The ImageNet weights of {application} are not in the Keras cache "
            f"and cannot be downloaded here: put {file_name} in "
            f"{keras_cache_dir()} (or set KERAS_HOME), or give the weights "
            f"file's path as weights=PATH. Source: {origin}"
        ) from error


def _load_weights_file(model, application, path):
    try:
        model.load_weights(str(path))
    except Exception as error:
        lines = str(error).strip().splitlines() or [type(error).__name__]
        raise WeightsError(
            f"Cannot load the weights file {path} into {application}: {lines[0]} "
            "Give a weights file of this model without its top "
            "(include_top=False), for the same alpha where it has one."
        ) from error


def keras_cache_dir():
    """The folder in which Keras looks for `weights="imagenet"` files."""
    home = os.environ.get("KERAS_HOME") or os.path.join(
        os.path.expanduser("~"), ".keras"
    )
    return os.path.join(home, "models")


@contextlib.contextmanager
def _download_timeout(seconds):
    """Bounds each network wait of a download, so offline it fails, never hangs."""
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(seconds)
    try:
        yield
    finally:
        socket.setdefaulttimeout(previous)


def prepare_fine_tuning(model, *, learning_rate):
    """Unfreezes an image model's backbone for the fine-tuning phase.

    Follows the Keras transfer-learning guide: the backbone becomes trainable
    except its `BatchNormalization` layers, which stay frozen (and the model
    already runs the backbone in inference mode when it was built frozen).
    The model is recompiled with its loss and metrics and a fresh optimizer
    of the same kind and settings as its own (so the `optimizer` and
    `weight_decay` it was built with, also after loading) at `learning_rate`;
    use a small rate such as 1e-5. A model that was never compiled gets the
    factory's loss and metrics and Adam without weight decay, since it holds
    no optimizer to copy.

    Args:
        model: `keras.Model` made by `build_plant_classifier`,
            `build_image_captioner` or `build_video_classifier` (its backbone
            is the layer `f"{model.name}_backbone"`, also inside the video
            classifier's frame encoder, which becomes trainable with it).
        learning_rate: float. Learning rate for fine-tuning, positive.

    Returns:
        True if the model has a backbone and was prepared; False, with the
        model unchanged, if it has none.

    Raises:
        ValueError: if `learning_rate` is not positive.

    Example:

    >>> model = build_plant_classifier(
    ...     image_shape=(32, 32, 3), num_classes=3, backbone="mobilenet_v3_small"
    ... )
    >>> prepare_fine_tuning(model, learning_rate=1e-5)
    True
    """
    check_positive("learning_rate", learning_rate)
    path = _path_to_layer(model, f"{model.name}_backbone")
    if path is None:
        return False
    for layer in path:  # a layer is trainable only inside trainable containers
        layer.trainable = True
    for layer in path[-1].layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.trainable = False
    compile_like(model, model, learning_rate)
    return True


def _path_to_layer(container, name):
    """The layers from `container` down to the layer called `name`, or None.

    Looks inside nested models and wrappers (such as `TimeDistributed`).
    """
    children = list(getattr(container, "layers", []))
    if isinstance(container, keras.layers.Wrapper):
        children = [container.layer]
    for child in children:
        if child.name == name:
            return [child]
        below = _path_to_layer(child, name)
        if below is not None:
            return [child, *below]
    return None
