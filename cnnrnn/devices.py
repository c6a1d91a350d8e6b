"""Accelerator detection, memory growth, mixed precision and distribution strategy.

`CUDA_VISIBLE_DEVICES` is honoured by every backend natively; it is reported,
and `""` or `"-1"` mean "no GPU". Keras (and so the backend) is imported only
when needed, so `pin_gpus()` can run before any backend is loaded.
"""

import contextlib
import dataclasses
import json
import os
import subprocess
import sys

import rich.console
import rich.table

from cnnrnn.errors import CnnrnnError, check_choice

PRECISIONS = ("auto", "float32", "mixed_float16", "mixed_bfloat16")
STRATEGIES = ("auto", "one_device", "mirrored", "multi_worker")


@dataclasses.dataclass(frozen=True)
class Accelerator:
    """One GPU or TPU as reported by the backend.

    Args:
        kind: str. `"GPU"` or `"TPU"`.
        index: int. Position among the devices of that kind.
        name: str. Device name, for example `"NVIDIA A100-SXM4-40GB"`.
        memory_bytes: int or None. Total memory, when the backend reports it.
        compute_capability: tuple `(major, minor)` or None. CUDA compute
            capability, when the backend reports it.
    """

    kind: str
    index: int
    name: str
    memory_bytes: int | None = None
    compute_capability: tuple[int, int] | None = None


@dataclasses.dataclass
class DeviceSetup:
    """The result of `configure()`: what was found and what was chosen.

    Args:
        backend: str. Active Keras backend.
        accelerators: list of `Accelerator`.
        precision: str. Global mixed-precision policy that was set.
        strategy_name: str. `"one_device"`, `"mirrored"` or `"multi_worker"`.
        strategy: a `tf.distribute.Strategy`, or None on other backends.
    """

    backend: str
    accelerators: list[Accelerator]
    precision: str
    strategy_name: str
    strategy: object | None

    def scope(self):
        """Returns a context manager in which to build and compile models."""
        if self.strategy is None:
            return contextlib.nullcontext()
        return self.strategy.scope()


def _cuda_visible_devices():
    return os.environ.get("CUDA_VISIBLE_DEVICES")  # None when unset


def _parse_capability(value):
    """Turns `"8.0"`, `(8, 0)` or None into `(8, 0)` or None."""
    if value is None:
        return None
    if isinstance(value, str):
        value = value.split(".")
    major, minor = (int(v) for v in value)
    return (major, minor)


def active_backend():
    """Returns the name of the active Keras backend, e.g. `"tensorflow"`.

    Before Keras is imported, reads the backend Keras will choose (the
    `KERAS_BACKEND` variable, then `keras.json` in `KERAS_HOME` or
    `~/.keras`), so that asking starts no backend.
    """
    if "keras" in sys.modules:
        return sys.modules["keras"].backend.backend()
    if os.environ.get("KERAS_BACKEND"):
        return os.environ["KERAS_BACKEND"]
    home = os.environ.get("KERAS_HOME") or os.path.join(
        os.path.expanduser("~"), ".keras"
    )
    try:
        with open(os.path.join(home, "keras.json")) as file:
            return json.load(file).get("backend", "tensorflow")
    except (OSError, ValueError, AttributeError):
        return "tensorflow"


def _tensorflow_accelerators():
    import tensorflow as tf

    found = []
    for kind in ("GPU", "TPU"):
        for index, device in enumerate(tf.config.list_physical_devices(kind)):
            details = tf.config.experimental.get_device_details(device)
            name = details.get("device_name") or device.name
            capability = _parse_capability(details.get("compute_capability"))
            found.append(Accelerator(kind, index, name, None, capability))
    return found


def _jax_memory(device):
    try:
        return (device.memory_stats() or {}).get("bytes_limit")
    except Exception:  # memory_stats() is unimplemented on some platforms
        return None


def _jax_accelerators():
    import jax

    return [
        Accelerator(
            kind=d.platform.upper(),
            index=d.id,
            name=d.device_kind,
            memory_bytes=_jax_memory(d),
            compute_capability=_parse_capability(
                getattr(d, "compute_capability", None)
            ),
        )
        for d in jax.devices()
        if d.platform in ("gpu", "tpu")
    ]


def _torch_accelerators():
    import torch

    if not torch.cuda.is_available():
        return []
    props = map(torch.cuda.get_device_properties, range(torch.cuda.device_count()))
    return [
        Accelerator("GPU", i, p.name, p.total_memory, (p.major, p.minor))
        for i, p in enumerate(props)
    ]


_DETECTORS = {
    "tensorflow": _tensorflow_accelerators,
    "jax": _jax_accelerators,
    "torch": _torch_accelerators,
}


