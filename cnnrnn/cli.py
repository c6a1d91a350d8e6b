"""The `cnnrnn` command line.

Heavy imports (TensorFlow, Keras) happen after argument parsing, and only in
the commands that run a model, so `--help`, `list`, `new` and `demo-data`
answer at once and TensorFlow's start-up chatter is kept off the terminal.
"""

import argparse
import contextlib
import json
import os
import pathlib
import sys

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from cnnrnn import interrupts

console = Console()
error_console = Console(stderr=True)


def main(argv=None):
    """Entry point of the `cnnrnn` console script."""
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = argv
    if not args.debug:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    try:
        quiet = contextlib.nullcontext() if args.debug else _native_stderr_silenced()
        with quiet:
            if hasattr(args, "prepare"):
                args.prepare(args)  # before the backend starts (GPU pinning)
            if args.uses_backend and not args.debug:
                _import_backend()
        with interrupts.remembered():
            args.handler(args)
    except KeyboardInterrupt:
        error_console.print(
            escape(f"Interrupted. {getattr(args, 'resume_hint', '')}".strip()),
            soft_wrap=True,
        )
        return 130
    except Exception as error:  # noqa: BLE001 - the CLI shows one line, never a traceback
        if args.debug:
            raise
        error_console.print(
            f"[red]error:[/] {escape(_one_line(error))}",
            highlight=False,
            soft_wrap=True,
        )
        return 1
    return 0


