"""What a prediction request carries: parsed, limited and checked.

A request is JSON (`{"inputs": [...], ...options}`: texts, or files in
base64) or a form: `multipart/form-data` (files in any field, texts in
`inputs` fields, options as fields) or URL-encoded (texts and options). Each
file is written to the request's own temporary folder and checked (image
pixels, a video stream, the clip's duration) before it joins a batch, so
that one bad input fails only its own request, with a one-line error that
names it.
"""

import base64
import binascii
import dataclasses
import json
import pathlib
import re

import pydantic
from PIL import Image

from cnnrnn.errors import CnnrnnError

# The options a request may give, by what the served model does.
TASK_OPTIONS = {
    "classify": ("top_k",),
    "caption": ("beam_width", "max_length"),
    "generate": ("temperature", "top_k", "top_p", "seed", "length", "stream"),
    "forecast": (),
}
_FORMS = ("multipart/form-data", "application/x-www-form-urlencoded")
_SUFFIX = re.compile(r"^\.[A-Za-z0-9]{1,8}$")
_DATA_URL = re.compile(r"^data:[\w.+-]+/[\w.+-]+;base64,")


@dataclasses.dataclass(frozen=True)
class Limits:
    """What one request may hold; over a limit is a 413 error.

    Args:
        max_request_bytes: int. Body size. Defaults to 32 MiB.
        max_inputs: int. Inputs per request. Defaults to 64.
        max_text_chars: int. Characters per text. Defaults to 20,000.
        max_image_pixels: int. Pixels per image (width x height), which also
            stops decompression bombs. Defaults to 40 million.
        max_clip_seconds: float. Duration of a video. Defaults to 120.
        max_length: int. Characters generated or caption words per input.
            Defaults to 2,000.
    """

    max_request_bytes: int = 32 * 2**20
    max_inputs: int = 64
    max_text_chars: int = 20_000
    max_image_pixels: int = 40_000_000
    max_clip_seconds: float = 120.0
    max_length: int = 2_000


class RequestError(CnnrnnError):
    """A bad request: `status` (4xx) and a one-line message for the client."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


class Options(pydantic.BaseModel):
    """The JSON body of `POST /v1/predict` (multipart forms: the same fields)."""

    model_config = pydantic.ConfigDict(extra="forbid")

    inputs: list[str] = pydantic.Field(
        default_factory=list,
        description="Texts or CSV texts; or image or video files in base64 (a "
        "data URL prefix is allowed). Files may also be uploaded as "
        "multipart/form-data.",
    )
    top_k: int | None = pydantic.Field(
        None, ge=1, description="classes to return; or draw from the top k chars"
    )
    beam_width: int | None = pydantic.Field(None, ge=1, le=32)
    max_length: int | None = pydantic.Field(None, ge=1)
    temperature: float | None = pydantic.Field(None, ge=0)
    top_p: float | None = pydantic.Field(None, gt=0, le=1)
    seed: int | None = None
    length: int | None = pydantic.Field(None, ge=0)
    stream: bool = pydantic.Field(
        False, description="server-sent events, one per generated character"
    )


@dataclasses.dataclass
class Input:
    """One input of a request: its name, and a text or a file's path."""

    name: str
    text: str | None = None
    path: pathlib.Path | None = None

    @property
    def value(self):
        """What the application's predict function takes: text or path."""
        return self.text if self.path is None else str(self.path)


async def read_request(request, *, kind, task, folder, limits):
    """Reads a request's inputs (files written into `folder`) and options.

    Args:
        request: `starlette.requests.Request`.
        kind: str. What one input is: `"image"`, `"video"`, `"text"` or
            `"table"` (a CSV file).
        task: str. A key of `TASK_OPTIONS`.
        folder: `pathlib.Path`. Where the request's files go (None for
            `kind="text"`, which has none).
        limits: `Limits`.

    Returns:
        A tuple `(inputs, options)`: a list of `Input` and an `Options`.

    Raises:
        RequestError: for a wrong content type, a body that is not valid
            JSON or not a form, an unknown or invalid field, an option that
            this model does not take, no inputs or too many, or an input that
            is not base64.
    """
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("application/json"):
        fields, files = _json_fields(await request.body()), []
    elif content_type.startswith(_FORMS):
        fields, files = await _form_fields(request, limits)
    else:
        raise RequestError(
            415,
            f"Content type {content_type or '(none)'!r} is not accepted: send "
            "application/json or multipart/form-data (or a URL-encoded form).",
        )
    try:
        options = Options.model_validate(fields)
    except pydantic.ValidationError as error:
        raise RequestError(400, _validation_message(error)) from None
    given = set(options.model_fields_set) - {"inputs"}
    refused = sorted(given - set(TASK_OPTIONS[task]))
    if refused:
        takes = ", ".join(TASK_OPTIONS[task]) or "no option"
        raise RequestError(
            400,
            f"Option(s) {', '.join(refused)} do not apply to this model: it "
            f"takes {takes}.",
        )
    inputs = []
    for number, value in enumerate(options.inputs, start=1):
        name = f"input {number}"
        if kind == "text":
            inputs.append(Input(name, text=value))
        elif kind == "table":  # CSV text
            inputs.append(
                Input(name, path=_write(folder, number, value.encode(), ".csv"))
            )
        else:
            contents = _decode_base64(value, name, kind)
            inputs.append(Input(name, path=_write(folder, number, contents, "")))
    for upload in files:
        number = len(inputs) + 1
        contents = await upload.read()
        name = upload.filename or f"input {number}"
        if kind == "text":
            inputs.append(Input(name, text=_utf8(contents, name)))
        else:
            suffix = pathlib.PurePath(name).suffix
            inputs.append(Input(name, path=_write(folder, number, contents, suffix)))
    if not inputs:
        what = "texts in 'inputs'" if kind == "text" else f"{kind} files"
        raise RequestError(400, f"The request holds no inputs: send {what}.")
    if len(inputs) > limits.max_inputs:
        raise RequestError(
            413,
            f"The request holds {len(inputs)} inputs, over the limit of "
            f"{limits.max_inputs}: split it into several requests.",
        )
    return inputs, options