def list_accelerators(backend=None):
    """Lists the GPUs and TPUs that a Keras backend can use.

    Args:
        backend: str or None. `"tensorflow"`, `"jax"` or `"torch"`; other
            backends (numpy, openvino) run on the CPU and list nothing.
            Defaults to the active Keras backend.

    Returns:
        A list of `Accelerator`, empty on a CPU-only machine.
    """
    detect = _DETECTORS.get(backend or active_backend())
    found = detect() if detect else []
    if _cuda_visible_devices() in ("", "-1"):
        found = [a for a in found if a.kind != "GPU"]
    return found


def enable_memory_growth():
    """Lets TensorFlow allocate GPU memory as needed instead of all at once.

    Does nothing on other backends, on the CPU, or once TensorFlow has
    already initialised its GPUs (growth can then no longer be changed).
    """
    if active_backend() != "tensorflow":
        return
    import tensorflow as tf

    for gpu in tf.config.list_physical_devices("GPU"):
        try:
            tf.config.experimental.set_memory_growth(gpu, True)
        except RuntimeError:  # the runtime is already initialised
            return


def choose_precision(accelerators, requested="auto"):
    """Chooses the global mixed-precision policy.

    With `"auto"`: `"mixed_bfloat16"` on TPUs, `"mixed_float16"` when every GPU
    has compute capability 7.0 or higher, `"float32"` otherwise (CPU, older
    GPUs or GPUs of unknown capability).

    Args:
        accelerators: list of `Accelerator`, as from `list_accelerators()`.
        requested: str. One of `PRECISIONS`; anything but `"auto"` is returned
            as is. Defaults to `"auto"`.

    Returns:
        A Keras dtype policy name.

    Raises:
        CnnrnnError: if `requested` is not one of `PRECISIONS`.
    """
    check_choice("precision", requested, PRECISIONS, error=CnnrnnError)
    if requested != "auto":
        return requested
    if any(a.kind == "TPU" for a in accelerators):
        return "mixed_bfloat16"
    gpus = [a for a in accelerators if a.kind == "GPU"]
    if gpus and all(
        g.compute_capability and g.compute_capability >= (7, 0) for g in gpus
    ):
        return "mixed_float16"
    return "float32"


def _tf_config_workers(tf_config):
    """Returns the number of workers (chief included) named in TF_CONFIG."""
    if not tf_config:
        return None
    try:
        cluster = json.loads(tf_config).get("cluster", {})
        return len(cluster.get("chief", [])) + len(cluster.get("worker", []))
    except (ValueError, AttributeError, TypeError) as error:
        raise CnnrnnError(
            f"TF_CONFIG is not a valid cluster description ({error}). Set it to "
            'JSON such as {"cluster": {"worker": [...]}, "task": {...}} or unset it.'
        ) from None


def choose_strategy(accelerators, requested="auto", tf_config=None):
    """Chooses a distribution strategy.

    With `"auto"`: `"multi_worker"` when TF_CONFIG names more than one worker,
    `"mirrored"` for several local GPUs, `"one_device"` otherwise.

    Args:
        accelerators: list of `Accelerator`, as from `list_accelerators()`.
        requested: str. One of `STRATEGIES`. Defaults to `"auto"`.
        tf_config: str or None. Raw TF_CONFIG JSON. Defaults to the
            `TF_CONFIG` environment variable.

    Returns:
        `"one_device"`, `"mirrored"` or `"multi_worker"`.

    Raises:
        CnnrnnError: if `requested` is unknown, TF_CONFIG is not valid JSON,
            or `"multi_worker"` is requested without TF_CONFIG.
    """
    check_choice("strategy", requested, STRATEGIES, error=CnnrnnError)
    if tf_config is None:
        tf_config = os.environ.get("TF_CONFIG")
    workers = _tf_config_workers(tf_config)
    if requested == "multi_worker" and not workers:
        raise CnnrnnError(
            "strategy='multi_worker' needs a cluster. Set TF_CONFIG on every "
            "worker, or use strategy='auto'."
        )
    if requested != "auto":
        return requested
    if workers and workers > 1:
        return "multi_worker"
    if sum(a.kind == "GPU" for a in accelerators) > 1:
        return "mirrored"
    return "one_device"


def make_strategy(name):
    """Creates the `tf.distribute` strategy named by `choose_strategy()`.

    Args:
        name: str. `"one_device"` (the default strategy), `"mirrored"` or
            `"multi_worker"`.

    Returns:
        A `tf.distribute.Strategy`, or None when the backend is not tensorflow.

    Raises:
        CnnrnnError: if `name` is not a strategy name.
    """
    check_choice("strategy", name, STRATEGIES[1:], error=CnnrnnError)
    if active_backend() != "tensorflow":
        return None
    import tensorflow as tf

    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi_worker":
        from cnnrnn import multi_worker

        multi_worker.patch_keras()
        return tf.distribute.MultiWorkerMirroredStrategy()
    return tf.distribute.get_strategy()


