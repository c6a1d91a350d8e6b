import json
import subprocess
import sys
import types

import keras
import pytest
import rich.console
import tensorflow as tf

from cnnrnn import devices
from cnnrnn.devices import Accelerator
from cnnrnn.errors import CnnrnnError

A100 = Accelerator("GPU", 0, "NVIDIA A100", None, (8, 0))
P100 = Accelerator("GPU", 0, "Tesla P100", None, (6, 1))
TPU = Accelerator("TPU", 0, "/physical_device:TPU:0")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    """No CUDA_VISIBLE_DEVICES or TF_CONFIG unless a test sets them."""
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    monkeypatch.delenv("TF_CONFIG", raising=False)


@pytest.fixture
def reset_policy():
    yield
    keras.mixed_precision.set_global_policy("float32")


def fake_tf_devices(monkeypatch, gpus=(), tpus=0):
    """Makes TensorFlow report one GPU per capability in `gpus`, and `tpus` TPUs."""
    physical = {
        "GPU": [
            tf.config.PhysicalDevice(f"/physical_device:GPU:{i}", "GPU")
            for i in range(len(gpus))
        ],
        "TPU": [
            tf.config.PhysicalDevice(f"/physical_device:TPU:{i}", "TPU")
            for i in range(tpus)
        ],
    }

    def details(device):
        if device.device_type != "GPU":
            return {}
        capability = gpus[int(device.name.rsplit(":", 1)[1])]
        return {"device_name": "Fake GPU", "compute_capability": capability}

    monkeypatch.setattr(
        tf.config, "list_physical_devices", lambda kind=None: physical.get(kind, [])
    )
    monkeypatch.setattr(tf.config.experimental, "get_device_details", details)


def tf_config(workers):
    cluster = {"worker": [f"host{i}:2222" for i in range(workers)]}
    return json.dumps({"cluster": cluster, "task": {"type": "worker", "index": 0}})


def real_tf_accelerators():
    """The GPUs and TPUs TensorFlow really sees on this machine, none on a CPU."""
    return [
        device
        for kind in ("GPU", "TPU")
        for device in tf.config.list_physical_devices(kind)
    ]


def test_real_detection():
    """Holds on any machine: the report matches what TensorFlow really sees."""
    assert devices.active_backend() == "tensorflow"
    found = devices.list_accelerators()
    real = real_tf_accelerators()
    assert [a.kind for a in found] == [d.device_type for d in real]
    info = devices.report()
    assert json.loads(json.dumps(info)) == info
    assert info["backend"] == "tensorflow"
    assert len(info["accelerators"]) == len(real)
    assert info["precision"] == devices.choose_precision(found)
    assert info["strategy"] == devices.choose_strategy(found)
    assert info["cuda_visible_devices"] is None
    assert info["tf_config_workers"] is None


def test_report_on_a_machine_without_accelerators(monkeypatch):
    fake_tf_devices(monkeypatch)
    assert devices.list_accelerators() == []
    info = devices.report()
    assert info["accelerators"] == []
    assert (info["precision"], info["strategy"]) == ("float32", "one_device")


@pytest.mark.parametrize(
    "gpus, precision, strategy",
    [
        ((), "float32", "one_device"),
        (((8, 0),), "mixed_float16", "one_device"),
        (((8, 0), (8, 0)), "mixed_float16", "mirrored"),
        (((6, 1),), "float32", "one_device"),
        (((8, 0), (6, 1)), "float32", "mirrored"),
    ],
)
def test_mocked_tensorflow_gpus(monkeypatch, gpus, precision, strategy):
    fake_tf_devices(monkeypatch, gpus)
    found = devices.list_accelerators("tensorflow")
    assert [a.compute_capability for a in found] == list(gpus)
    assert all(a.kind == "GPU" and a.name == "Fake GPU" for a in found)
    assert [a.index for a in found] == list(range(len(gpus)))
    info = devices.report()
    assert info["precision"] == precision
    assert info["strategy"] == strategy
    assert json.loads(json.dumps(info)) == info


def test_mocked_tensorflow_tpu(monkeypatch):
    fake_tf_devices(monkeypatch, tpus=1)
    found = devices.list_accelerators()
    assert [a.kind for a in found] == ["TPU"]
    assert devices.choose_precision(found) == "mixed_bfloat16"


def test_cuda_visible_devices_minus_one(monkeypatch):
    fake_tf_devices(monkeypatch, [(8, 0), (8, 0)])
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "-1")
    info = devices.report()
    assert info["cuda_visible_devices"] == "-1"
    assert info["accelerators"] == []
    assert info["precision"] == "float32"
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert devices.list_accelerators() == []
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1")
    assert len(devices.list_accelerators()) == 2