def build_parser():
    parser = argparse.ArgumentParser(
        prog="cnnrnn",
        description="Keras application templates: train, evaluate, predict, export.",
    )
    parser.add_argument(
        "--debug", action="store_true", help="show full tracebacks and TF logs"
    )
    parser.set_defaults(uses_backend=True)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    sub = commands.add_parser("list", help="list the applications")
    sub.set_defaults(handler=cmd_list, uses_backend=False)

    sub = commands.add_parser("devices", help="show accelerators, precision, strategy")
    sub.add_argument("--json", action="store_true", help="print JSON")
    _add_device_options(sub)
    sub.set_defaults(handler=cmd_devices, uses_backend=False)

    sub = commands.add_parser("demo-data", help="write an application's demo data")
    sub.add_argument("app", metavar="APP")
    sub.add_argument("directory", metavar="DIR", type=pathlib.Path)
    sub.set_defaults(handler=cmd_demo_data, uses_backend=False)

    sub = commands.add_parser("train", help="train a model into a run directory")
    _add_config_options(sub)
    sub.add_argument("--output", type=pathlib.Path, help="run directory")
    sub.add_argument("--epochs", type=int, help="maximum number of epochs")
    sub.add_argument(
        "--overwrite", action="store_true", help="replace a finished run in --output"
    )
    _add_device_options(sub)
    _add_tracking_options(sub)
    sub.set_defaults(handler=cmd_train)

    sub = commands.add_parser("evaluate", help="evaluate a trained run")
    sub.add_argument("run_dir", metavar="RUN_DIR", type=pathlib.Path)
    sub.add_argument("--data", help="other labelled data (default: test split)")
    sub.add_argument("--json", action="store_true", help="print JSON")
    _add_safe_mode_option(sub)
    sub.set_defaults(handler=cmd_evaluate)

    sub = commands.add_parser("predict", help="predict with a trained run")
    sub.add_argument("run_dir", metavar="RUN_DIR", type=pathlib.Path)
    sub.add_argument(
        "inputs", metavar="INPUT", nargs="*", help="inputs: files, or texts"
    )
    sub.add_argument(
        "--from-file",
        metavar="FILE",
        help="read more inputs from FILE, one per line ('-' for standard input)",
    )
    sub.add_argument(
        "--top-k", type=_positive_int, default=3, help="classes to show (3)"
    )
    sub.add_argument("--json", action="store_true", help="print JSON")
    _add_safe_mode_option(sub)
    sub.set_defaults(handler=cmd_predict)

    sub = commands.add_parser("generate", help="generate text with a trained run")
    sub.add_argument("run_dir", metavar="RUN_DIR", type=pathlib.Path)
    sub.add_argument("--seed", default="", help="text to continue (default: none)")
    sub.add_argument("--length", type=int, default=500, help="characters (500)")
    sub.add_argument(
        "--temperature",
        type=float,
        default=0.8,
        help="below 1: safer, above 1: wilder, 0: most likely (0.8)",
    )
    sub.add_argument("--top-k", type=int, help="draw from the K likeliest only")
    sub.add_argument("--top-p", type=float, help="nucleus sampling threshold")
    sub.add_argument("--num-samples", type=int, default=1, help="samples (1)")
    sub.add_argument("--stop", help="end a sample once it writes this text")
    sub.add_argument("--random-seed", type=int, help="seed for reproducible text")
    sub.add_argument("--json", action="store_true", help="print JSON")
    _add_safe_mode_option(sub)
    sub.set_defaults(handler=cmd_generate)

    sub = commands.add_parser("caption", help="caption images with a trained run")
    sub.add_argument("run_dir", metavar="RUN_DIR", type=pathlib.Path)
    sub.add_argument("images", metavar="IMAGE", nargs="+", help="image files")
    sub.add_argument(
        "--beam-width",
        type=int,
        default=None,
        help="captions kept at each step; 1: greedy or sampled (the run's "
        "inference.beam_width, 3 by default)",
    )
    sub.add_argument(
        "--temperature",
        type=float,
        default=0.0,
        help="0: most likely words; above 0: sample (with --beam-width 1) (0)",
    )
    sub.add_argument(
        "--length-penalty",
        type=float,
        default=1.0,
        help="beam ranking: log-probability / length**PENALTY (1.0)",
    )
    sub.add_argument("--max-length", type=int, help="most words per caption")
    sub.add_argument("--random-seed", type=int, help="seed for reproducible sampling")
    sub.add_argument("--json", action="store_true", help="print JSON")
    _add_safe_mode_option(sub)
    sub.set_defaults(handler=cmd_caption)

    sub = commands.add_parser("tune", help="run a hyperparameter search job")
    sub.add_argument("job", metavar="JOB_FILE", type=pathlib.Path, help="TOML job")
    sub.add_argument("--output", type=pathlib.Path, help="output folder (job's)")
    sub.add_argument(
        "--dry-run",
        action="store_true",
        help="print the search space and budget, train nothing",
    )
    sub.add_argument(
        "--overwrite",
        action="store_true",
        help="replace a different search in the output folder",
    )
    _add_distributed_options(sub)
    _add_tracking_options(sub)
    sub.set_defaults(handler=cmd_tune, prepare=prepare_tune)

    sub = commands.add_parser(
        "new", help="start a project from an application's template"
    )
    sub.add_argument("app", metavar="APP", nargs="?", help="application (see --list)")
    sub.add_argument("directory", metavar="DIR", nargs="?", type=pathlib.Path)
    sub.add_argument(
        "--list", action="store_true", help="show the templates and their options"
    )
    sub.add_argument(
        "--no-input", action="store_true", help="take the defaults, ask nothing"
    )
    sub.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="an option's value, e.g. --set rnn_type=gru (repeatable)",
    )
    sub.add_argument(
        "--overwrite", action="store_true", help="write into a non-empty DIR"
    )
    sub.set_defaults(handler=cmd_new, uses_backend=False)

    sub = commands.add_parser("export", help="write a serving artefact")
    sub.add_argument("run_dir", metavar="RUN_DIR", type=pathlib.Path)
    sub.add_argument(
        "--format", choices=("saved_model", "tflite"), default="saved_model"
    )
    sub.add_argument("--output", type=pathlib.Path, help="where to write")
    sub.add_argument("--overwrite", action="store_true", help="replace an export")
    _add_safe_mode_option(sub)
    sub.set_defaults(handler=cmd_export)

    sub = commands.add_parser(
        "compare", help="measure a CNN against row-by-row RNNs: accuracy, size, speed"
    )
    sub.add_argument(
        "--data",
        metavar="DIR",
        help="image folder, one sub-folder per class "
        "(default: scikit-learn's handwritten digits)",
    )
    sub.add_argument(
        "--output",
        metavar="DIR",
        type=pathlib.Path,
        help="folder to write (runs/compare-<time>)",
    )
    sub.add_argument(
        "--epochs", metavar="N", type=int, help="epochs of every model (30)"
    )
    sub.add_argument(
        "--image-size",
        metavar="N",
        type=int,
        help="image height and width (digits 16, folder 32)",
    )
    sub.add_argument(
        "--models",
        metavar="LIST",
        default="cnn,lstm,gru",
        help="models to compare, comma-separated (cnn,lstm,gru)",
    )
    sub.add_argument(
        "--seed", metavar="N", type=int, default=0, help="seed of everything (0)"
    )
    sub.add_argument(
        "--overwrite", action="store_true", help="write into a non-empty --output"
    )
    sub.add_argument("--json", action="store_true", help="print JSON")
    sub.set_defaults(handler=cmd_compare)

    sub = commands.add_parser(
        "profile", help="size a model before training: parameters, FLOPs, memory"
    )
    _add_config_options(sub)
    sub.add_argument(
        "--batch-sizes",
        metavar="LIST",
        default="1,256",
        type=_batch_sizes,
        help="batch sizes to time, comma-separated (1,256)",
    )
    sub.add_argument("--json", action="store_true", help="print JSON")
    _add_device_options(sub, strategy=False)  # one model on one device
    sub.set_defaults(handler=cmd_profile)

    sub = commands.add_parser(
        "tune-certs", help="write TLS certificates for a distributed search"
    )
    sub.add_argument("directory", metavar="DIR", type=pathlib.Path)
    sub.add_argument(
        "--hosts",
        default="",
        metavar="NAMES",
        help="the chief's host names and addresses, comma-separated "
        "(localhost and 127.0.0.1 always)",
    )
    sub.set_defaults(handler=cmd_tune_certs, uses_backend=False)

    sub = commands.add_parser(
        "serve", help="serve a trained run: HTTP API and a web page"
    )
    sub.add_argument("run_dir", metavar="RUN_DIR", type=pathlib.Path)
    sub.add_argument("--host", default="127.0.0.1", help="address (127.0.0.1)")
    sub.add_argument("--port", type=_port, default=8000, help="TCP port (8000)")
    sub.add_argument(
        "--max-batch-size",
        type=_positive_int,
        default=32,
        help="most inputs per model call (32; 1 turns batching off)",
    )
    sub.add_argument(
        "--batch-timeout-ms",
        type=float,
        default=5.0,
        help="longest wait for more inputs once one is queued (5)",
    )
    sub.add_argument(
        "--workers", type=_positive_int, default=1, help="server processes (1)"
    )
    sub.add_argument(
        "--token",
        help="require 'Authorization: Bearer TOKEN' (default: $CNNRNN_SERVE_TOKEN)",
    )
    sub.add_argument(
        "--max-request-mb", type=float, default=32.0, help="request body limit (32)"
    )
    sub.add_argument(
        "--max-inputs", type=_positive_int, default=64, help="inputs per request (64)"
    )
    sub.add_argument(
        "--max-image-pixels",
        type=_positive_int,
        default=40_000_000,
        help="pixels per image (40000000)",
    )
    sub.add_argument(
        "--max-clip-seconds", type=float, default=120.0, help="video duration (120)"
    )
    sub.add_argument("--access-log", action="store_true", help="log every request")
    _add_safe_mode_option(sub)
    sub.set_defaults(handler=cmd_serve)

    from cnnrnn.run_table import SORTS

    sub = commands.add_parser(
        "runs", help="a table of run directories; --compare draws their curves"
    )
    sub.add_argument(
        "dirs",
        metavar="DIR",
        nargs="*",
        type=pathlib.Path,
        help="runs, or folders holding runs at any depth (runs)",
    )
    sub.add_argument(
        "--sort",
        choices=tuple(SORTS),
        default="date",
        help="date: newest first; test, best: best first; time: fastest first (date)",
    )
    sub.add_argument(
        "--compare",
        action="store_true",
        help="compare the DIRs (two or more runs): learning curves on one "
        "figure, and the options that differ",
    )
    sub.add_argument(
        "--output",
        type=pathlib.Path,
        default=pathlib.Path("runs-compare.png"),
        help="figure of --compare (runs-compare.png)",
    )
    sub.add_argument("--json", action="store_true", help="print JSON")
    sub.set_defaults(handler=cmd_runs, uses_backend=False)
    return parser