@dataclasses.dataclass(frozen=True)
class WorkerRole:
    """This process's place in a training cluster, as returned by `worker_role()`.

    Args:
        task_type: str. `"chief"` or `"worker"` (`"worker"` for a single process).
        task_id: int. Index among the tasks of that type.
        num_workers: int. Tasks that train, the chief included.
        is_chief: bool. Whether this process writes the run directory: the
            chief task, or worker 0 when the cluster has no chief.
    """

    task_type: str = "worker"
    task_id: int = 0
    num_workers: int = 1
    is_chief: bool = True


def worker_role(strategy):
    """Tells whether this process is the chief of its cluster, and its index.

    Every worker of a multi-worker cluster runs the same training (collective
    ops need all of them), but only the chief should write the results.

    Args:
        strategy: a `tf.distribute.Strategy` or None. The cluster is read from
            its `cluster_resolver` (TF_CONFIG for `MultiWorkerMirroredStrategy`).

    Returns:
        A `WorkerRole`; a process outside any cluster is the chief, worker 0 of 1.

    Example:

    >>> role = worker_role(configure().strategy)
    >>> role.is_chief, role.num_workers
    (True, 1)
    """
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return WorkerRole()
    cluster = resolver.cluster_spec().as_dict()
    chiefs = len(cluster.get("chief", []))
    task_type, task_id = resolver.task_type, int(resolver.task_id)
    return WorkerRole(
        task_type=task_type,
        task_id=task_id,
        num_workers=chiefs + len(cluster.get("worker", [])),
        is_chief=task_type == "chief"
        or (task_type == "worker" and task_id == 0 and not chiefs),
    )


def _strategy_for(backend, accelerators, requested):
    """`choose_strategy()`, limited to "one_device" outside tensorflow."""
    name = choose_strategy(accelerators, requested)
    if backend == "tensorflow":
        return name
    if requested in ("mirrored", "multi_worker"):
        raise CnnrnnError(
            f"strategy={requested!r} needs the tensorflow backend (active: "
            f"{backend!r}). Set KERAS_BACKEND=tensorflow or use strategy='auto'."
        )
    return "one_device"


def configure(*, precision="auto", strategy="auto"):
    """Prepares the machine for training and returns what was chosen.

    Turns on TensorFlow GPU memory growth, sets the global mixed-precision
    policy and creates the distribution strategy.

    Args:
        precision: str. One of `PRECISIONS`. Defaults to `"auto"`.
        strategy: str. One of `STRATEGIES`. Defaults to `"auto"`.

    Returns:
        A `DeviceSetup`; build and compile models inside `setup.scope()`.

    Raises:
        CnnrnnError: for an unknown precision or strategy, or a bad TF_CONFIG.

    Example:

    >>> setup = configure()
    >>> with setup.scope():
    ...     model = build_plant_classifier(num_classes=4)
    """
    enable_memory_growth()
    backend = active_backend()
    accelerators = list_accelerators(backend)
    precision = choose_precision(accelerators, precision)
    strategy_name = _strategy_for(backend, accelerators, strategy)
    import keras

    keras.mixed_precision.set_global_policy(precision)
    return DeviceSetup(
        backend=backend,
        accelerators=accelerators,
        precision=precision,
        strategy_name=strategy_name,
        strategy=make_strategy(strategy_name),
    )


