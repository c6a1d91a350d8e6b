"""The video classifier: a per-frame CNN and an LSTM/GRU over the frames."""

from cnnrnn.apps.base import ACTIVATIONS, COMMON_SPACE, RNN_TYPES, App, Lazy


def predict_clips(model, inputs, config, *, top_k=3):
    """Classifies video clips (files, frame folders or `.npy` arrays)."""
    from cnnrnn import classification
    from cnnrnn.data import video

    data = config["data"]
    clips = video.load_clip_files(
        inputs, num_frames=data["num_frames"], image_size=data["image_size"]
    )
    class_names = config["data_info"]["class_names"]
    return classification.predict_classes(
        model, clips, inputs, class_names, top_k=top_k
    )


APP = App(
    name="video-classifier",
    summary="video clip -> class (per-frame CNN + LSTM/GRU)",
    build_model=Lazy("cnnrnn.models.video_classifier:build_video_classifier"),
    load_data=Lazy("cnnrnn.data.video:load_videos"),
    data_loaders=(
        Lazy("cnnrnn.data.video:load_video_folder"),
        Lazy("cnnrnn.data.video:load_tfds_videos"),
    ),
    write_demo_data=Lazy("cnnrnn.demos.video_classifier:write_video_demo"),
    small_demo={"clips_per_class": 3, "num_frames": 6, "image_size": 16},
    predict=predict_clips,
    input_kind="video",
    defaults={
        "data": {
            "num_frames": 12,
            "image_size": "auto",
            "batch_size": 8,
            "validation_split": 0.15,
            "test_split": 0.15,
            "seed": 1337,
            "cache": True,
            "on_bad_file": "skip",
        },
        # The shared fight clips (36 held out), seeds 1/2/3: 0.556/0.639/0.528
        # test accuracy at 32x32 frames; with frame differences 0.694/0.694/0.722,
        # at 48x48 0.694/0.833/0.750, at 64x64 (what "auto" chooses for them)
        # 0.806/0.750/0.750 (logistic regression on motion statistics: 0.722).
        "model": {"frame_differences": True},
        "training": {
            # The validation loss can stall for several epochs before the
            # recurrent layers pick up the motion: be patient.
            "epochs": 40,
            "early_stopping_patience": 10,
            "precompute_features": False,
        },
    },
    # 6 frames of 24x24, 8 encoder filters: 18 M FLOPs per clip instead of
    # 241 M. 2 cores with AVX-512, seeds 1/2/3: 18.0/18.7/17.2 s of training
    # for 16 epochs, test accuracy 0.989/1.0/0.977 (8 frames: 25-31 s on the
    # same machine; 16x16 frames or faster rates learn the motion on some
    # seeds only).
    demo={
        "data": {"num_frames": 6, "image_size": [24, 24]},
        "model": {"encoder_filters": 8, "frame_differences": False},
        "training": {"epochs": 16},
    },
    model_from_data=("num_frames", "image_shape", "num_classes"),
    reports=(Lazy("cnnrnn.classification:confusion_matrix_report"),),
    prepare_fine_tuning=Lazy("cnnrnn.models.backbones:prepare_fine_tuning"),
    feature_models=Lazy("cnnrnn.models.video_classifier:feature_models"),
    search_space={
        **COMMON_SPACE,
        "encoder_depth": {"min": 2, "max": 4},
        "encoder_filters": {"values": [8, 16, 32]},
        "encoder_units": {"values": [64, 128, 256]},
        "activation": ACTIVATIONS,
        "rnn_type": RNN_TYPES,
        "bidirectional": {"boolean": True},
        "num_layers": {"min": 1, "max": 2},
        "units": {"values": [32, 64, 128]},
        "frame_differences": {"boolean": True},
    },
)
