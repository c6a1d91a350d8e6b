"""Plant classifier: RGB image -> class, from scratch or on a pretrained backbone."""

import keras

from cnnrnn.models.backbones import (
    MIN_BACKBONE_SIZE,
    backbone_features,
    check_backbone,
    check_weights,
)
from cnnrnn.models.checks import (
    check_activation,
    check_fraction,
    check_image_shape,
    check_int,
    check_optimizer,
    check_positive,
    compile_like,
)
from cnnrnn.models.layers import ImageAugmentation, classifier_model, conv_block


def build_plant_classifier(
    *,
    image_shape=(64, 64, 3),
    num_classes,
    backbone=None,
    weights=None,
    train_backbone=False,
    depth=3,
    base_filters=32,
    dropout=0.2,
    augment=True,
    learning_rate=1e-3,
    optimizer="adam",
    weight_decay=0.0,
    activation="relu",
    compile=True,
    name=None,
):
    """Builds an image classifier that takes raw RGB pixels.

    The model takes float32 images with values in `[0, 255]`. Random
    augmentation (flips, rotation, zoom, contrast; active only in training)
    and the rescaling that the network expects are layers of the model, so a
    saved model takes raw pixels too.

    Without a `backbone` the features come from `depth` convolution blocks
    (see `cnnrnn.models.layers.conv_block`) with `base_filters * 2**i`
    filters, then global average pooling. With a `backbone` they come from a
    `keras.applications` model, named `f"{name}_backbone"`, which is frozen
    (and run in inference mode) unless `train_backbone=True`. Either way a
    dropout layer and a float32 softmax `Dense` layer follow, so the model
    also works under a `"mixed_float16"` dtype policy.

    Args:
        image_shape: tuple of 3 ints. `(height, width, 3)`; at least 32x32
            with a backbone, at least `2**depth` without. Defaults to
            `(64, 64, 3)`.
        num_classes: int. Number of classes, at least 2.
        backbone: str or None. One of `cnnrnn.models.backbones.BACKBONES`
            (`"mobilenet_v1_0.25"`, `"mobilenet_v2"`, ...), any
            `keras.applications` model name (`"ResNet50"`, ...), or None for
            the convolution blocks. Defaults to None.
        weights: str or None. `"imagenet"` for Keras's cached ImageNet
            weights (`$KERAS_HOME/models`), the path of a weights file, or
            None for random ones. Needs a `backbone`. Defaults to None.
        train_backbone: bool. Whether the backbone is trainable from the
            start. Defaults to False; see `prepare_fine_tuning` for the
            second phase of frozen-then-fine-tune training.
        depth: int. Number of convolution blocks, at least 1. Ignored with a
            backbone. Defaults to 3.
        base_filters: int. Filters of the first block, at least 1. Ignored
            with a backbone. Defaults to 32.
        dropout: float. Dropout rate before the classifier, in `[0, 1)`.
            Defaults to 0.2.
        augment: bool. Whether to add the random augmentation layers.
            Defaults to True.
        learning_rate: float. Learning rate of the optimizer, positive.
            Defaults to 1e-3.
        optimizer: str. One of `"adam"`, `"rmsprop"`, `"sgd"` (momentum
            0.9). Defaults to `"adam"`.
        weight_decay: float. Decoupled weight decay, >= 0, applied by the
            optimizer to every trainable variable's update (see
            `cnnrnn.models.checks.make_optimizer`); 0 for none. Defaults to
            0.0.
        activation: str. Activation of the convolution blocks: one of
            `"relu"`, `"gelu"`, `"silu"`, `"elu"`. Ignored with a backbone.
            Defaults to `"relu"`.
        compile: bool. Whether to compile the model with the optimizer,
            sparse categorical cross-entropy and accuracy. Defaults to True.
        name: str or None. Model name and prefix of every layer name.
            Defaults to `"plant_classifier"`.

    Returns:
        A functional `keras.Model` mapping `(batch, height, width, 3)` images
        to `(batch, num_classes)` class probabilities.

    Raises:
        ValueError: if an argument is out of range or unknown.

    Example:

    >>> model = build_plant_classifier(image_shape=(32, 32, 3), num_classes=4)
    >>> model.output_shape
    (None, 4)
    """
    _validate(
        image_shape=image_shape,
        num_classes=num_classes,
        backbone=backbone,
        weights=weights,
        depth=depth,
        base_filters=base_filters,
        dropout=dropout,
    )
    check_positive("learning_rate", learning_rate)
    check_optimizer(optimizer, weight_decay)
    check_activation(activation)
    name = name or "plant_classifier"
    image_shape = tuple(image_shape)

    inputs = keras.Input(shape=image_shape, name="images")
    x = ImageAugmentation(name=f"{name}_augmentation")(inputs) if augment else inputs
    if backbone is None:
        x = keras.layers.Rescaling(1 / 255, name=f"{name}_rescaling")(x)
        for i in range(depth):
            x = conv_block(
                x,
                base_filters * 2**i,
                name=f"{name}_block{i + 1}",
                activation=activation,
            )
        x = keras.layers.GlobalAveragePooling2D(name=f"{name}_pool")(x)
    else:
        x = backbone_features(
            x,
            backbone,
            weights=weights,
            train_backbone=train_backbone,
            image_shape=image_shape,
            name=name,
        )
    return classifier_model(
        inputs,
        x,
        num_classes=num_classes,
        dropout=dropout,
        learning_rate=learning_rate,
        optimizer=optimizer,
        weight_decay=weight_decay,
        compile=compile,
        name=name,
    )


