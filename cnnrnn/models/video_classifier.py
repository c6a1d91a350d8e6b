"""Video classifier: clip of frames -> class (per-frame CNN + LSTM/GRU)."""

import keras

from cnnrnn.errors import check_choice
from cnnrnn.models.backbones import (
    MIN_BACKBONE_SIZE,
    backbone_features,
    check_image_encoder,
)
from cnnrnn.models.checks import (
    check_activation,
    check_bool,
    check_fraction,
    check_image_shape,
    check_int,
    check_optimizer,
    check_positive,
    compile_classifier,
    compile_like,
)
from cnnrnn.models.layers import (
    RNN_LAYERS,
    RNN_TYPES,
    ImageAugmentation,
    conv_block,
)


@keras.saving.register_keras_serializable(package="cnnrnn")
class FrameDifferences(keras.layers.Layer):
    """Adds to every frame its change since the previous frame.

    Takes clips `(batch, frames, ..., channels)` (frames of pixels, or of
    features) and returns `(batch, frames, ..., 2 * channels)`: each frame,
    then the frame minus the one before it (zeros for the first frame). What
    moves between frames stands out in the second half whatever the scene
    looks like, so a small frame encoder sees motion directly.

    Args:
        **kwargs: base layer keyword arguments, such as `name`.

    Example:

    >>> clips = keras.ops.ones((2, 4, 8, 8, 3))
    >>> keras.ops.shape(FrameDifferences()(clips))
    (2, 4, 8, 8, 6)
    """

    def call(self, frames):
        previous = keras.ops.concatenate([frames[:, :1], frames[:, :-1]], axis=1)
        return keras.ops.concatenate([frames, frames - previous], axis=-1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], 2 * input_shape[-1])


@keras.saving.register_keras_serializable(package="cnnrnn")
class ClipAugmentation(ImageAugmentation):
    """`ImageAugmentation` of whole clips: one random transform per clip.

    Every frame of a clip gets the same flip, rotation, zoom and contrast
    change (the frames are stacked along the channels for it), so motion
    stays motion. Active only in training. Takes and returns clips
    `(batch, frames, height, width, channels)`.

    Args:
        **kwargs: `ImageAugmentation` arguments; the flip defaults to
            `"horizontal"` (the world is rarely upside down).

    Example:

    >>> augment = ClipAugmentation()
    >>> keras.ops.shape(augment(keras.ops.ones((2, 4, 8, 8, 3)), training=True))
    (2, 4, 8, 8, 3)
    """

    def __init__(self, flip="horizontal", **kwargs):
        super().__init__(flip=flip, **kwargs)

    def build(self, input_shape):
        batch, frames, height, width, channels = input_shape
        super().build((batch, height, width, frames * channels))

    def call(self, inputs, training=False):
        if not training:
            return inputs
        _, frames, height, width, channels = keras.ops.shape(inputs)
        stacked = keras.ops.reshape(
            keras.ops.transpose(inputs, (0, 2, 3, 1, 4)),
            (-1, height, width, frames * channels),
        )
        stacked = super().call(stacked, training=True)
        return keras.ops.transpose(
            keras.ops.reshape(stacked, (-1, height, width, frames, channels)),
            (0, 3, 1, 2, 4),
        )


@keras.saving.register_keras_serializable(package="cnnrnn")
class FrameDistributed(keras.layers.TimeDistributed):
    """Applies a layer to every frame of a clip in one call.

    Like `keras.layers.TimeDistributed`, but the time axis is folded into the
    batch: the wrapped layer sees one batch of `batch * frames` frames, instead
    of being called (and traced) once per frame. A wrapped layer that is not
    trainable always runs in inference mode (batch norm moving statistics, no
    dropout), also inside `fit`, so a frozen frame encoder computes the same
    features in training and inference.

    Args:
        layer: `keras.layers.Layer` (such as a `keras.Model`) mapping
            `(batch, *image_shape)` to `(batch, *feature_shape)`.
        **kwargs: base layer keyword arguments, such as `name`.

    Example:

    >>> encoder = keras.layers.Dense(4)
    >>> keras.ops.shape(FrameDistributed(encoder)(keras.ops.ones((2, 3, 8))))
    (2, 3, 4)
    """

    def call(self, inputs, training=None, mask=None):
        if not self.layer.trainable:
            training = False
        steps = inputs.shape[1]
        if steps is None:
            steps = keras.ops.shape(inputs)[1]
        frames = keras.ops.reshape(inputs, (-1, *inputs.shape[2:]))
        kwargs = {"training": training} if self.layer._call_has_training_arg else {}
        features = self.layer.call(frames, **kwargs)
        return keras.ops.reshape(features, (-1, steps, *features.shape[1:]))

    def compute_mask(self, inputs, mask=None):
        return mask


