"""What the demo-data writers share: cache folder, atomic writes, drawing helpers."""

import colorsys
import contextlib
import os
import pathlib
import shutil
import tempfile

import numpy as np
from PIL import Image, ImageDraw

from cnnrnn.errors import DataError

# Shapes are drawn this many times larger, then downsampled (anti-aliasing).
SUPERSAMPLE = 3


def demo_data_dir(app_name):
    """Returns where the demo data of `app_name` is cached.

    Args:
        app_name: str. Application name (`App.name`).

    Returns:
        `$CNNRNN_HOME/demo/<app_name>` as a `pathlib.Path`; `CNNRNN_HOME`
        defaults to `~/.cache/cnnrnn`.
    """
    home = os.environ.get("CNNRNN_HOME") or "~/.cache/cnnrnn"
    return pathlib.Path(home).expanduser() / "demo" / app_name


def ensure_demo_data(app_name, writer):
    """Returns the cached demo data of `app_name`, writing it on first use.

    Args:
        app_name: str. Application name (`App.name`).
        writer: callable taking the folder to write, e.g. an application's
            `write_demo_data`.
            Called only when the folder is absent. Processes that call this
            at the same time all get the data (it is written to a temporary
            folder and renamed into place).

    Returns:
        The folder, `demo_data_dir(app_name)`.

    Example:

    >>> path = ensure_demo_data(app.name, app.write_demo_data)
    """
    path = demo_data_dir(app_name)
    if not path.exists():
        try:
            writer(path)
        except (OSError, DataError):
            if not path.exists():
                raise
            # Another process (say, a second worker) wrote the same data first.
    return path


@contextlib.contextmanager
def staging_folder(directory):
    """Yields a temporary sibling of `directory`, renamed to it on success.

    Raises `DataError` first if `directory` exists and is not an empty folder
    (an empty one is replaced). On failure the temporary folder is removed.
    """
    if directory.exists():
        if not directory.is_dir() or any(directory.iterdir()):
            raise DataError(
                f"Demo folder '{directory}' already exists and is not empty: "
                "choose a new folder or remove this one."
            )
        directory.rmdir()
    directory.parent.mkdir(parents=True, exist_ok=True)
    staging = pathlib.Path(
        tempfile.mkdtemp(prefix=f".{directory.name}-", dir=directory.parent)
    )
    staging.chmod(0o755)  # mkdtemp makes it owner-only; demo data is not secret
    try:
        yield staging
        os.rename(staging, directory)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def draw_background(size, rng, twigs=True):
    """A blotchy, dull-coloured background, with a few twigs if `twigs`."""
    colours = np.array(
        [
            hsv(rng.uniform(0, 1), rng.uniform(0.05, 0.4), rng.uniform(0.15, 0.6))
            for _ in range(2)
        ],
        np.float32,
    )
    grid = rng.uniform(0, 1, (rng.integers(3, 8),) * 2).astype(np.float32)
    blend = np.asarray(
        Image.fromarray(grid).resize((size, size), Image.Resampling.BICUBIC)
    ).clip(0, 1)[..., None]
    pixels = colours[0] * blend + colours[1] * (1 - blend)
    image = Image.fromarray(pixels.astype(np.uint8))
    if not twigs:
        return np.asarray(image)
    draw = ImageDraw.Draw(image)
    for _ in range(rng.integers(0, 3)):
        start, end = rng.uniform(0, size, (2, 2))
        twig = hsv(
            rng.uniform(0.05, 0.12), rng.uniform(0.2, 0.6), rng.uniform(0.2, 0.5)
        )
        draw.line([tuple(start), tuple(end)], fill=twig, width=1)
    return np.asarray(image)


def hsv(hue, saturation, value):
    """An 8-bit `(r, g, b)` tuple from a hue, saturation and value in [0, 1]."""
    return tuple(int(255 * c) for c in colorsys.hsv_to_rgb(hue, saturation, value))


def pick(rng, choices):
    """One of `choices` (a sequence), drawn uniformly with the generator `rng`."""
    return choices[rng.integers(len(choices))]
