"""The HTTP side of `cnnrnn serve`: routes, limits, errors and the token.

Routes: `GET /health` (live), `GET /ready` (model loaded and warmed up),
`GET /v1/model`, `POST /v1/predict`, the page at `/` and the OpenAPI docs at
`/docs` (served from the `swagger-ui-bundle` package: no CDN). Every error is
`{"error": "one line"}` with a 4xx status (5xx only for a server fault).
"""

import asyncio
import contextlib
import dataclasses
import hmac
import json
import pathlib
import tempfile

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from cnnrnn import __version__
from cnnrnn.errors import CnnrnnError
from cnnrnn.serving.batching import DynamicBatcher
from cnnrnn.serving.inputs import (
    TASK_OPTIONS,
    Limits,
    Options,
    RequestError,
    check_input,
    read_request,
)

PAGE_DIR = pathlib.Path(__file__).parent / "page"
# Reached without the token: liveness, and the page and docs (they hold no
# data; the page sends the token it is given on every call it makes).
_OPEN_PATHS = ("/health", "/", "/docs", "/openapi.json")
_OPEN_PREFIXES = ("/page/", "/docs-assets/")


@dataclasses.dataclass(frozen=True)
class Settings:
    """How the server runs.

    Args:
        max_batch_size: int. Most inputs per model call. Defaults to 32.
        batch_timeout_ms: float. Longest wait for more inputs once one is
            queued. Defaults to 5.
        token: str or None. When set, every route but `/health`, the page and
            the docs needs `Authorization: Bearer TOKEN`. Defaults to None.
        limits: `cnnrnn.serving.inputs.Limits`.
    """

    max_batch_size: int = 32
    batch_timeout_ms: float = 5.0
    token: str | None = None
    limits: Limits = dataclasses.field(default_factory=Limits)


def create_app(service, settings=None):
    """Builds the FastAPI application that serves `service`.

    Args:
        service: `cnnrnn.serving.service.ModelService`, or a callable that
            returns one (called at start-up, so that a server process loads
            the model once it runs).
        settings: `Settings` or None.

    Returns:
        A `fastapi.FastAPI` application.
    """
    settings = settings or Settings()
    state = {"service": None, "ready": False}
    batcher = DynamicBatcher(
        lambda values, key: state["service"].run(values, key),
        max_batch_size=settings.max_batch_size,
        timeout_ms=settings.batch_timeout_ms,
    )

    async def lifespan(app):
        batcher.start()
        loaded = service() if callable(service) else service
        state["service"] = loaded
        await batcher.call(loaded.warm_up)
        state["ready"] = True
        yield
        await batcher.stop()

    app = FastAPI(
        title="cnnrnn serve",
        version=__version__,
        description="A trained cnnrnn run as a web service.",
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.batcher = batcher
    _add_error_handlers(app)
    app.add_middleware(_BodyLimit, limit=settings.limits.max_request_bytes)

    @app.get("/health", summary="Live: the process answers")
    async def health():
        return {"status": "ok"}

    @app.get("/ready", summary="Ready: the model is loaded and warmed up")
    async def ready():
        if not state["ready"]:
            return JSONResponse({"error": "The model is loading."}, status_code=503)
        return {"status": "ready", "application": state["service"].app.name}

    @app.get("/v1/model", summary="The model: application, classes, input, metrics")
    async def model_info():
        loaded = state["service"]
        return {
            **loaded.describe(),
            "options": list(TASK_OPTIONS[loaded.task]),
            "limits": dataclasses.asdict(settings.limits),
            "batching": {
                "max_batch_size": settings.max_batch_size,
                "batch_timeout_ms": settings.batch_timeout_ms,
                "batches_by_size": dict(sorted(batcher.batch_sizes.items())),
            },
        }

    @app.post(
        "/v1/predict",
        summary="Predict: classes, captions, generated text or forecasts",
        openapi_extra={"requestBody": _request_body()},
    )
    async def predict(request: Request):
        loaded = state["service"]
        with _request_folder(loaded.kind) as folder:
            with batcher.arriving():
                inputs, options = await read_request(
                    request,
                    kind=loaded.kind,
                    task=loaded.task,
                    folder=folder,
                    limits=settings.limits,
                )
                values = await _answering(
                    inputs, _batch_values(loaded, inputs, settings.limits)
                )
            if loaded.task == "generate":
                return await _generate(loaded, batcher, inputs, options, settings)
            found = await _predict(loaded, batcher, inputs, values, options)
        return {"predictions": found}

    @app.get("/", include_in_schema=False)
    async def page():
        return FileResponse(PAGE_DIR / "index.html")

    app.mount("/page", StaticFiles(directory=PAGE_DIR), name="page")
    _add_docs(app)
    if settings.token:
        _add_token_check(app, settings.token)
    return app


@contextlib.contextmanager
def _request_folder(kind):
    """A temporary folder for a request's files; none for texts."""
    if kind == "text":
        yield None
        return
    with tempfile.TemporaryDirectory(prefix="cnnrnn-serve-") as folder:
        yield pathlib.Path(folder)


async def _batch_values(service, inputs, limits):
    """Checks every input and makes it what a batch takes (see
    `ModelService.prepare`); files in threads, off the event loop, while the
    model runs other batches."""

    def value(item):
        check_input(item, service.kind, limits)
        return service.prepare(item.value)

    if service.kind == "text":
        return [value(item) for item in inputs]
    return await asyncio.gather(*(asyncio.to_thread(value, item) for item in inputs))


async def _answering(inputs, coroutine):
    """Awaits `coroutine`; an error it raises about `inputs` becomes a 400
    that names them, not the server's temporary files."""
    try:
        return await coroutine
    except RequestError:
        raise
    except (CnnrnnError, ValueError) as error:
        message = str(error)
        for item in inputs:
            if item.path is not None:
                message = message.replace(str(item.path), item.name)
        raise RequestError(400, " ".join(message.split())) from None


async def _predict(service, batcher, inputs, values, options):
    key = None
    if service.task == "caption":
        key = (("beam_width", options.beam_width), ("max_length", options.max_length))
    found = await _answering(inputs, batcher.submit(values, key))
    if service.task == "classify":  # ranked classes: the top k of them
        found = [ranked[: options.top_k or 3] for ranked in found]
    return [
        {"input": item.name if item.path else item.text, "predictions": predictions}
        for item, predictions in zip(inputs, found, strict=True)
    ]


async def _generate(service, batcher, inputs, options, settings):
    chosen = {
        "length": 500 if options.length is None else options.length,
        "temperature": 0.8 if options.temperature is None else options.temperature,
        "top_k": options.top_k,
        "top_p": options.top_p,
        "seed": options.seed,
    }
    if chosen["length"] > settings.limits.max_length:
        raise RequestError(
            413,
            f"length {chosen['length']} is over the limit of "
            f"{settings.limits.max_length} characters: ask for fewer.",
        )
    streams = []
    for item in inputs:
        try:  # the seed text and options are checked before anything is sent
            stream = service.generate(item.text, chosen)
            streams.append(await batcher.call(_first, stream))
        except ValueError as error:
            raise RequestError(400, f"{item.name}: {error}") from None
    if options.stream:
        if len(inputs) != 1:
            raise RequestError(400, "Stream one input at a time: send one text.")
        return StreamingResponse(
            _events(batcher, *streams), media_type="text/event-stream"
        )
    found = []
    for item, (first, rest) in zip(inputs, streams, strict=True):
        text = first + "".join(await batcher.call(list, rest))
        found.append({"input": item.text, "text": text})
    return {"predictions": found}


def _first(stream):
    """Runs a generator to its first character: `(char, the rest)`."""
    return next(stream, ""), stream


async def _events(batcher, stream):
    first, rest = stream
    if first:
        yield _event({"text": first})
    while True:
        char = await batcher.call(next, rest, None)
        if char is None:
            break
        yield _event({"text": char})
    yield "event: end\ndata: {}\n\n"


def _event(data):
    return f"data: {json.dumps(data)}\n\n"


def _request_body():
    return {
        "content": {
            "application/json": {"schema": Options.model_json_schema()},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "files": {
                            "type": "array",
                            "items": {"type": "string", "format": "binary"},
                        },
                        "inputs": {"type": "array", "items": {"type": "string"}},
                        "top_k": {"type": "integer"},
                    },
                }
            },
        },
        "required": True,
    }