def build_video_classifier(
    *,
    num_frames=16,
    image_shape=(64, 64, 3),
    num_classes,
    backbone="small_cnn",
    weights=None,
    train_backbone=True,
    frame_differences=False,
    augment=False,
    encoder_depth=3,
    encoder_filters=16,
    encoder_units=128,
    rnn_type="lstm",
    bidirectional=False,
    num_layers=1,
    units=64,
    dropout=0.3,
    learning_rate=1e-3,
    optimizer="adam",
    weight_decay=0.0,
    activation="relu",
    compile=True,
    name=None,
):
    """Builds a clip classifier that takes raw frames and a frame mask.

    The model takes a dict `{"frames": (batch, num_frames, height, width, 3)
    float32 raw pixels in [0, 255], "mask": (batch, num_frames) bool}`, as
    the video data pipeline yields it; the mask is False for the padding
    frames of short clips. It is made of three parts, so that the features of
    a frozen encoder can be precomputed (see `feature_models`):

    1. `f"{name}_frame_encoder"`, a `keras.Model` mapping one frame to a
       feature vector. With `backbone="small_cnn"`: rescaling to
       `[0, 1]`, `encoder_depth` convolution blocks (see
       `cnnrnn.models.layers.conv_block`) with `encoder_filters * 2**i`
       filters, then the flattened feature map through a `Dense` layer of
       `encoder_units` (flattened rather than pooled, so the features keep
       where things are and the recurrent layers can follow motion). With
       the name of a
       `keras.applications` backbone: the backbone's own preprocessing, the
       backbone without its top, and global average pooling. The rescaling is
       part of the model, so a saved model takes raw pixels too.
    2. `f"{name}_frames_encoded"`, a `FrameDistributed` layer (a
       `keras.layers.TimeDistributed` that folds time into the batch)
       applying the encoder to every frame: `(batch, num_frames, features)`.
    3. `f"{name}_sequence_head"`, a `keras.Model` taking
       `{"features": (batch, num_frames, features), "mask": (batch,
       num_frames)}`: `num_layers` LSTM or GRU layers (optionally
       bidirectional), all called with the mask, so the padding frames are
       skipped and a clip gets the same prediction whatever its padding
       frames hold; the last one returns its final state only. Then a
       dropout layer and a float32 softmax `Dense` layer, so the model also
       works under a `"mixed_float16"` dtype policy.

    With `train_backbone=False` the encoder is frozen and always runs in
    inference mode. Every clip needs at least one unmasked frame.

    Args:
        num_frames: int. Frames per clip, at least 1. Defaults to 16.
        image_shape: tuple of 3 ints. A frame's `(height, width, 3)`; at least 32x32
            with a `keras.applications` encoder, at least
            `2**encoder_depth` with `"small_cnn"`. Defaults to `(64, 64, 3)`.
        num_classes: int. Number of classes, at least 2.
        backbone: str. `"small_cnn"`, one of
            `cnnrnn.models.backbones.BACKBONES` (`"mobilenet_v1_0.25"`,
            `"mobilenet_v2"`, ...) or any `keras.applications` model name
            (`"ResNet50"`, ...). Defaults to `"small_cnn"`.
        weights: str or None. `"imagenet"` for Keras's cached ImageNet
            weights (`$KERAS_HOME/models`), the path of a weights file, or
            None for random ones. Needs a `keras.applications`
            `backbone`. Defaults to None.
        train_backbone: bool. Whether the frame encoder is trainable. Set it
            to False with pretrained weights to train only the recurrent
            head (and to precompute the frame features with
            `feature_models`). Defaults to True.
        frame_differences: bool. Whether the model also sees each frame's
            change since the previous one (`FrameDifferences`), so that
            motion stands out: `"small_cnn"` gets the pixel differences (6
            channels in) and sees motion itself; a backbone, which takes 3
            channels, passes the differences of its frame features to the
            recurrent layers. Defaults to False.
        augment: bool. Whether training clips get a random flip, rotation,
            zoom and contrast change, the same for all frames of a clip
            (`ClipAugmentation`); no effect on precomputed features.
            Defaults to False.
        encoder_depth: int. Number of convolution blocks of `"small_cnn"`,
            at least 1. Ignored with a backbone. Defaults to 3.
        encoder_filters: int. Filters of the first block of `"small_cnn"`,
            at least 1. Ignored with a backbone. Defaults to 16.
        encoder_units: int. Size of the `"small_cnn"` frame features, at
            least 1. Ignored with a backbone. Defaults to 128.
        rnn_type: str. `"lstm"` or `"gru"`. Defaults to `"lstm"`.
        bidirectional: bool. Whether every recurrent layer reads the clip in
            both directions (`keras.layers.Bidirectional`). Defaults to False.
        num_layers: int. Number of stacked recurrent layers, at least 1.
            Defaults to 1.
        units: int. Units of every recurrent layer (per direction), at
            least 1. Defaults to 64.
        dropout: float. Dropout rate before the classifier, in `[0, 1)`.
            Defaults to 0.3.
        learning_rate: float. Learning rate of the optimizer, positive.
            Defaults to 1e-3.
        optimizer: str. One of `"adam"`, `"rmsprop"`, `"sgd"` (momentum
            0.9). Defaults to `"adam"`.
        weight_decay: float. Decoupled weight decay, >= 0, applied by the
            optimizer to every trainable variable's update (see
            `cnnrnn.models.checks.make_optimizer`); 0 for none. Defaults to
            0.0.
        activation: str. Activation of the `"small_cnn"` convolution blocks
            and frame-features `Dense` layer: one of `"relu"`, `"gelu"`,
            `"silu"`, `"elu"`. Ignored with a backbone. Defaults to
            `"relu"`.
        compile: bool. Whether to compile the model with the optimizer,
            sparse categorical cross-entropy and accuracy. Defaults to True.
        name: str or None. Model name and prefix of every layer name.
            Defaults to `"video_classifier"`.

    Returns:
        A functional `keras.Model` mapping `{"frames": ..., "mask": ...}` to
        `(batch, num_classes)` float32 class probabilities.

    Raises:
        ValueError: if an argument is out of range or unknown.

    Example:

    >>> model = build_video_classifier(
    ...     num_frames=4, image_shape=(16, 16, 3), num_classes=3
    ... )
    >>> model.output_shape
    (None, 3)
    """
    shared = {
        "num_frames": num_frames,
        "image_shape": image_shape,
        "num_classes": num_classes,
        "backbone": backbone,
        "weights": weights,
        "train_backbone": train_backbone,
        "frame_differences": frame_differences,
        "augment": augment,
        "encoder_depth": encoder_depth,
        "encoder_filters": encoder_filters,
        "encoder_units": encoder_units,
        "dropout": dropout,
        "learning_rate": learning_rate,
        "optimizer": optimizer,
        "weight_decay": weight_decay,
        "activation": activation,
    }
    _validate_encoder(**shared)
    check_choice("rnn_type", rnn_type, RNN_TYPES)
    check_bool("bidirectional", bidirectional)
    check_int("num_layers", num_layers)
    check_int("units", units)
    check_bool("compile", compile)
    name = name or "video_classifier"

    def recurrent_layers(features, mask):
        x = features
        for i in range(1, num_layers + 1):
            rnn = RNN_LAYERS[rnn_type](
                units,
                return_sequences=i < num_layers,
                name=f"{name}_{rnn_type}{i}" if bidirectional else f"{name}_rnn{i}",
            )
            if bidirectional:
                rnn = keras.layers.Bidirectional(rnn, name=f"{name}_rnn{i}")
            x = rnn(x, mask=mask)
        return x

    return _build(recurrent_layers, **shared, compile=compile, name=name)


