import json
import subprocess
import sys

import keras
import numpy as np
import pytest
from test_case import keras_steps, run_model_smoke_test, run_saving_test

from cnnrnn.models.layers import RNN_TYPES
from cnnrnn.models.series_forecaster import build_series_forecaster

pytestmark = pytest.mark.backends

STATS = {"feature_mean": [100.0, 5.0], "feature_std": [10.0, 2.0]}
SMALL = {"lookback": 12, "horizon": 3, "num_features": 2, "units": 8, **STATS}


def _windows(count=8, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal([100.0, 5.0], [10.0, 2.0], (count, 12, 2)).astype("float32")
    return x, x[:, -3:, :1]  # "forecast" the last 3 steps of the first column


@pytest.mark.parametrize("rnn_type", RNN_TYPES)
def test_smoke(seed, rnn_type):
    model = build_series_forecaster(rnn_type=rnn_type, num_layers=2, **SMALL)
    x, y = _windows()
    run_model_smoke_test(model, x, y, expected_output_shape=(8, 3, 1))


def test_raw_values_in_and_out_at_the_series_scale(seed):
    """Untrained, the forecast sits at the targets' mean, not at 0."""
    model = build_series_forecaster(target_indices=[1, 0], dropout=0.0, **SMALL)
    forecast = model.predict(_windows()[0], verbose=0)
    assert forecast.shape == (8, 3, 2)
    assert abs(forecast[..., 1].mean() - 100) < 30
    assert abs(forecast[..., 0].mean() - 5) < 6


def test_learns_a_seasonal_series_ten_times_better_than_the_naive_forecast(seed):
    steps = np.arange(200)
    series = 50 + 10 * np.sin(2 * np.pi * steps / 12) + 0.05 * steps
    starts = np.arange(0, 200 - 24 - 6)
    x = np.stack([series[s : s + 24] for s in starts])[..., None].astype("float32")
    y = np.stack([series[s + 24 : s + 30] for s in starts])[..., None]
    model = build_series_forecaster(
        lookback=24, horizon=6, units=16, learning_rate=1e-2,
        feature_mean=[series.mean()], feature_std=[series.std()],
    )  # fmt: skip
    with keras_steps(eager=False):  # traced, as a user's training runs
        model.fit(x, y, epochs=15, batch_size=32, verbose=0)
        error = np.abs(model.predict(x, verbose=0) - y).mean()
    naive = np.abs(x[:, -1:, :] - y).mean()  # the last value, repeated
    assert error < 0.1 * naive, (error, naive)


def test_saving_keeps_forecasts_in_this_and_a_fresh_process(seed, tmp_path):
    model = build_series_forecaster(**SMALL)
    x, y = _windows()
    model.train_on_batch(x, y)
    loaded = run_saving_test(model, x, tmp_path, atol=1e-4)
    np.save(tmp_path / "x.npy", x)
    script = (
        "import json, sys, keras, numpy as np\n"
        "import cnnrnn.models.series_forecaster  # its layers\n"
        "model = keras.saving.load_model(sys.argv[1], safe_mode=True)\n"
        "print(json.dumps(model.predict(np.load(sys.argv[2]), verbose=0).tolist()))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "model.keras"),
         str(tmp_path / "x.npy")],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    fresh = np.array(json.loads(done.stdout.strip().splitlines()[-1]))
    np.testing.assert_allclose(fresh, loaded.predict(x, verbose=0), atol=1e-4)
    assert keras.saving.load_model(tmp_path / "model.keras").output_shape == (
        None, 3, 1,
    )  # fmt: skip


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"lookback": 1}, "lookback"),
        ({"target_indices": [2]}, "target_indices"),
        ({"feature_std": [1.0, 0.0]}, "feature_std"),
        ({"feature_mean": [1.0]}, "need 2 values"),
        ({"rnn_type": "lsmt"}, "rnn_type='lsmt'"),
        ({"dropout": 1.0}, "dropout"),
    ],
)
def test_invalid_arguments_are_refused(overrides, message):
    with pytest.raises(ValueError, match=message):
        build_series_forecaster(**{**SMALL, **overrides})