def cmd_tune_certs(args):
    from cnnrnn.tuning.certificates import make_certificates

    hosts = [host.strip() for host in args.hosts.split(",") if host.strip()]
    paths = make_certificates(args.directory, hosts)
    console.print(
        f"Wrote {paths['ca']} (give it to every worker: --tls-ca), {paths['cert']} "
        f"and {paths['key']} (the chief's: --tls-cert, --tls-key).",
        soft_wrap=True,
    )


def cmd_serve(args):
    from cnnrnn import serving

    limits = serving.Limits(
        max_request_bytes=int(args.max_request_mb * 2**20),
        max_inputs=args.max_inputs,
        max_image_pixels=args.max_image_pixels,
        max_clip_seconds=args.max_clip_seconds,
    )
    settings = serving.Settings(
        max_batch_size=args.max_batch_size,
        batch_timeout_ms=args.batch_timeout_ms,
        token=args.token or os.environ.get(serving.TOKEN_VARIABLE) or None,
        limits=limits,
    )
    serving.serve(
        args.run_dir,
        host=args.host,
        port=args.port,
        workers=args.workers,
        settings=settings,
        safe_mode=args.safe_mode,
        access_log=args.access_log,
        say=lambda line: console.print(escape(line), soft_wrap=True),
    )


def cmd_list(args):
    from cnnrnn.apps import APPS

    table = Table("application", "what it does", title="cnnrnn applications")
    for app in APPS.values():
        table.add_row(app.name, app.summary)
    console.print(table)