def build_frame_average_classifier(
    *,
    num_frames=16,
    image_shape=(64, 64, 3),
    num_classes,
    backbone="small_cnn",
    weights=None,
    train_backbone=True,
    frame_differences=False,
    augment=False,
    encoder_depth=3,
    encoder_filters=16,
    encoder_units=128,
    dropout=0.3,
    learning_rate=1e-3,
    optimizer="adam",
    weight_decay=0.0,
    activation="relu",
    compile=True,
    name=None,
):
    """Builds a baseline clip classifier that averages the frame features.

    The same model as `build_video_classifier` (same inputs, frame encoder,
    `f"{name}_frames_encoded"` and `f"{name}_sequence_head"` parts, so
    `feature_models` works on it too), except that the sequence head takes
    the mean of the features of the unmasked frames instead of running
    recurrent layers over them. It ignores the order of the frames, so it
    cannot tell motions apart whose frames look alike (such as moving left
    from moving right): the baseline that shows what the recurrent layers
    add.

    Args:
        num_frames: int. Frames per clip, at least 1. Defaults to 16.
        image_shape: tuple of 3 ints. A frame's `(height, width, 3)`; at least 32x32
            with a `keras.applications` encoder, at least
            `2**encoder_depth` with `"small_cnn"`. Defaults to `(64, 64, 3)`.
        num_classes: int. Number of classes, at least 2.
        backbone: str. `"small_cnn"` or a `keras.applications` backbone
            (see `build_video_classifier`). Defaults to `"small_cnn"`.
        weights: str or None. `"imagenet"`, a weights file or None. Needs
            a `keras.applications` `backbone`. Defaults to None.
        train_backbone: bool. Whether the frame encoder is trainable.
            Defaults to True.
        frame_differences: bool. As in `build_video_classifier`. Defaults to
            False.
        augment: bool. As in `build_video_classifier`. Defaults to False.
        encoder_depth: int. Number of convolution blocks of `"small_cnn"`,
            at least 1. Defaults to 3.
        encoder_filters: int. Filters of the first block of `"small_cnn"`,
            at least 1. Defaults to 16.
        encoder_units: int. Size of the `"small_cnn"` frame features, at
            least 1. Ignored with a backbone. Defaults to 128.
        dropout: float. Dropout rate before the classifier, in `[0, 1)`.
            Defaults to 0.3.
        learning_rate: float. Learning rate of the optimizer, positive.
            Defaults to 1e-3.
        optimizer: str. One of `"adam"`, `"rmsprop"`, `"sgd"` (momentum
            0.9). Defaults to `"adam"`.
        weight_decay: float. Decoupled weight decay, >= 0, applied by the
            optimizer to every trainable variable's update (see
            `cnnrnn.models.checks.make_optimizer`); 0 for none. Defaults to
            0.0.
        activation: str. Activation of the `"small_cnn"` convolution blocks
            and frame-features `Dense` layer: one of `"relu"`, `"gelu"`,
            `"silu"`, `"elu"`. Ignored with a backbone. Defaults to
            `"relu"`.
        compile: bool. Whether to compile the model with the optimizer,
            sparse categorical cross-entropy and accuracy. Defaults to True.
        name: str or None. Model name and prefix of every layer name.
            Defaults to `"frame_average_classifier"`.

    Returns:
        A functional `keras.Model` mapping `{"frames": ..., "mask": ...}` to
        `(batch, num_classes)` float32 class probabilities.

    Raises:
        ValueError: if an argument is out of range or unknown.

    Example:

    >>> model = build_frame_average_classifier(
    ...     num_frames=4, image_shape=(16, 16, 3), num_classes=3
    ... )
    >>> model.output_shape
    (None, 3)
    """
    shared = {
        "num_frames": num_frames,
        "image_shape": image_shape,
        "num_classes": num_classes,
        "backbone": backbone,
        "weights": weights,
        "train_backbone": train_backbone,
        "frame_differences": frame_differences,
        "augment": augment,
        "encoder_depth": encoder_depth,
        "encoder_filters": encoder_filters,
        "encoder_units": encoder_units,
        "dropout": dropout,
        "learning_rate": learning_rate,
        "optimizer": optimizer,
        "weight_decay": weight_decay,
        "activation": activation,
    }
    _validate_encoder(**shared)
    check_bool("compile", compile)
    name = name or "frame_average_classifier"

    def average(features, mask):
        pool = keras.layers.GlobalAveragePooling1D(name=f"{name}_average")
        return pool(features, mask=mask)

    return _build(average, **shared, compile=compile, name=name)


