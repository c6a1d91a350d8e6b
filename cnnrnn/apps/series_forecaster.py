"""The series forecaster: an LSTM/GRU from the last steps to the next ones."""

from cnnrnn.apps.base import COMMON_SPACE, RNN_TYPES, App, Lazy
from cnnrnn.demos.series_forecaster import SERIES_DEMO_FILE

APP = App(
    name="series-forecaster",
    summary="time series -> its next steps (LSTM/GRU, direct multi-step)",
    build_model=Lazy("cnnrnn.models.series_forecaster:build_series_forecaster"),
    load_data=Lazy("cnnrnn.data.series:load_series"),
    write_demo_data=Lazy("cnnrnn.demos.series_forecaster:write_series_demo"),
    demo_source=SERIES_DEMO_FILE,
    # Enough rows for the largest lookback (504) and horizon (168) a project
    # template allows: 840 training rows, 180 for validation and test each.
    small_demo={"num_steps": 1200},
    predict=Lazy("cnnrnn.forecasting:predict_forecasts"),
    input_kind="table",
    defaults={
        "data": {
            "target_columns": None,
            "time_column": "auto",
            "lookback": 48,
            "horizon": 12,
            "season": "auto",
            "missing": "refuse",
            "batch_size": 64,
            "validation_split": 0.15,
            "test_split": 0.15,
            "seed": 1337,
        },
        "training": {
            "epochs": 40,
            "early_stopping_patience": 8,
            "learning_rate_schedule": "cosine",
        },
    },
    demo={"training": {"epochs": 15}},
    model_from_data=(
        "lookback",
        "horizon",
        "num_features",
        "target_indices",
        "feature_mean",
        "feature_std",
    ),
    reports=(Lazy("cnnrnn.forecasting:write_forecast_plot"),),
    evaluation_options=lambda config: {
        "columns": config["data_info"]["columns"],
        "target_columns": config["data_info"]["target_columns"],
        "season": config["data_info"]["season"],
    },
    evaluation_metrics=Lazy("cnnrnn.forecasting:mase_metrics"),
    search_space={
        **COMMON_SPACE,
        "rnn_type": RNN_TYPES,
        "num_layers": {"min": 1, "max": 2},
        "units": {"values": [32, 64, 128]},
        "linear_skip": {"boolean": True},
    },
)