def cmd_devices(args):
    from cnnrnn import devices

    report = devices.report(
        precision=args.precision or "auto", strategy=args.strategy or "auto"
    )
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        devices.print_report(report, console)


def cmd_demo_data(args):
    from cnnrnn.apps import get_app

    path = get_app(args.app).write_demo_data(args.directory)
    console.print(f"Wrote {args.app} demo data to {escape(str(path))}", soft_wrap=True)


def cmd_train(args):
    from cnnrnn import devices, training
    from cnnrnn.apps import check_backend, get_app
    from cnnrnn.errors import CnnrnnError

    app = get_app(args.app)
    check_backend(app)
    epochs = {} if args.epochs is None else {"epochs": args.epochs}
    config = _resolve_config(
        app,
        args,
        training=epochs,
        devices=_given(precision=args.precision, strategy=args.strategy),
        tracking=_tracking(args),
    )
    _say_demo_settings(app, config)
    strategy = devices.report(strategy=config["devices"]["strategy"])["strategy"]
    if args.output is None and strategy == "multi_worker":
        raise CnnrnnError(
            "Multi-worker training (TF_CONFIG) needs --output: pass the same "
            "--output DIR to every worker."
        )
    run_dir = args.output or training.default_run_dir(app.name)
    args.resume_hint = (
        f"Resume with: cnnrnn {' '.join(args.argv)} --output {run_dir}"
        if args.output is None
        else "Run the same command again to resume."
    )
    metrics = training.train(
        app, config=config, run_dir=run_dir, overwrite=args.overwrite, console=console
    )
    _print_metrics(metrics, title=f"{app.name}: finished")
    console.print(f"Run directory: [bold]{escape(str(run_dir))}[/]", soft_wrap=True)


def cmd_evaluate(args):
    from cnnrnn import training

    config, split, metrics = training.evaluate_run(
        args.run_dir, data=args.data, safe_mode=args.safe_mode
    )
    if args.json:
        print(json.dumps(metrics, indent=2))
    else:
        source = args.data or f"{config['data']['source']} ({split} split)"
        _print_metrics(metrics, title=f"evaluation on {source}")


def cmd_predict(args):
    from cnnrnn.errors import CnnrnnError
    from cnnrnn.training import load_run

    inputs = list(args.inputs)
    if args.from_file:
        inputs += _read_lines(args.from_file)
    if not inputs:
        raise CnnrnnError(
            "Nothing to predict: pass inputs after RUN_DIR or --from-file FILE."
        )
    app, config, model = load_run(args.run_dir, safe_mode=args.safe_mode)
    results = app.predict(model, inputs, config, top_k=args.top_k)
    if args.json:
        print(json.dumps(results, indent=2))
        return
    # One column per key of the predictions: a class and its probability,
    # a caption, a forecast step and its values ...
    keys = list(dict.fromkeys(k for r in results for p in r["predictions"] for k in p))
    table = Table("input", *keys)
    for result in results:
        for rank, prediction in enumerate(result["predictions"]):
            table.add_row(
                result["input"] if rank == 0 else "",
                *(_cell(prediction.get(key, "")) for key in keys),
            )
    console.print(table)


def _cell(value):
    """A prediction's value as a table cell: floats to 3 decimals."""
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def cmd_generate(args):
    from cnnrnn.errors import CnnrnnError
    from cnnrnn.training import load_run

    app, _, model = load_run(args.run_dir, safe_mode=args.safe_mode)
    if app.sampler is None:
        raise CnnrnnError(
            f"'{args.run_dir}' is a {app.name} run, which does not generate text: "
            "pass a char-generator run."
        )
    chunks = app.sampler(model).stream(
        args.seed,
        length=args.length,
        temperature=args.temperature,
        top_k=args.top_k,
        top_p=args.top_p,
        num_samples=args.num_samples,
        stop=args.stop,
        seed=args.random_seed,
    )
    if args.json or args.num_samples > 1:
        texts = [""] * args.num_samples
        for chars in chunks:
            texts = [text + char for text, char in zip(texts, chars, strict=True)]
        if args.json:
            print(json.dumps({"seed": args.seed, "samples": texts}, indent=2))
            return
        for number, text in enumerate(texts, start=1):
            console.rule(f"sample {number}")
            print(args.seed + text)
        return
    sys.stdout.write(args.seed)  # streamed as generated, one character at a time
    for (char,) in chunks:
        sys.stdout.write(char)
        sys.stdout.flush()
    sys.stdout.write("\n")