def feature_models(model, *, learning_rate=None):
    """Splits a video classifier for training on precomputed frame features.

    With a frozen frame encoder (`train_backbone=False`) the features of every
    frame never change, so they can be computed once (`frame_features`) and
    the sequence head trained on them (`head`), which is much faster than
    running the encoder on every frame in every epoch. `head` shares its
    weights with `model`: fitting it trains `model`, which still takes raw
    frames and is the model to save.

    Args:
        model: `keras.Model` made by `build_video_classifier` or
            `build_frame_average_classifier` with `train_backbone=False`.
        learning_rate: float or None. Learning rate of `head`, positive, or
            None for the one of `model`'s optimizer. Defaults to None.

    Returns:
        A tuple `(frame_features, head)`. `frame_features` is a
        `keras.Model` mapping `frames` `(batch, num_frames, height, width,
        3)` to features `(batch, num_frames, features)`, for inference only.
        `head` is a `keras.Model` mapping `{"features": ..., "mask": ...}`
        to class probabilities, made of `model`'s
        `f"{model.name}_sequence_head"` layers and compiled like `model`
        (same loss and metrics, a fresh optimizer of the same kind and
        settings, such as its weight decay, at `model`'s learning rate or
        `learning_rate`). When `model` is not compiled it holds no
        optimizer to copy: `head` gets Adam without weight decay, sparse
        categorical cross-entropy and accuracy.

    Raises:
        ValueError: if `model` is not a video classifier, if its frame
            encoder is trainable, if `learning_rate` is not positive, or if
            `model` is not compiled and no `learning_rate` is given.

    Example:

    >>> model = build_video_classifier(
    ...     num_frames=4, image_shape=(16, 16, 3), num_classes=2,
    ...     train_backbone=False,
    ... )
    >>> frame_features, head = feature_models(model)
    >>> frame_features.output_shape
    (None, 4, 64)
    """
    name = getattr(model, "name", None)
    layers = {layer.name: layer for layer in getattr(model, "layers", [])}
    encoded = layers.get(f"{name}_frames_encoded")
    sequence_head = layers.get(f"{name}_sequence_head")
    if (
        not isinstance(model, keras.Model)
        or not isinstance(encoded, keras.layers.TimeDistributed)
        or not isinstance(sequence_head, keras.Model)
        or "frames" not in layers
    ):
        raise ValueError(
            "Expected a model made by `build_video_classifier` (with the layers "
            f"'{name}_frames_encoded' and '{name}_sequence_head'). "
            f"Received: model={name!r}"
        )
    if encoded.trainable_weights:
        raise ValueError(
            "Precomputing features needs a frozen encoder: build with "
            f"train_backbone=False. Received: a model whose frame encoder "
            f"{encoded.layer.name!r} has {len(encoded.trainable_weights)} "
            "trainable weights"
        )

    frame_features = keras.Model(
        layers["frames"].output, encoded.output, name=f"{name}_frame_features"
    )
    head = keras.Model(
        sequence_head.input, sequence_head.output, name=f"{name}_sequence_head"
    )
    compile_like(head, model, learning_rate)
    return frame_features, head


