"""The device layer on the active backend, with the backend's own modules.

`KERAS_BACKEND=jax pytest` and `KERAS_BACKEND=torch pytest` run these against
real jax and torch; the GPUs are faked by patching the backend's own device
queries. `tests/test_devices.py` covers tensorflow and the choices themselves.
"""

import json
import types

import keras
import numpy as np
import pytest

from cnnrnn import devices
from cnnrnn.models import build_plant_classifier

pytestmark = pytest.mark.backends
BACKEND = keras.backend.backend()
jax_or_torch = pytest.mark.skipif(
    BACKEND not in ("jax", "torch"),
    reason="patches jax or torch; tensorflow is covered by test_devices.py",
)


@pytest.fixture(autouse=True)
def restore_policy(monkeypatch):
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    monkeypatch.delenv("TF_CONFIG", raising=False)
    yield
    keras.config.set_dtype_policy("float32")


def _fake_gpus(monkeypatch, capabilities):
    """Makes the active backend (jax or torch) report one GPU per capability."""
    if BACKEND == "torch":
        import torch

        def properties(index):
            major, minor = capabilities[index]
            return types.SimpleNamespace(
                name="Fake GPU", total_memory=16 * 2**30, major=major, minor=minor
            )

        monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
        monkeypatch.setattr(torch.cuda, "device_count", lambda: len(capabilities))
        monkeypatch.setattr(torch.cuda, "get_device_properties", properties)
    else:
        import jax

        fakes = [
            types.SimpleNamespace(
                platform="gpu",
                id=index,
                device_kind="Fake GPU",
                compute_capability=f"{major}.{minor}",
                memory_stats=lambda: {"bytes_limit": 16 * 2**30},
            )
            for index, (major, minor) in enumerate(capabilities)
        ]
        monkeypatch.setattr(jax, "devices", lambda *args: fakes)


def test_report_names_the_active_backend():
    info = devices.report()
    assert info["backend"] == BACKEND == devices.active_backend()
    assert json.loads(json.dumps(info)) == info
    found = devices.list_accelerators()
    assert all(a.kind in ("GPU", "TPU") for a in found)
    assert info["precision"] == devices.choose_precision(found)
    # Only tensorflow distributes over several local GPUs; on any machine.
    strategy = devices.choose_strategy(found) if BACKEND == "tensorflow" else None
    assert info["strategy"] == (strategy or "one_device")


@jax_or_torch
@pytest.mark.parametrize(
    ("capabilities", "precision"),
    [([(8, 0)], "mixed_float16"), ([(9, 0), (9, 0)], "mixed_float16")]
    + [([(6, 1)], "float32"), ([(8, 0), (6, 1)], "float32")],
)
def test_gpus_of_the_backend_choose_the_precision(monkeypatch, capabilities, precision):
    _fake_gpus(monkeypatch, capabilities)
    found = devices.list_accelerators()
    assert [a.compute_capability for a in found] == capabilities
    assert all(a.kind == "GPU" and a.name == "Fake GPU" for a in found)
    assert all(a.memory_bytes == 16 * 2**30 for a in found)

    setup = devices.configure()
    monkeypatch.undo()  # the backend builds the model with its real devices
    assert (setup.backend, setup.precision) == (BACKEND, precision)
    assert keras.config.dtype_policy().name == precision
    assert (setup.strategy_name, setup.strategy) == ("one_device", None)


@jax_or_torch
def test_hidden_gpus_are_not_reported(monkeypatch):
    _fake_gpus(monkeypatch, [(8, 0)])
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "-1")
    assert devices.list_accelerators() == []
    assert devices.report()["precision"] == "float32"


@pytest.mark.parametrize("precision", ["float32", "mixed_float16", "mixed_bfloat16"])
def test_a_model_built_under_the_chosen_precision_runs(seed, precision):
    setup = devices.configure(precision=precision)
    with setup.scope():
        model = build_plant_classifier(
            image_shape=(16, 16, 3), num_classes=3, depth=1, base_filters=4
        )
    images = np.random.default_rng(0).uniform(0, 255, (2, 16, 16, 3))
    probabilities = model.predict(images.astype("float32"), verbose=0)
    assert probabilities.dtype == np.float32
    np.testing.assert_allclose(probabilities.sum(axis=-1), 1.0, atol=1e-3)
    logs = model.train_on_batch(images, np.array([0, 2]), return_dict=True)
    assert np.isfinite(logs["loss"])


def _device_of(variable):
    """Where a Keras variable lives, as the active backend names it."""
    value = variable.value
    if BACKEND == "jax":
        return " ".join(str(device) for device in value.devices())
    return str(value.device)  # torch: "cuda:0"; tensorflow: ".../device:GPU:0"


@pytest.mark.gpu
def test_the_active_backend_trains_on_a_real_gpu(seed):
    """`pytest -m gpu` (and `KERAS_BACKEND=torch pytest -m gpu`) on a GPU machine."""
    gpus = [a for a in devices.list_accelerators() if a.kind == "GPU"]
    if not gpus:
        pytest.skip(
            f"no GPU visible to {BACKEND} (nvidia-smi lists "
            f"{devices.count_nvidia_gpus()}): run on a GPU machine"
        )
    assert len(gpus) <= devices.count_nvidia_gpus()
    modern = all((a.compute_capability or (0, 0)) >= (7, 0) for a in gpus)
    setup = devices.configure(precision="auto")
    assert setup.precision == ("mixed_float16" if modern else "float32")
    with setup.scope():
        model = build_plant_classifier(
            image_shape=(16, 16, 3), num_classes=3, depth=1, base_filters=4
        )
    device = _device_of(model.weights[0]).lower()
    assert "gpu" in device or "cuda" in device, device
    images = np.random.default_rng(0).uniform(0, 255, (8, 16, 16, 3))
    logs = model.train_on_batch(
        images.astype("float32"), np.arange(8) % 3, return_dict=True
    )
    assert np.isfinite(logs["loss"])