def test_precision_choices_and_overrides():
    assert devices.choose_precision([]) == "float32"
    assert devices.choose_precision([A100]) == "mixed_float16"
    assert devices.choose_precision([P100]) == "float32"
    assert devices.choose_precision([Accelerator("GPU", 0, "unknown")]) == "float32"
    assert devices.choose_precision([TPU]) == "mixed_bfloat16"
    assert devices.choose_precision([A100], "float32") == "float32"
    assert devices.choose_precision([], "mixed_bfloat16") == "mixed_bfloat16"
    with pytest.raises(CnnrnnError, match=r"Received: precision='fp16'\. Expected"):
        devices.choose_precision([], "fp16")


def test_strategy_choices_and_overrides(monkeypatch):
    two = [A100, Accelerator("GPU", 1, "NVIDIA A100", None, (8, 0))]
    assert devices.choose_strategy([]) == "one_device"
    assert devices.choose_strategy([A100]) == "one_device"
    assert devices.choose_strategy(two) == "mirrored"
    assert devices.choose_strategy(two, "one_device") == "one_device"
    assert devices.choose_strategy([], "mirrored") == "mirrored"
    assert devices.choose_strategy([], tf_config=tf_config(2)) == "multi_worker"
    assert devices.choose_strategy(two, tf_config=tf_config(1)) == "mirrored"
    assert devices.choose_strategy(two, "mirrored", tf_config(2)) == "mirrored"
    monkeypatch.setenv("TF_CONFIG", tf_config(3))
    assert devices.choose_strategy([]) == "multi_worker"
    assert devices.report()["tf_config_workers"] == 3


def test_strategy_errors():
    with pytest.raises(CnnrnnError, match=r"Received: strategy='tpu'\. Expected"):
        devices.choose_strategy([], "tpu")
    with pytest.raises(CnnrnnError, match="TF_CONFIG"):
        devices.choose_strategy([], "multi_worker")
    with pytest.raises(CnnrnnError, match="TF_CONFIG is not a valid"):
        devices.choose_strategy([], tf_config="{not json")
    with pytest.raises(CnnrnnError, match="TF_CONFIG is not a valid"):
        devices.choose_strategy([], tf_config="[1, 2]")
    with pytest.raises(CnnrnnError, match="Received: strategy='auto'"):
        devices.make_strategy("auto")


def test_report_validates_and_does_not_configure():
    before = keras.mixed_precision.global_policy().name
    assert devices.report(precision="mixed_float16")["precision"] == "mixed_float16"
    assert keras.mixed_precision.global_policy().name == before
    with pytest.raises(CnnrnnError, match="precision='half'"):
        devices.report(precision="half")


def test_jax_detection(monkeypatch):
    def device(platform, id, kind, stats=None, capability=None):
        d = types.SimpleNamespace(platform=platform, id=id, device_kind=kind)
        d.memory_stats = lambda: stats
        if capability is not None:
            d.compute_capability = capability
        return d

    def unsupported():
        raise NotImplementedError

    gpu1 = device("gpu", 1, "H100", capability="9.0")
    gpu1.memory_stats = unsupported
    fake_jax = types.SimpleNamespace(
        devices=lambda: [
            device("gpu", 0, "H100", {"bytes_limit": 80 * 2**30}, "9.0"),
            gpu1,
            device("cpu", 2, "cpu"),
        ]
    )
    monkeypatch.setitem(sys.modules, "jax", fake_jax)
    assert devices.list_accelerators("jax") == [
        Accelerator("GPU", 0, "H100", 80 * 2**30, (9, 0)),
        Accelerator("GPU", 1, "H100", None, (9, 0)),
    ]
    fake_jax.devices = lambda: [device("tpu", 0, "TPU v4")]
    assert devices.list_accelerators("jax") == [Accelerator("TPU", 0, "TPU v4")]


def test_torch_detection(monkeypatch):
    props = types.SimpleNamespace(name="RTX 3090", total_memory=24 * 2**30)
    props.major, props.minor = 8, 6
    cuda = types.SimpleNamespace(
        is_available=lambda: True,
        device_count=lambda: 2,
        get_device_properties=lambda index: props,
    )
    monkeypatch.setitem(sys.modules, "torch", types.SimpleNamespace(cuda=cuda))
    found = devices.list_accelerators("torch")
    assert found == [
        Accelerator("GPU", 0, "RTX 3090", 24 * 2**30, (8, 6)),
        Accelerator("GPU", 1, "RTX 3090", 24 * 2**30, (8, 6)),
    ]
    cuda.is_available = lambda: False
    assert devices.list_accelerators("torch") == []


def test_cpu_only_backends_list_nothing():
    assert devices.list_accelerators("numpy") == []