def count_nvidia_gpus():
    """Counts the NVIDIA GPUs of this machine without loading any backend.

    Runs `nvidia-smi --list-gpus`, so `CUDA_VISIBLE_DEVICES` does not limit
    the count.

    Returns:
        int. The number of GPUs; 0 when `nvidia-smi` is absent or fails.
    """
    try:
        listing = subprocess.run(
            ["nvidia-smi", "--list-gpus"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return 0
    return sum(line.startswith("GPU ") for line in listing.splitlines())


def _visible_gpus():
    """The `CUDA_VISIBLE_DEVICES` entries of this process's GPUs, in order."""
    count = count_nvidia_gpus()
    visible = _cuda_visible_devices()
    if not count or visible in ("", "-1"):
        return []
    if visible is None:
        return [str(i) for i in range(count)]
    return [entry.strip() for entry in visible.split(",")]


def _parse_gpu_list(gpus, visible):
    """Turns `"0,2"` into the matching entries of `visible`, or raises."""
    try:
        indices = [int(item) for item in gpus.split(",")]
    except ValueError:
        indices = []
    if not indices or min(indices) < 0 or len(set(indices)) < len(indices):
        raise CnnrnnError(
            f"Cannot read gpus={gpus!r}: write 'auto', 'none' or distinct GPU "
            "indices separated by commas, for example '0' or '0,1'."
        )
    missing = [i for i in indices if i >= len(visible)]
    if missing:
        fix = (
            f"use indices 0 to {len(visible) - 1}, or 'auto'"
            if visible
            else "leave the GPUs unset to run on the CPU"
        )
        raise CnnrnnError(
            f"gpus={gpus!r} names GPU {missing[0]}, but this process sees "
            f"{len(visible)} GPU(s) (`nvidia-smi --list-gpus`, limited by "
            f"CUDA_VISIBLE_DEVICES): {fix}."
        )
    return [visible[i] for i in indices]


def pin_gpus(gpus, *, worker_index=None):
    """Limits this process to some GPUs by setting `CUDA_VISIBLE_DEVICES`.

    Call it before the Keras backend is imported: backends read
    `CUDA_VISIBLE_DEVICES` once, when they start. GPUs are counted with
    `nvidia-smi`, without loading a backend. Indices count the GPUs this
    process sees, so under `CUDA_VISIBLE_DEVICES="2,3"` index 1 is GPU 3
    (entries may also be GPU UUIDs; they are kept as written).

    Args:
        gpus: None, `"auto"`, `"none"` or a str of comma-separated GPU
            indices such as `"0"` or `"0,1"`. None changes nothing. `"auto"`
            stands for all visible GPUs; `"none"` hides every GPU.
        worker_index: int or None. With an index, the process gets one GPU:
            the `worker_index % n`-th of the `n` GPUs named, so that parallel
            workers spread over them. Defaults to None (all GPUs named).

    Returns:
        The list of `CUDA_VISIBLE_DEVICES` entries that was set (empty for
        `"none"`), or None when
        nothing changed (`gpus` is None, `"auto"` without `worker_index`, or
        `"auto"` on a machine without visible GPUs).

    Raises:
        CnnrnnError: if `gpus` is not `"auto"` or a list of distinct indices,
            or names a GPU that this process cannot see.

    Example:

    >>> pin_gpus("auto", worker_index=5)  # on a machine with 4 GPUs
    ['1']
    """
    if gpus is None or (gpus == "auto" and worker_index is None):
        return None
    if gpus == "none":
        os.environ["CUDA_VISIBLE_DEVICES"] = ""
        return []
    visible = _visible_gpus()
    chosen = visible if gpus == "auto" else _parse_gpu_list(gpus, visible)
    if not chosen:
        return None
    if worker_index is not None:
        chosen = [chosen[worker_index % len(chosen)]]
    os.environ["CUDA_VISIBLE_DEVICES"] = ",".join(chosen)
    return chosen


def report(*, precision="auto", strategy="auto"):
    """Describes the devices and the choices `configure()` would make.

    Pure inspection: sets no policy and creates no strategy.

    Args:
        precision: str. One of `PRECISIONS`. Defaults to `"auto"`.
        strategy: str. One of `STRATEGIES`. Defaults to `"auto"`.

    Returns:
        A JSON-serialisable dict with keys `backend`, `cuda_visible_devices`,
        `accelerators`, `precision`, `strategy` and `tf_config_workers`.
    """
    backend = active_backend()
    accelerators = list_accelerators(backend)
    entries = [
        {
            **dataclasses.asdict(a),
            "compute_capability": a.compute_capability and list(a.compute_capability),
        }
        for a in accelerators
    ]
    return {
        "backend": backend,
        "cuda_visible_devices": _cuda_visible_devices(),
        "accelerators": entries,
        "precision": choose_precision(accelerators, precision),
        "strategy": _strategy_for(backend, accelerators, strategy),
        "tf_config_workers": _tf_config_workers(os.environ.get("TF_CONFIG")),
    }


def print_report(report, console=None):
    """Prints a `report()` dict as a table of accelerators plus the choices.

    Args:
        report: dict returned by `report()`.
        console: `rich.console.Console` or None. Defaults to a new console
            writing to standard output.
    """
    console = console or rich.console.Console()
    if report["accelerators"]:
        table = rich.table.Table(
            "Kind", "Index", "Name", "Memory", "Compute capability"
        )
        for a in report["accelerators"]:
            memory = a["memory_bytes"]
            capability = a["compute_capability"]
            table.add_row(
                a["kind"],
                str(a["index"]),
                a["name"],
                "-" if memory is None else f"{memory / 2**30:.1f} GiB",
                "-" if capability is None else ".".join(map(str, capability)),
            )
        console.print(table)
    else:
        console.print("No GPU or TPU found: training runs on the CPU.")
    console.print(f"Backend: {report['backend']}")
    if report["cuda_visible_devices"] is not None:
        console.print(f"CUDA_VISIBLE_DEVICES: {report['cuda_visible_devices']!r}")
    console.print(f"Precision: {report['precision']}")
    workers = report["tf_config_workers"]
    suffix = f" ({workers} workers in TF_CONFIG)" if workers else ""
    console.print(f"Strategy: {report['strategy']}{suffix}")