def cmd_caption(args):
    from cnnrnn.errors import CnnrnnError
    from cnnrnn.training import load_run

    app, config, model = load_run(args.run_dir, safe_mode=args.safe_mode)
    if app.caption_files is None:
        raise CnnrnnError(
            f"'{args.run_dir}' is a {app.name} run, which does not caption images: "
            "pass an image-captioner run."
        )
    options = {} if args.beam_width is None else {"beam_width": args.beam_width}
    found = app.caption_files(
        model,
        args.images,
        config,
        **options,
        temperature=args.temperature,
        length_penalty=args.length_penalty,
        max_length=args.max_length,
        seed=args.random_seed,
    )
    if args.json:
        results = [
            {"image": path, "caption": text, "log_probability": score}
            for path, (text, score) in zip(args.images, found, strict=True)
        ]
        print(json.dumps(results, indent=2))
        return
    for path, (text, _) in zip(args.images, found, strict=True):
        print(f"{path}: {text}")


def prepare_tune(args):
    """Checks the distributed options; pins a worker's GPUs before the backend.

    A dry run and the `--workers` launcher train nothing here: they start no
    backend.
    """
    from cnnrnn.errors import CnnrnnError
    from cnnrnn.tuning import cluster

    args.uses_backend = not args.dry_run and args.workers is None
    if args.worker_timeout < 3 * cluster.HEARTBEAT_SECONDS:
        raise CnnrnnError(
            f"--worker-timeout {args.worker_timeout:g} is too short: workers send "
            f"a heartbeat every {cluster.HEARTBEAT_SECONDS:g} s, so allow at least "
            f"{3 * cluster.HEARTBEAT_SECONDS:g} s."
        )
    if args.workers is not None:
        alone = (args.role, args.oracle, args.worker_id, args.gpus, args.token)
        alone += (args.tls_cert, args.tls_key, args.tls_ca)
        if args.workers < 1 or any(alone):
            raise CnnrnnError(
                "--workers N starts a chief and N >= 1 workers on this machine "
                "by itself: drop --role, --oracle, --worker-id, --gpus, --token "
                "and --tls-*, or drop --workers."
            )
        return
    args.search_role = cluster.resolve_role(
        role=args.role,
        oracle=args.oracle,
        worker_id=args.worker_id,
        token=args.token,
        tls={"cert": args.tls_cert, "key": args.tls_key, "ca": args.tls_ca},
        insecure=args.insecure,
    )
    if args.search_role.kind != "worker":
        if args.gpus is not None:
            raise CnnrnnError(
                "--gpus pins a worker to its GPUs: use it with --role worker."
            )
        return
    from cnnrnn import devices

    index = args.search_role.worker_index
    pinned = devices.pin_gpus(args.gpus or "auto", worker_index=index)
    if pinned is not None:
        console.print(f"GPUs for this worker: {', '.join(pinned) or 'none'}")
    elif index is None and devices.count_nvidia_gpus() > 1:
        console.print(
            "[yellow]This worker sees every GPU[/]: its id ends in no number to "
            "pick one by. Pass --gpus 0 (or 1, ...), or a numbered --worker-id."
        )


def cmd_tune(args):
    from cnnrnn.errors import CnnrnnError
    from cnnrnn.tuning import dry_run, load_job

    job = load_job(args.job, output=args.output, tracking=_tracking(args))
    if args.dry_run:
        dry_run(job, console)
        return
    args.resume_hint = "Run the same command again to resume the search."
    if args.workers is not None:
        from cnnrnn.tuning.launch import launch_local

        code = launch_local(
            args.job, workers=args.workers, options=_tune_options(args), say=_say
        )
        if code:
            raise CnnrnnError(
                f"The search did not finish (the chief exited with {code}; see "
                "its lines above). Run the same command again to resume it."
            )
        console.print(f"Results: [bold]{escape(str(job.output))}[/]", soft_wrap=True)
        return
    from cnnrnn.tuning import run_search

    role = args.search_role
    summary = run_search(
        job,
        overwrite=args.overwrite,
        console=console,
        role=role,
        worker_timeout=args.worker_timeout,
    )
    if role.kind == "worker":
        ran = summary["trials_run"]
        console.print(
            f"worker {role.worker_id}: ran {len(ran)} trial(s) "
            f"({', '.join(ran) or 'none'}); the chief writes the results."
        )
        return
    _print_metrics(
        {
            key: summary[key]
            for key in ("trials", "completed", "failed", "best_trial", "best_score")
        },
        title=f"{job.app.name}: search finished",
    )
    console.print(f"Results: [bold]{escape(str(job.output))}[/]", soft_wrap=True)


