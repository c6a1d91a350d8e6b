"""Training and inference speed of the model factories per Keras backend and precision.

In one run, for each backend (tensorflow, jax, torch: those installed unless
`--backends` says otherwise) and each dtype policy (`--precisions`, float32
and mixed_float16 by default; mixed_bfloat16 too), a child process with
`KERAS_BACKEND` set builds the five factories with modest sizes and random
NumPy inputs and measures, after a warm-up call whose compile/trace time is
reported apart (`warmup_seconds`):

- `train_examples_per_s`: `model.train_on_batch`, `--steps` batches;
- `infer_examples_per_s`: `model.predict_on_batch`, `--steps` batches;
- `generate_chars_per_s` (char-generator): `CharSampler.generate`, one
  recurrent step per character;
- `captions_per_s` (image-captioner): greedy `CaptionDecoder.caption`.

Medians of `--repeats`, and ratios of every backend/precision to
`tensorflow/float32` (or the first backend's float32 when tensorflow is not
run), as JSON. A child that fails, or an app that fails inside a child, gets
the error's last line in the JSON instead. Timing never decides pass/fail.

Usage:
    python benchmarks/backend_throughput.py [--backends jax,torch]
        [--precisions float32,mixed_float16] [--apps plant-classifier,...]
        [--batch-size 32] [--steps 2] [--repeats 3] [--quick]
        [--output benchmarks/results/backend_throughput.json]

On a GPU machine run it the same way (no need to set `KERAS_BACKEND`: the
parent sets it for each child), for example
`python benchmarks/backend_throughput.py --backends jax,torch
--precisions float32,mixed_float16`. The jax and torch children never import
tensorflow, so it need not be installed: where it is, they hide it, as Keras
would otherwise import it (each child records `tensorflow_imported` and where
Keras asked for it). On a CPU, mixed_float16 is expected to be slower than
float32: most CPUs have no fast float16 units, so the casts only add work
(CPUs with AVX512-FP16 or AMX are the exception; `machine.cpu` lists them).

Each child runs alone, but other processes on the machine skew the timings
(torch's OpenMP threads most: `--omp-threads 1` steadies them on a busy
machine); every child records the load average before and after.
"""

import argparse
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import json
import os
import pathlib
import platform
import subprocess
import sys
import time
import traceback

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
from timing import timed  # noqa: E402

BACKENDS = ("tensorflow", "jax", "torch")
PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")
APPS = (
    "plant-classifier",
    "sentiment-rnn",
    "char-generator",
    "video-classifier",
    "image-captioner",
)
METRICS = (
    "train_examples_per_s",
    "infer_examples_per_s",
    "generate_chars_per_s",
    "captions_per_s",
)
# Sequence lengths and image sizes: modest but real by default, tiny with --quick.
SIZES = {
    "default": dict(
        image=64, words=64, chars=100, generate=200, frames=8, frame=32, captions=32
    ),
    "quick": dict(
        image=32, words=16, chars=20, generate=20, frames=4, frame=32, captions=4
    ),
}


def plant_classifier(size, batch, rng):
    from cnnrnn.models import build_plant_classifier

    shape = (size["image"], size["image"], 3)
    model = build_plant_classifier(input_shape=shape, num_classes=5)
    x = rng.uniform(0, 255, (batch, *shape)).astype("float32")
    return model, x, rng.integers(0, 5, batch), {}