def _build(
    sequence_layers,
    *,
    num_frames,
    image_shape,
    num_classes,
    backbone,
    weights,
    train_backbone,
    frame_differences,
    augment,
    encoder_depth,
    encoder_filters,
    encoder_units,
    dropout,
    learning_rate,
    optimizer,
    weight_decay,
    activation,
    compile,
    name,
):
    """Frame encoder, `FrameDistributed`, then `sequence_layers` in the head."""
    image_shape = tuple(image_shape)
    # A backbone takes 3 channels: it gets the differences of its features.
    pixel_differences = frame_differences and backbone == "small_cnn"
    encoder = _frame_encoder(
        image_shape=(*image_shape[:2], image_shape[2] * (1 + pixel_differences)),
        backbone=backbone,
        weights=weights,
        train_backbone=train_backbone,
        encoder_depth=encoder_depth,
        encoder_filters=encoder_filters,
        encoder_units=encoder_units,
        activation=activation,
        name=name,
    )
    features = keras.Input(
        shape=(num_frames, encoder.output_shape[-1]), name="features"
    )
    mask = keras.Input(shape=(num_frames,), dtype="bool", name="mask")
    x = features
    if frame_differences and not pixel_differences:
        x = FrameDifferences(name=f"{name}_feature_differences")(features)
    x = sequence_layers(x, mask)
    x = keras.layers.Dropout(dropout, name=f"{name}_dropout")(x)
    outputs = keras.layers.Dense(
        num_classes, activation="softmax", dtype="float32", name=f"{name}_predictions"
    )(x)
    head = keras.Model(
        {"features": features, "mask": mask}, outputs, name=f"{name}_sequence_head"
    )

    frames = keras.Input(shape=(num_frames, *image_shape), name="frames")
    mask = keras.Input(shape=(num_frames,), dtype="bool", name="mask")
    x = frames
    if augment:
        x = ClipAugmentation(name=f"{name}_augmentation")(x)
    if pixel_differences:
        x = FrameDifferences(name=f"{name}_frame_differences")(x)
    features = FrameDistributed(encoder, name=f"{name}_frames_encoded")(x)
    outputs = head({"features": features, "mask": mask})
    model = keras.Model({"frames": frames, "mask": mask}, outputs, name=name)
    if compile:
        compile_classifier(
            model, learning_rate, optimizer=optimizer, weight_decay=weight_decay
        )
    return model