def _tune_options(args):
    """The options every process of a local distributed search shares."""
    options = ["--worker-timeout", str(args.worker_timeout)]
    if args.output:
        options += ["--output", str(args.output)]
    if args.overwrite:
        options.append("--overwrite")
    if args.track:
        options += ["--track", args.track]
    if args.tracking_uri:
        options += ["--tracking-uri", args.tracking_uri]
    return options


def _say(line):
    print(line, flush=True)


def cmd_new(args):
    from cnnrnn import scaffold
    from cnnrnn.errors import CnnrnnError

    if args.list:
        table = Table("template", "options (default first)")
        for app, options in scaffold.list_templates().items():
            shown = [
                f"{name}: {_option_values(value)}"
                for name, value in options.items()
                if not name.startswith("_")
            ]
            table.add_row(app, "\n".join(shown))
        console.print(table)
        return
    if not (args.app and args.directory):
        raise CnnrnnError(
            "Name the application and the project folder: cnnrnn new APP DIR "
            "(`cnnrnn new --list` shows the templates)."
        )
    values = {}
    for item in args.set:
        name, separator, value = item.partition("=")
        if not (separator and name):
            raise CnnrnnError(
                f"Cannot read --set '{item}': write NAME=VALUE, for example "
                "--set rnn_type=gru."
            )
        values[name] = value
    project = scaffold.new_project(
        args.app,
        args.directory,
        values=values,
        no_input=args.no_input,
        overwrite=args.overwrite,
    )
    console.print(
        f"Project written to [bold]{escape(str(project))}[/]. Next: cd {project} "
        "&& pip install -e . && python train.py --output runs/demo",
        soft_wrap=True,
    )


def _option_values(value):
    """A template option's default (or choices, default first), for people."""
    if isinstance(value, list):
        return " | ".join(map(str, value))
    if "{{" in str(value):
        return "(from project_name)"
    return str(value)


def cmd_export(args):
    from cnnrnn.export import export_model
    from cnnrnn.training import load_run

    _, _, model = load_run(args.run_dir, safe_mode=args.safe_mode)
    path = export_model(
        model,
        args.run_dir,
        format=args.format,
        output=args.output,
        overwrite=args.overwrite,
    )
    console.print(f"Exported {args.format} to {escape(str(path))}", soft_wrap=True)


def cmd_compare(args):
    from cnnrnn import compare, training

    output = args.output or training.default_run_dir("compare")
    comparison = compare.run_comparison(
        output=output,
        data=args.data,
        models=[name.strip() for name in args.models.split(",") if name.strip()],
        epochs=args.epochs,
        image_size=args.image_size,
        seed=args.seed,
        overwrite=args.overwrite,
        console=error_console if args.json else console,
    )
    if args.json:
        print(json.dumps(comparison, indent=2))
        return
    table = Table(title="CNN vs RNN", caption=compare.CAPTION)
    for number, column in enumerate(compare.COLUMNS):
        table.add_column(column, justify="right" if number else "left")
    for row in compare.table_rows(comparison):
        table.add_row(*row)
    console.print(table)
    console.print(
        f"Wrote [bold]{escape(str(output / 'comparison.md'))}[/], comparison.json "
        "and plots/ there.",
        soft_wrap=True,
    )


