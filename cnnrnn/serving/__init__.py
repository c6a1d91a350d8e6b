"""`cnnrnn serve`: a trained run as a web service and a web page.

FastAPI (routes, OpenAPI docs, request parsing) on uvicorn (the ASGI
server), the stack Ludwig and most Python model servers use. See
`cnnrnn.serving.api` for the routes, `cnnrnn.serving.batching` for the
dynamic batching and `cnnrnn.serving.inputs` for what a request may hold.
"""

import dataclasses
import json
import os
import socket

from cnnrnn.errors import CnnrnnError
from cnnrnn.serving.api import Settings, create_app
from cnnrnn.serving.inputs import Limits
from cnnrnn.serving.service import ModelService
from cnnrnn.tuning.cluster import is_loopback

TOKEN_VARIABLE = "CNNRNN_SERVE_TOKEN"
_ENVIRONMENT = "CNNRNN_SERVE_OPTIONS"  # how `--workers N` processes get them

__all__ = ["Limits", "ModelService", "Settings", "create_app", "serve"]


def serve(
    run_dir,
    *,
    host="127.0.0.1",
    port=8000,
    workers=1,
    settings=None,
    safe_mode=True,
    access_log=False,
    say=print,
):
    """Serves a trained run over HTTP until interrupted (Ctrl-C).

    Args:
        run_dir: path-like. A finished run directory.
        host: str. Address to bind; loopback by default. Another address
            makes the model reachable from other machines, and is warned of.
        port: int. TCP port. Defaults to 8000.
        workers: int. Server processes, each with its own copy of the model.
            Defaults to 1.
        settings: `cnnrnn.serving.Settings` or None.
        safe_mode: bool. Keras safe mode when loading. Defaults to True.
        access_log: bool. Log every request. Defaults to False.
        say: callable. Prints a line for people.

    Raises:
        CnnrnnError: if `run_dir` is not a finished run, or the port is taken.
    """
    import uvicorn

    settings = settings or Settings()
    service = ModelService(run_dir, safe_mode=safe_mode)  # fails here, in one line
    _check_port_free(host, port)
    if not is_loopback(host):
        say(
            f"Warning: serving on {host}, so any machine that reaches this one can "
            "use the model"
            + ("." if settings.token else f": pass --token (or set {TOKEN_VARIABLE}).")
        )
    shown = f"[{host}]" if ":" in host else host
    say(
        f"Serving the {service.app.name} run {run_dir} at http://{shown}:{port}/ "
        f"(API docs: /docs), {workers} worker(s). Ctrl-C stops it."
    )
    options = {"log_level": "warning", "access_log": access_log}
    if workers == 1:
        app = create_app(service, settings)
        uvicorn.run(app, host=host, port=port, **options)
        return
    del service  # each worker process loads its own
    os.environ[_ENVIRONMENT] = json.dumps(
        {
            "run_dir": str(run_dir),
            "safe_mode": safe_mode,
            "settings": dataclasses.asdict(settings),
        }
    )
    uvicorn.run(
        "cnnrnn.serving:app_from_environment",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        **options,
    )


def app_from_environment():
    """The application of one `--workers` process, from the parent's options."""
    options = json.loads(os.environ[_ENVIRONMENT])
    fields = options["settings"]
    settings = Settings(**{**fields, "limits": Limits(**fields["limits"])})
    run_dir, safe_mode = options["run_dir"], options["safe_mode"]
    return create_app(lambda: ModelService(run_dir, safe_mode=safe_mode), settings)


def _check_port_free(host, port):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            raise CnnrnnError(
                f"Cannot listen on {host}:{port} ({error.strerror}): pass another "
                "--port, or stop the program that uses it."
            ) from None