def check_input(item, kind, limits):
    """Checks one input before it joins a batch.

    Raises:
        RequestError: for an empty or too long text, an image over the pixel
            limit or unreadable, a file with no video stream, or a clip over
            the duration limit.
    """
    if kind == "text":
        if not item.text.strip():
            raise RequestError(400, f"{item.name} is empty: send some text.")
        if len(item.text) > limits.max_text_chars:
            raise RequestError(
                413,
                f"{item.name} has {len(item.text)} characters, over the limit of "
                f"{limits.max_text_chars}: shorten it.",
            )
    elif kind == "image":
        _check_image(item, limits)
    elif kind == "video":
        _check_video(item, limits)


def _check_image(item, limits):
    from cnnrnn.data import images

    try:
        with Image.open(item.path) as image:
            width, height = image.size
    except Image.DecompressionBombError:
        width = height = limits.max_image_pixels  # over the limit, said below
    except (OSError, ValueError, SyntaxError):
        width = height = 0  # unreadable: the check below names the problem
    if width * height > limits.max_image_pixels:
        raise RequestError(
            413,
            f"{item.name} is an image of {width}x{height} pixels, over the limit "
            f"of {limits.max_image_pixels:,} pixels: resize it.",
        )
    (check,) = images.check_image_files([item.path], extension_check=False)
    if check.problem is not None:
        raise RequestError(
            400, f"{item.name} {check.problem}: send a JPEG, PNG, BMP or GIF image."
        )


def _check_video(item, limits):
    import av

    try:
        with av.open(str(item.path)) as container:
            if not container.streams.video:
                raise RequestError(
                    400, f"{item.name} has no video stream: send a video file."
                )
            seconds = (container.duration or 0) / av.time_base
    except av.FFmpegError as error:
        raise RequestError(
            400,
            f"{item.name} is not a video FFmpeg can read ({error.strerror}): send "
            "an MP4, AVI, WebM, MKV or MOV file.",
        ) from None
    if seconds > limits.max_clip_seconds:
        raise RequestError(
            413,
            f"{item.name} lasts {seconds:.0f} s, over the limit of "
            f"{limits.max_clip_seconds:g} s: cut it.",
        )


def _json_fields(body):
    if not body.strip():
        raise RequestError(400, 'The request body is empty: send {"inputs": [...]}.')
    try:
        fields = json.loads(body)
    except (ValueError, UnicodeDecodeError) as error:
        raise RequestError(
            400, f"The request body is not valid JSON ({error}): fix its syntax."
        ) from None
    if not isinstance(fields, dict):
        raise RequestError(
            400, 'The request body must be a JSON object: send {"inputs": [...]}.'
        )
    return fields


async def _form_fields(request, limits):
    try:
        form = await request.form(
            max_files=limits.max_inputs, max_fields=limits.max_inputs + 16
        )
    except RequestError:
        raise
    except Exception as error:  # noqa: BLE001 - Starlette's parser errors vary
        raise RequestError(
            400, f"The form could not be read ({error}): send multipart/form-data."
        ) from None
    fields, files = {}, []
    for key, value in form.multi_items():
        if hasattr(value, "read"):  # an UploadFile
            files.append(value)
        elif key == "inputs":
            fields.setdefault("inputs", []).append(value)
        elif key == "stream":
            fields[key] = value.lower() in ("1", "true", "yes", "on")
        else:
            fields[key] = value
    return fields, files


def _validation_message(error):
    problem = error.errors()[0]
    field = ".".join(str(part) for part in problem["loc"]) or "body"
    if problem["type"] == "extra_forbidden":
        known = ", ".join(Options.model_fields)
        return f"Unknown field '{field}': the fields are {known}."
    return f"Field '{field}': {problem['msg']}."


def _decode_base64(value, name, kind):
    try:
        return base64.b64decode(_DATA_URL.sub("", value, count=1), validate=True)
    except (binascii.Error, ValueError):
        raise RequestError(
            400,
            f"{name} is not base64: send the {kind} file's bytes in base64, or "
            "upload it as multipart/form-data.",
        ) from None


def _utf8(contents, name):
    try:
        return contents.decode("utf-8")
    except UnicodeDecodeError:
        raise RequestError(
            400, f"{name} is not UTF-8 text: send it as UTF-8."
        ) from None


def _write(folder, number, contents, suffix):
    if not contents:
        raise RequestError(400, f"input {number} is empty (0 bytes): send a file.")
    path = folder / f"input-{number}{suffix if _SUFFIX.match(suffix) else ''}"
    path.write_bytes(contents)
    return path