def cmd_profile(args):
    from cnnrnn import devices, profiling, training
    from cnnrnn.apps import check_backend, get_app
    from cnnrnn.data.common import first_example

    app = get_app(args.app)
    check_backend(app)
    config = _resolve_config(
        app,
        args,
        devices={**_given(precision=args.precision), "strategy": "one_device"},
    )
    config = training.resolve_source(app, config)
    setup = devices.configure(**config["devices"])
    splits = training.load_splits(app, config)
    with setup.scope():
        model = training.build_model(
            app, {**config, "model_from_data": splits.model_args}
        )
    profile = profiling.profile_model(
        model, first_example(splits.train), batch_sizes=args.batch_sizes
    )
    report = {
        "app": app.name,
        "backend": setup.backend,
        "precision": setup.precision,
        **profile.as_dict(),
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return
    table = Table("measure", "value", title=f"{app.name}: {model.name}")
    table.add_row("parameters", f"{profile.parameters:,}")
    table.add_row("trainable parameters", f"{profile.trainable_parameters:,}")
    table.add_row("FLOPs per example", profiling.format_count(profile.flops))
    table.add_row(
        "peak activation memory per example",
        profiling.format_bytes(profile.activation_bytes),
    )
    for batch_size, milliseconds in profile.latency_ms.items():
        table.add_row(
            f"latency per example, batch {batch_size}", f"{milliseconds:.3f} ms"
        )
    console.print(table)
    console.print(
        f"Measured on one example of {escape(config['data']['source'])} "
        f"({setup.backend}, {setup.precision}).",
        soft_wrap=True,
    )


def cmd_runs(args):
    from cnnrnn import run_table

    if args.compare:
        comparison = run_table.compare_runs(args.dirs, args.output)
        if args.json:
            print(json.dumps(comparison, indent=2))
            return
        if comparison["differences"]:
            console.print(run_table.differences_table(comparison))
        else:
            console.print("The runs have the same configuration.")
        console.print(
            f"Learning curves: [bold]{escape(comparison['figure'])}[/]",
            soft_wrap=True,
        )
        return
    rows = run_table.describe_runs(args.dirs or [pathlib.Path("runs")])
    rows = run_table.sort_runs(rows, args.sort)
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    console.print(run_table.runs_table(rows))


def _add_config_options(parser):
    """APP and the options that configure it, as `train` reads them."""
    parser.add_argument("app", metavar="APP", help="application name (see `list`)")
    parser.add_argument("--data", help="data folder/file or tfds:NAME (default: demo)")
    parser.add_argument("--config", type=pathlib.Path, help="JSON or TOML config file")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="override one option, e.g. --set model.depth=4 (repeatable)",
    )


def _add_tracking_options(parser):
    parser.add_argument(
        "--track",
        choices=("mlflow",),
        help="also log to MLflow (tracking.mlflow; needs the mlflow extra)",
    )
    parser.add_argument(
        "--tracking-uri",
        metavar="URI",
        help="MLflow store or server (tracking.mlflow_uri, sqlite:///mlflow.db)",
    )


def _tracking(args):
    """The tracking options given on the command line."""
    options = _given(mlflow_uri=args.tracking_uri)
    if args.track == "mlflow":
        options["mlflow"] = True
    return options


def _add_device_options(parser, *, strategy=True):
    parser.add_argument(
        "--precision",
        choices=("auto", "float32", "mixed_float16", "mixed_bfloat16"),
        help="compute precision (auto: mixed on recent GPUs/TPUs; default: "
        "devices.precision of the config, auto)",
    )
    if not strategy:
        return
    parser.add_argument(
        "--strategy",
        choices=("auto", "one_device", "mirrored", "multi_worker"),
        help="distribution strategy (auto: from the GPUs and TF_CONFIG; default: "
        "devices.strategy of the config, auto)",
    )


def _add_distributed_options(parser):
    from cnnrnn.tuning.cluster import WORKER_TIMEOUT_SECONDS

    group = parser.add_argument_group(
        "distributed search", "run one job on many processes or machines"
    )
    group.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="start a chief and N workers on this machine",
    )
    group.add_argument(
        "--role", choices=("chief", "worker"), help="this process's part"
    )
    group.add_argument(
        "--oracle",
        metavar="HOST:PORT",
        help="the chief's address; the chief listens there (default host 127.0.0.1)",
    )
    group.add_argument(
        "--worker-id", metavar="ID", help="a worker's unique name (hostname-pid)"
    )
    group.add_argument(
        "--gpus",
        metavar="auto|none|0,1",
        help="GPUs a worker may use (auto: one, by the number ending its id)",
    )
    group.add_argument(
        "--token",
        metavar="SECRET",
        help="the secret the chief requires and workers send (default: "
        "$CNNRNN_TUNE_TOKEN; --workers makes one)",
    )
    group.add_argument(
        "--tls-cert", metavar="PEM", help="chief: its TLS certificate (tune-certs)"
    )
    group.add_argument("--tls-key", metavar="PEM", help="chief: its TLS key")
    group.add_argument(
        "--tls-ca", metavar="PEM", help="worker: the CA that signed the chief's"
    )
    group.add_argument(
        "--insecure",
        action="store_true",
        help="let a chief listen beyond loopback with neither token nor TLS",
    )
    group.add_argument(
        "--worker-timeout",
        type=float,
        default=WORKER_TIMEOUT_SECONDS,
        metavar="SECONDS",
        help="chief: requeue the trial of a worker silent this long "
        f"({WORKER_TIMEOUT_SECONDS:.0f})",
    )


