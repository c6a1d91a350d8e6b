"""The application registry: one module per application, one line each below.

Each module of this package (e.g. `cnnrnn.apps.plant_classifier`) holds one
application whole: its `APP` row (factory, loader, demo data, defaults,
search space), its predict function, and what else only it needs. Shared code
(training, tuning, the CLI, the project templates) reads these rows and never
names an application. A new application is a new module here, its project
template (`templates/<app>/` and `templates/_shared/templates/apps/<app>/`)
and one line in `APPLICATIONS`.
"""

import importlib
import pathlib

from cnnrnn.apps.base import App, Lazy
from cnnrnn.errors import CnnrnnError

APPLICATIONS = (
    "plant_classifier",
    "sentiment_rnn",
    "char_generator",
    "video_classifier",
    "image_captioner",
    "series_forecaster",
)

APPS = {
    app.name: app
    for app in (
        importlib.import_module(f"cnnrnn.apps.{module}").APP for module in APPLICATIONS
    )
}

__all__ = [
    "APPLICATIONS",
    "APPS",
    "App",
    "Lazy",
    "check_backend",
    "get_app",
    "write_small_demo",
]


def get_app(name):
    """Returns the registered application called `name`.

    Raises:
        CnnrnnError: for an unknown name, listing the known ones.
    """
    if name not in APPS:
        raise CnnrnnError(
            f"Unknown application '{name}'. Expected one of: {', '.join(APPS)} "
            "(see `cnnrnn list`)."
        )
    return APPS[name]


def write_small_demo(app, directory):
    """Writes a few examples of `app`'s demo data, for tests that train in seconds.

    Returns:
        The data source to train on, a `pathlib.Path` inside `directory`.
    """
    app.write_demo_data(directory, **app.small_demo)
    return pathlib.Path(directory, app.demo_source)


def check_backend(app):
    """Raises `CnnrnnError` if the active Keras backend cannot run `app`'s model."""
    import keras

    backend = keras.backend.backend()
    if backend not in app.backends:
        raise CnnrnnError(
            f"{app.name} needs the {' or '.join(app.backends)} backend (active: "
            f"{backend}). Set KERAS_BACKEND={app.backends[0]}, or see the README's "
            "'Backends' section for what runs elsewhere."
        )