def _add_error_handlers(app):
    @app.exception_handler(RequestError)
    async def request_error(request, error):
        return JSONResponse({"error": str(error)}, status_code=error.status)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request, error):
        return JSONResponse({"error": f"Invalid request: {error}"}, status_code=400)

    @app.exception_handler(HTTPException)
    async def http_error(request, error):
        messages = {
            404: f"No route {request.url.path}: see /docs for the routes.",
            405: f"{request.method} is not allowed on {request.url.path}: "
            "see /docs for the methods.",
        }
        message = messages.get(error.status_code, str(error.detail))
        return JSONResponse(
            {"error": message}, status_code=error.status_code, headers=error.headers
        )

    @app.exception_handler(Exception)
    async def server_fault(request, error):
        message = " ".join(str(error).split()) or type(error).__name__
        return JSONResponse(
            {"error": f"The server failed ({message}): see its log."},
            status_code=500,
        )


class _BodyLimit:
    """ASGI middleware: refuses a body over `limit` bytes, declared or streamed."""

    def __init__(self, app, limit):
        self.app = app
        self.limit = limit

    def error(self):
        return RequestError(
            413,
            f"The request body is over the limit of {self.limit:,} bytes: send "
            "fewer or smaller inputs, or start the server with a larger "
            "--max-request-mb.",
        )

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.limit:
            error = self.error()
            response = JSONResponse({"error": str(error)}, status_code=error.status)
            return await response(scope, receive, send)
        received = 0

        async def counted():
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.limit:
                raise self.error()  # answered by the RequestError handler
            return message

        await self.app(scope, counted, send)


def _add_token_check(app, token):
    expected = f"Bearer {token}".encode()

    @app.middleware("http")
    async def token_check(request, call_next):
        path = request.url.path
        if path in _OPEN_PATHS or path.startswith(_OPEN_PREFIXES):
            return await call_next(request)
        given = request.headers.get("authorization", "").encode()
        if not hmac.compare_digest(given, expected):
            return JSONResponse(
                {
                    "error": "Missing or wrong token: send the header "
                    "'Authorization: Bearer TOKEN' with the server's token."
                },
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        return await call_next(request)


def _add_docs(app):
    from swagger_ui_bundle import swagger_ui_path

    app.mount(
        "/docs-assets", StaticFiles(directory=swagger_ui_path), name="docs-assets"
    )

    @app.get("/docs", include_in_schema=False)
    async def docs():
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="cnnrnn serve: API",
            swagger_js_url="/docs-assets/swagger-ui-bundle.js",
            swagger_css_url="/docs-assets/swagger-ui.css",
            swagger_favicon_url="/docs-assets/favicon-32x32.png",
        )