def _add_safe_mode_option(parser):
    parser.add_argument(
        "--no-safe-mode",
        dest="safe_mode",
        action="store_false",
        help="allow the model file to run arbitrary code when loaded (trusted "
        "files only)",
    )


def _read_lines(path):
    """Non-empty lines of a file, or of standard input for '-'."""
    from cnnrnn.data.text import read_texts

    if path == "-":
        return [line.strip() for line in sys.stdin if line.strip()]
    return read_texts(path)


def _resolve_config(app, args, **sections):
    """An application's config from --config, --set, --data and `sections`."""
    from cnnrnn import config as config_module

    file_config = config_module.load_config_file(args.config) if args.config else None
    overrides = _parse_sets(args.set)
    if args.data:
        overrides.setdefault("data", {})["source"] = args.data
    for section, values in sections.items():
        overrides.setdefault(section, {}).update(values)
    return config_module.resolve_config(
        app, file_config=file_config, overrides=overrides
    )


def _positive_int(text):
    """An argparse type: a whole number >= 1, or a usage error saying so."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return value


def _port(text):
    """An argparse type: a TCP port from 1 to 65535."""
    value = int(text) if text.isdigit() else 0
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port 1-65535, got {text!r}")
    return value


def _given(**options):
    """The options given on the command line (not None): they win over --set
    and --config, which win over the defaults."""
    return {key: value for key, value in options.items() if value is not None}


def _say_demo_settings(app, config):
    """Tells a run on the demo data which showcase settings it uses."""
    if config["data"].get("source") or not app.demo:
        return
    settings = ", ".join(
        f"{section}.{key}={json.dumps(value)}"
        for section, values in app.demo.items()
        for key, value in values.items()
    )
    console.print(
        f"Demo data, with its showcase settings: {escape(settings)}. Your own "
        "data (--data) gets the defaults made for real data.",
        soft_wrap=True,
    )


def _batch_sizes(value):
    """Parses `--batch-sizes 1,256` (an argparse type)."""
    try:
        sizes = tuple(int(item) for item in value.split(","))
    except ValueError:
        sizes = ()
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(
            f"'{value}' is not a list of positive whole numbers, e.g. 1,256"
        )
    return sizes


def _parse_sets(items):
    """Turns `["model.depth=4", ...]` into `{"model": {"depth": 4}}`."""
    from cnnrnn.errors import CnnrnnError

    overrides = {}
    for item in items:
        key, separator, raw = item.partition("=")
        section, dot, name = key.partition(".")
        if not (separator and dot and name):
            raise CnnrnnError(
                f"Cannot read --set '{item}': write SECTION.KEY=VALUE, for example "
                "--set model.depth=4."
            )
        try:
            value = json.loads(raw)
        except ValueError:
            value = raw
        overrides.setdefault(section, {})[name] = value
    return overrides


def _print_metrics(metrics, *, title):
    table = Table("metric", "value", title=title)
    for key, value in metrics.items():
        if isinstance(value, float):
            value = f"{value:.4f}"
        elif isinstance(value, dict):
            value = ", ".join(
                f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}"
                for k, v in value.items()
            )
        table.add_row(key, str(value))
    console.print(table)


def _one_line(error):
    message = " ".join(str(error).split()) or type(error).__name__
    from cnnrnn.errors import CnnrnnError

    if isinstance(error, (CnnrnnError, ValueError, FileNotFoundError)):
        return message
    return f"{type(error).__name__}: {message} (rerun with --debug for the traceback)"


def _import_backend():
    """Imports TensorFlow and lists devices once, so its native logs happen here.

    Only on the tensorflow backend; the commands that need no model
    (`list`, `new`, `demo-data`, `devices`) skip this.
    """
    from cnnrnn.devices import active_backend

    if active_backend() != "tensorflow":
        return
    try:
        import tensorflow as tf
    except ImportError:
        return
    tf.config.list_physical_devices()
    import absl.logging

    absl.logging.set_verbosity(absl.logging.ERROR)


@contextlib.contextmanager
def _native_stderr_silenced():
    """Sends file descriptor 2 to /dev/null (C++ logs that Python cannot filter)."""
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


if __name__ == "__main__":
    sys.exit(main())