def sentiment_rnn(size, batch, rng):
    from cnnrnn.models import build_sentiment_rnn

    vocabulary = [f"w{i}" for i in range(5000)]
    model = build_sentiment_rnn(vocabulary=vocabulary, raw_text=False)
    # Ids 2.. are words (0 padding, 1 out of vocabulary); texts of varied lengths.
    ids = rng.integers(2, len(vocabulary) + 2, (batch, size["words"]), dtype="int32")
    lengths = rng.integers(size["words"] // 4, size["words"] + 1, batch)
    ids[lengths[:, None] <= range(size["words"])] = 0
    return model, ids, rng.integers(0, 2, batch), {}


def char_generator(size, batch, rng):
    import string

    from cnnrnn.models import CharSampler, build_char_generator

    vocabulary = list(string.ascii_letters + " .,;:!?'\n")
    model = build_char_generator(vocabulary=vocabulary)
    ids = rng.integers(1, len(vocabulary) + 1, (batch, size["chars"] + 1), "int32")
    sampler = CharSampler(model)
    length = size["generate"]

    def generate():
        sampler.generate("ab", length=length, seed=0)

    return model, ids[:, :-1], ids[:, 1:], {"generate_chars_per_s": (generate, length)}


def video_classifier(size, batch, rng):
    from cnnrnn.models import build_video_classifier

    frames, shape = size["frames"], (size["frame"], size["frame"], 3)
    model = build_video_classifier(num_frames=frames, image_shape=shape, num_classes=5)
    mask = rng.integers(1, frames + 1, batch)[:, None] > range(frames)
    x = {
        "frames": rng.uniform(0, 255, (batch, frames, *shape)).astype("float32"),
        "mask": mask,
    }
    return model, x, rng.integers(0, 5, batch), {}


def image_captioner(size, batch, rng):
    from cnnrnn.models import CaptionDecoder, build_image_captioner
    from cnnrnn.models.image_captioner import END_ID, SPECIAL_TOKENS, START_ID

    max_length = 12
    vocabulary = [*SPECIAL_TOKENS, *(f"w{i}" for i in range(196))]
    model = build_image_captioner(
        image_shape=(32, 32, 3), vocabulary=vocabulary, max_length=max_length
    )
    images = rng.uniform(0, 255, (batch, 32, 32, 3)).astype("float32")
    # [<start>, words..., <end>, padding]: inputs all but the last, labels from 1.
    ids = np.zeros((batch, max_length + 2), "int32")
    for row, words in enumerate(rng.integers(3, max_length + 1, batch)):
        caption = rng.integers(len(SPECIAL_TOKENS), len(vocabulary), words)
        ids[row, : words + 2] = [START_ID, *caption, END_ID]
    decoder = CaptionDecoder(model)
    count = size["captions"]

    def caption():
        decoder.caption(images[:count])

    return (
        model,
        (images, ids[:, :-1]),
        ids[:, 1:],
        {"captions_per_s": (caption, count)},
    )


BUILDERS = {
    "plant-classifier": plant_classifier,
    "sentiment-rnn": sentiment_rnn,
    "char-generator": char_generator,
    "video-classifier": video_classifier,
    "image-captioner": image_captioner,
}


def seconds_once(function):
    started = time.perf_counter()
    function()
    return round(time.perf_counter() - started, 3)


def measure(app, size, args, rng):
    model, x, y, extras = BUILDERS[app](size, args.batch_size, rng)
    done = args.batch_size * args.steps
    warmup = {
        "train": seconds_once(lambda: model.train_on_batch(x, y)),
        "infer": seconds_once(lambda: model.predict_on_batch(x)),
    }
    train_s, _ = timed(
        lambda: [model.train_on_batch(x, y) for _ in range(args.steps)], args.repeats
    )
    infer_s, _ = timed(
        lambda: [model.predict_on_batch(x) for _ in range(args.steps)], args.repeats
    )
    result = {
        "parameters": model.count_params(),
        "train_examples_per_s": round(done / train_s, 2),
        "infer_examples_per_s": round(done / infer_s, 2),
    }
    for metric, (function, count) in extras.items():
        warmup[metric.split("_")[0]] = seconds_once(function)
        seconds, _ = timed(function, args.repeats)
        result[metric] = round(count / seconds, 2)
    return {**result, "warmup_seconds": warmup}


class HideTensorflow(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Makes `import tensorflow` fail as on a machine without it; notes who tried.

    Keras imports tensorflow whenever it is installed (`Bidirectional` and
    `set_random_seed` probe for it), which would load it into the jax and
    torch children here but not on a machine without it.
    """

    def __init__(self):
        self.callers = []

    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] == "tensorflow":
            return importlib.machinery.ModuleSpec(name, self)  # origin None
        return None

    def create_module(self, spec):
        caller = next(
            frame
            for frame in reversed(traceback.extract_stack()[:-1])
            if "importlib" not in frame.filename
            and not frame.filename.endswith("module_utils.py")
        )
        where = f"{caller.filename.split('site-packages/')[-1]}:{caller.lineno}"
        self.callers += [where] * (where not in self.callers)
        raise ModuleNotFoundError(f"No module named {spec.name!r}", name=spec.name)

    def exec_module(self, module):
        pass


def child(args):
    hidden = None
    if args.backend != "tensorflow":
        hidden = HideTensorflow()
        sys.meta_path.insert(0, hidden)
    import keras

    from cnnrnn.devices import list_accelerators

    keras.config.set_dtype_policy(args.precision)
    size = SIZES["quick" if args.quick else "default"]
    apps = {}
    for app in args.apps:
        keras.utils.set_random_seed(0)
        try:
            apps[app] = measure(app, size, args, np.random.default_rng(0))
        except Exception as error:
            traceback.print_exc()
            message = traceback.format_exception_only(error)[-1].strip()
            apps[app] = {"error": message.splitlines()[0][:300]}
        keras.backend.clear_session()
    backend = keras.backend.backend()
    devices = [f"{a.kind}:{a.index} {a.name}" for a in list_accelerators()]
    result = {
        "backend": backend,
        "precision": args.precision,
        "keras_version": keras.__version__,
        "backend_version": importlib.import_module(backend).__version__,
        "devices": devices or [f"CPU ({os.cpu_count()} cores)"],
        "apps": apps,
        "tensorflow_imported": "tensorflow" in sys.modules,
        "tensorflow_import_attempts": hidden and hidden.callers,
    }
    print(json.dumps(result))


def run_child(backend, precision, args):
    command = [sys.executable, __file__, "--child", "--backend", backend]
    command += ["--precision", precision, "--apps", ",".join(args.apps)]
    command += ["--batch-size", str(args.batch_size), "--steps", str(args.steps)]
    command += ["--repeats", str(args.repeats)] + ["--quick"] * args.quick
    env = {**os.environ, "KERAS_BACKEND": backend}
    if args.omp_threads:
        env["OMP_NUM_THREADS"] = str(args.omp_threads)
    started, load = time.perf_counter(), os.getloadavg()[0]
    try:
        done = subprocess.run(
            command, env=env, capture_output=True, text=True, timeout=args.timeout
        )
        lines = done.stdout.strip().splitlines()
        if done.returncode == 0 and lines and lines[-1].startswith("{"):
            result = json.loads(lines[-1])
        else:
            error = (done.stderr.strip().splitlines() or ["no output"])[-1]
            result = {"error": f"exit {done.returncode}: {error}"}
    except subprocess.TimeoutExpired:
        result = {"error": f"timed out after {args.timeout} s"}
    seconds = round(time.perf_counter() - started, 1)
    # Other processes' load skews the timings (torch's OpenMP threads most).
    loads = [round(load, 2), round(os.getloadavg()[0], 2)]
    return {**result, "child_seconds": seconds, "load_average_before_after": loads}


def ratios(results):
    """Every metric of every combination relative to the reference combination."""
    ok = [key for key, result in results.items() if "apps" in result]
    reference = "tensorflow/float32"
    if reference not in ok:
        reference = next((key for key in ok if key.endswith("/float32")), None)
    if reference is None:
        return None, {}
    base = results[reference]["apps"]
    table = {}
    for key in ok:
        for app, numbers in results[key]["apps"].items():
            for metric in METRICS:
                value, ref = numbers.get(metric), base.get(app, {}).get(metric)
                if value and ref:
                    row = table.setdefault(key, {}).setdefault(app, {})
                    row[metric] = round(value / ref, 2)
    return reference, table


def print_table(results, reference, table):
    from rich import box
    from rich.console import Console
    from rich.table import Table

    title = f"per second (examples, chars or captions), x {reference}"
    view = Table(title=title, box=box.SIMPLE, padding=(0, 1))
    view.add_column("app metric")
    for key in results:
        view.add_column(key.replace("/", " ").replace("_", " "), justify="right")
    for app in APPS:
        for metric in METRICS:
            cells = []
            for key, result in results.items():
                value = result.get("apps", {}).get(app, {}).get(metric)
                ratio = table.get(key, {}).get(app, {}).get(metric)
                cells.append(
                    f"{value:.4g}" + f" {ratio:.2f}x" * bool(ratio) if value else ""
                )
            if any(cells):
                view.add_row(f"{app.split('-')[0]} {metric.split('_')[0]}", *cells)
    Console(width=None if sys.stdout.isatty() else 120).print(view)
    for key, result in results.items():
        for app, numbers in [("", result), *result.get("apps", {}).items()]:
            if "error" in numbers:
                print(f"{key} {app}: {numbers['error']}")


def cpu_description():
    """The CPU's model name and its float16/bfloat16 units (Linux)."""
    try:
        info = pathlib.Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return platform.processor()
    fields = {}
    for key, _, value in (line.partition(":") for line in info):
        fields.setdefault(key.strip(), value.strip())
    units = [
        flag
        for flag in fields.get("flags", "").split()
        if flag.startswith(("avx512_fp16", "avx512_bf16", "amx"))
    ]
    return f"{fields.get('model name', '')} ({' '.join(units) or 'no fp16 units'})"


def parent(args):
    started = time.perf_counter()
    results = {}
    for backend in args.backends:
        for precision in args.precisions:
            key = f"{backend}/{precision}"
            print(f"{key} ...", end=" ", flush=True)
            results[key] = run_child(backend, precision, args)
            print(f"{results[key]['child_seconds']} s", results[key].get("error", ""))
    reference, table = ratios(results)
    output = {
        "benchmark": "backend_throughput",
        "settings": {
            "apps": args.apps,
            "batch_size": args.batch_size,
            "steps": args.steps,
            "repeats": args.repeats,
            "quick": args.quick,
            "omp_threads": args.omp_threads,
            "sizes": SIZES["quick" if args.quick else "default"],
        },
        "machine": {
            "cpu": cpu_description(),
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
        },
        "results": results,
        "ratios_vs": reference,
        "ratios_note": "rate / the same rate of ratios_vs: above 1 is faster",
        "ratios": table,
        "wall_seconds": round(time.perf_counter() - started, 1),
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(output, indent=2) + "\n")
    print_table(results, reference, table)
    print(f"wrote {args.output} in {output['wall_seconds']} s")


def names(choices):
    def parse(text):
        values = [value.strip() for value in text.split(",") if value.strip()]
        unknown = set(values) - set(choices)
        if unknown or not values:
            raise argparse.ArgumentTypeError(
                f"expected names among {', '.join(choices)}; got {text!r}"
            )
        return values

    return parse


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    installed = [b for b in BACKENDS if importlib.util.find_spec(b)]
    parser.add_argument("--backends", type=names(BACKENDS), default=installed)
    parser.add_argument(
        "--precisions", type=names(PRECISIONS), default=["float32", "mixed_float16"]
    )
    parser.add_argument("--apps", type=names(APPS), default=list(APPS))
    parser.add_argument("--batch-size", type=int, help="32; 4 with --quick")
    parser.add_argument(
        "--steps", type=int, help="batches per repeat: 2; 1 with --quick"
    )
    parser.add_argument("--repeats", type=int, help="3; 1 with --quick")
    parser.add_argument("--quick", action="store_true", help="tiny smoke-test sizes")
    parser.add_argument(
        "--omp-threads", type=int, help="OMP_NUM_THREADS of the children (unset)"
    )
    parser.add_argument("--timeout", type=int, default=900, help="seconds per child")
    parser.add_argument(
        "--output",
        type=pathlib.Path,
        default=pathlib.Path("benchmarks/results/backend_throughput.json"),
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--backend", choices=BACKENDS, help=argparse.SUPPRESS)
    parser.add_argument("--precision", choices=PRECISIONS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    for name, default, quick in (
        ("batch_size", 32, 4),
        ("steps", 2, 1),
        ("repeats", 3, 1),
    ):
        if getattr(args, name) is None:
            setattr(args, name, quick if args.quick else default)
    child(args) if args.child else parent(args)


if __name__ == "__main__":
    main()