def test_non_tensorflow_backend(monkeypatch, reset_policy):
    monkeypatch.setattr(devices, "active_backend", lambda: "jax")
    monkeypatch.setitem(sys.modules, "jax", types.SimpleNamespace(devices=list))
    devices.enable_memory_growth()  # no-op
    assert devices.make_strategy("mirrored") is None
    setup = devices.configure()
    assert (setup.backend, setup.strategy_name, setup.strategy) == (
        "jax",
        "one_device",
        None,
    )
    with setup.scope():
        pass
    with pytest.raises(CnnrnnError, match="needs the tensorflow backend"):
        devices.report(strategy="mirrored")


def test_enable_memory_growth(monkeypatch):
    fake_tf_devices(monkeypatch, [(8, 0), (8, 0)])
    calls = []
    monkeypatch.setattr(
        tf.config.experimental,
        "set_memory_growth",
        lambda device, enable: calls.append((device.name, enable)),
    )
    devices.enable_memory_growth()
    assert calls == [
        ("/physical_device:GPU:0", True),
        ("/physical_device:GPU:1", True),
    ]

    def initialised(device, enable):
        raise RuntimeError(
            "Physical devices cannot be modified after being initialized"
        )

    monkeypatch.setattr(tf.config.experimental, "set_memory_growth", initialised)
    devices.enable_memory_growth()  # swallowed


def test_enable_memory_growth_on_cpu():
    devices.enable_memory_growth()


def test_configure_on_cpu(monkeypatch, reset_policy):
    fake_tf_devices(monkeypatch)  # no accelerator, even on a GPU machine
    keras.mixed_precision.set_global_policy("mixed_float16")
    setup = devices.configure()
    assert keras.mixed_precision.global_policy().name == "float32"
    assert setup.backend == "tensorflow"
    assert setup.accelerators == []
    assert (setup.precision, setup.strategy_name) == ("float32", "one_device")
    assert setup.strategy is tf.distribute.get_strategy()
    with setup.scope():
        layer = keras.layers.Dense(2)
        layer.build((None, 3))
    assert layer.kernel.shape == (3, 2)


def test_configure_override_sets_policy(reset_policy):
    setup = devices.configure(precision="mixed_bfloat16")
    assert setup.precision == "mixed_bfloat16"
    assert keras.mixed_precision.global_policy().name == "mixed_bfloat16"


def test_make_strategy(monkeypatch):
    assert isinstance(devices.make_strategy("mirrored"), tf.distribute.MirroredStrategy)
    sentinel = object()
    monkeypatch.setattr(tf.distribute, "MultiWorkerMirroredStrategy", lambda: sentinel)
    assert devices.make_strategy("multi_worker") is sentinel


def render(info):
    console = rich.console.Console(record=True, width=120)
    devices.print_report(info, console=console)
    return console.export_text()


def test_print_report_cpu(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "-1")
    text = render(devices.report())
    assert "No GPU or TPU found: training runs on the CPU." in text
    assert "tensorflow" in text
    assert "float32" in text and "one_device" in text
    assert "'-1'" in text


def test_print_report_table():
    info = {
        "backend": "torch",
        "cuda_visible_devices": "0",
        "accelerators": [
            {
                "kind": "GPU",
                "index": 0,
                "name": "RTX 3090",
                "memory_bytes": 24 * 2**30,
                "compute_capability": [8, 6],
            },
            {
                "kind": "TPU",
                "index": 0,
                "name": "TPU v4",
                "memory_bytes": None,
                "compute_capability": None,
            },
        ],
        "precision": "mixed_float16",
        "strategy": "multi_worker",
        "tf_config_workers": 2,
    }
    text = render(info)
    assert "torch" in text
    assert "RTX 3090" in text and "24.0 GiB" in text and "8.6" in text
    assert "TPU v4" in text
    assert "mixed_float16" in text and "2 workers" in text


@pytest.fixture
def gpus(monkeypatch):
    """Fakes the GPU count; CUDA_VISIBLE_DEVICES is restored after the test."""
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")  # records the value to restore
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES")

    def machine_with(count):
        monkeypatch.setattr(devices, "count_nvidia_gpus", lambda: count)

    return machine_with


@pytest.mark.parametrize(
    "count, visible, spec, worker, expected",
    [
        (4, None, "auto", 5, ["1"]),
        (4, "2,3", "auto", 1, ["3"]),
        (2, "GPU-aaa,GPU-bbb", "auto", 2, ["GPU-aaa"]),
        (4, None, "0,1", None, ["0", "1"]),
        (4, None, "0,2", 3, ["2"]),
        (4, "2,3", "1", None, ["3"]),
    ],
)
def test_pin_gpus(gpus, monkeypatch, count, visible, spec, worker, expected):
    gpus(count)
    if visible is not None:
        monkeypatch.setenv("CUDA_VISIBLE_DEVICES", visible)
    assert devices.pin_gpus(spec, worker_index=worker) == expected
    assert devices._cuda_visible_devices() == ",".join(expected)