def _frame_encoder(
    *,
    image_shape,
    backbone,
    weights,
    train_backbone,
    encoder_depth,
    encoder_filters,
    encoder_units,
    activation,
    name,
):
    """The `keras.Model` mapping one raw frame to its feature vector."""
    frame = keras.Input(shape=image_shape, name="frame")
    if backbone == "small_cnn":
        x = keras.layers.Rescaling(1 / 255, name=f"{name}_rescaling")(frame)
        for i in range(encoder_depth):
            x = conv_block(
                x,
                encoder_filters * 2**i,
                name=f"{name}_block{i + 1}",
                activation=activation,
            )
        # Flattened, not pooled: the features keep where things are in the
        # frame, so the recurrent layers can see motion.
        x = keras.layers.Flatten(name=f"{name}_flatten")(x)
        x = keras.layers.Dense(
            encoder_units, activation=activation, name=f"{name}_frame_features"
        )(x)
    else:
        x = backbone_features(
            frame,
            backbone,
            weights=weights,
            train_backbone=train_backbone,
            image_shape=image_shape,
            name=name,
        )
    encoder = keras.Model(frame, x, name=f"{name}_frame_encoder")
    encoder.trainable = train_backbone
    return encoder


def _validate_encoder(
    *,
    num_frames,
    image_shape,
    num_classes,
    backbone,
    weights,
    train_backbone,
    frame_differences,
    augment,
    encoder_depth,
    encoder_filters,
    encoder_units,
    dropout,
    learning_rate,
    optimizer,
    weight_decay,
    activation,
):
    check_int("num_frames", num_frames)
    check_image_shape("image_shape", image_shape)
    check_int("num_classes", num_classes, minimum=2)
    check_image_encoder("backbone", backbone, weights=weights)
    check_bool("train_backbone", train_backbone)
    check_bool("frame_differences", frame_differences)
    check_bool("augment", augment)
    check_int("encoder_depth", encoder_depth)
    check_int("encoder_filters", encoder_filters)
    check_int("encoder_units", encoder_units)
    check_fraction("dropout", dropout)
    check_positive("learning_rate", learning_rate)
    check_optimizer(optimizer, weight_decay)
    check_activation(activation)
    pretrained = backbone != "small_cnn"
    min_size = MIN_BACKBONE_SIZE if pretrained else 2**encoder_depth
    if min(image_shape[:2]) < min_size:
        reason = (
            f"backbone={backbone!r}" if pretrained else f"encoder_depth={encoder_depth}"
        )
        raise ValueError(
            f"Frames must be at least {min_size}x{min_size} with {reason}. "
            f"Received: image_shape={tuple(image_shape)!r}"
        )