def feature_models(model, *, learning_rate=None):
    """Splits a plant classifier for training on precomputed backbone features.

    With a frozen backbone (`train_backbone=False`) the features of every
    image never change, so they can be computed once (`image_features`) and
    the classifier trained on them (`head`): no backbone pass per epoch. The
    features are computed in inference mode, so without augmentation. `head`
    shares its weights with `model`: fitting it trains `model`, which still
    takes raw pixels and is the model to save.

    Args:
        model: `keras.Model` made by `build_plant_classifier` with a
            `backbone` and `train_backbone=False`.
        learning_rate: float or None. Learning rate of `head`, positive, or
            None for the one of `model`'s optimizer. Defaults to None.

    Returns:
        A tuple `(image_features, head)`: `image_features` maps images to
        pooled backbone features `(batch, features)`, for inference only;
        `head` maps features to class probabilities and is compiled like
        `model` (see `cnnrnn.models.checks.compile_like`).

    Raises:
        ValueError: if `model` has no backbone or a trainable one, or is not
            compiled and no `learning_rate` is given.

    Example:

    >>> model = build_plant_classifier(
    ...     image_shape=(32, 32, 3), num_classes=3, backbone="mobilenet_v1_0.25"
    ... )
    >>> image_features, head = feature_models(model)
    >>> image_features.output_shape
    (None, 256)
    """
    layers = {layer.name: layer for layer in model.layers}
    backbone = layers.get(f"{model.name}_backbone")
    if backbone is None:
        raise ValueError(
            "Precomputing features needs a plant classifier with a backbone: "
            f"build with backbone=... . Received: model={model.name!r}"
        )
    if backbone.trainable_weights:
        raise ValueError(
            "Precomputing features needs a frozen backbone: build with "
            f"train_backbone=False. Received: a backbone with "
            f"{len(backbone.trainable_weights)} trainable weights"
        )
    dropout = layers[f"{model.name}_dropout"]
    image_features = keras.Model(
        model.inputs, dropout.input, name=f"{model.name}_image_features"
    )
    features = keras.Input(shape=dropout.input.shape[1:], name="features")
    outputs = layers[f"{model.name}_predictions"](dropout(features))
    head = keras.Model(features, outputs, name=f"{model.name}_head")
    compile_like(head, model, learning_rate)
    return image_features, head


def _validate(
    *, image_shape, num_classes, backbone, weights, depth, base_filters, dropout
):
    check_int("num_classes", num_classes, minimum=2)
    if backbone is not None:
        check_backbone("backbone", backbone, others=(None,))
    check_weights(weights)
    if weights is not None and backbone is None:
        raise ValueError(
            "Pretrained weights need a backbone. "
            f"Received: weights={weights!r}, backbone=None."
        )
    check_int("depth", depth)
    check_int("base_filters", base_filters)
    check_fraction("dropout", dropout)
    check_image_shape("image_shape", image_shape)
    min_size = MIN_BACKBONE_SIZE if backbone else 2**depth
    if min(image_shape[:2]) < min_size:
        reason = f"backbone={backbone!r}" if backbone else f"depth={depth}"
        raise ValueError(
            f"Images must be at least {min_size}x{min_size} with {reason}. "
            f"Received: image_shape={image_shape!r}"
        )