@pytest.mark.parametrize(
    "count, visible, spec, worker",
    [
        (0, None, "auto", 0),
        (0, "0,1", "auto", 3),
        (4, "-1", "auto", 1),
        (4, None, "auto", None),
        (4, "1", None, 2),
    ],
)
def test_pin_gpus_changes_nothing(gpus, monkeypatch, count, visible, spec, worker):
    gpus(count)
    if visible is not None:
        monkeypatch.setenv("CUDA_VISIBLE_DEVICES", visible)
    assert devices.pin_gpus(spec, worker_index=worker) is None
    assert devices._cuda_visible_devices() == visible


@pytest.mark.parametrize(
    "count, spec, message",
    [
        (4, "4", r"names GPU 4, but this process sees 4 GPU\(s\)"),
        (0, "0", r"names GPU 0, but this process sees 0 GPU\(s\)"),
        (4, "0,x", "Cannot read gpus='0,x'"),
        (4, "1,1", "distinct GPU indices"),
        (4, "-1", "Cannot read"),
    ],
)
def test_pin_gpus_errors(gpus, count, spec, message):
    gpus(count)
    with pytest.raises(CnnrnnError, match=message):
        devices.pin_gpus(spec, worker_index=0)
    assert devices._cuda_visible_devices() is None


def test_pin_gpus_none_hides_every_gpu(gpus):
    gpus(4)
    assert devices.pin_gpus("none", worker_index=3) == []
    assert devices._cuda_visible_devices() == ""
    assert devices.list_accelerators("tensorflow") == []


def test_count_nvidia_gpus(monkeypatch):
    listing = "GPU 0: NVIDIA H100 (UUID: GPU-a)\nGPU 1: NVIDIA H100 (UUID: GPU-b)\n"

    def nvidia_smi(argv, **kwargs):
        assert argv == ["nvidia-smi", "--list-gpus"]
        return subprocess.CompletedProcess(argv, 0, stdout=listing)

    monkeypatch.setattr(subprocess, "run", nvidia_smi)
    assert devices.count_nvidia_gpus() == 2

    def absent(argv, **kwargs):
        raise FileNotFoundError("nvidia-smi")

    monkeypatch.setattr(subprocess, "run", absent)
    assert devices.count_nvidia_gpus() == 0


# Tests that need a real accelerator: `pytest -m gpu` on a GPU machine (the
# default `-m 'not slow and not gpu'` deselects them; without a GPU they skip).


@pytest.fixture
def real_gpus():
    """The GPUs TensorFlow really sees; skips the test on a machine without one."""
    found = tf.config.list_physical_devices("GPU")
    if not found:
        pytest.skip(
            "no GPU visible to TensorFlow (nvidia-smi lists "
            f"{devices.count_nvidia_gpus()}): run `pytest -m gpu` on a GPU machine"
        )
    return found


@pytest.mark.gpu
def test_a_real_gpu_is_detected(real_gpus):
    gpus = [a for a in devices.list_accelerators() if a.kind == "GPU"]
    assert len(gpus) == len(real_gpus)
    assert all(a.name and a.compute_capability for a in gpus)
    assert len(gpus) <= devices.count_nvidia_gpus()  # nvidia-smi, no TensorFlow
    text = render(devices.report())
    assert "No GPU or TPU found" not in text and gpus[0].name in text


@pytest.mark.gpu
def test_auto_precision_is_mixed_on_a_real_gpu(real_gpus, reset_policy):
    gpus = [a for a in devices.list_accelerators() if a.kind == "GPU"]
    if any((a.compute_capability or (0, 0)) < (7, 0) for a in gpus):
        pytest.skip(f"a GPU older than compute capability 7.0: {gpus}")
    setup = devices.configure(precision="auto")
    assert setup.precision == "mixed_float16"
    assert keras.mixed_precision.global_policy().name == "mixed_float16"
    expected = "mirrored" if len(gpus) > 1 else "one_device"
    assert setup.strategy_name == expected


@pytest.mark.gpu
def test_a_tiny_model_trains_on_a_real_gpu(real_gpus, reset_policy, seed):
    import numpy as np

    from cnnrnn.models import build_plant_classifier

    setup = devices.configure()
    with setup.scope():
        model = build_plant_classifier(
            image_shape=(16, 16, 3), num_classes=2, depth=1, base_filters=4
        )
    assert "GPU" in model.weights[0].value.device.upper()
    images = np.random.default_rng(0).uniform(0, 255, (32, 16, 16, 3))
    labels = (images.mean(axis=(1, 2, 3)) > 127.5).astype("int32")
    history = model.fit(images.astype("float32"), labels, epochs=2, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    probabilities = model.predict(images[:4].astype("float32"), verbose=0)
    assert probabilities.dtype == np.float32
