"""The folders cnnrnn carries: project templates and example search jobs."""

import pathlib

_PACKAGE = pathlib.Path(__file__).resolve().parent


def bundled_dir(name):
    """The folder `templates` or `tuning`.

    An installed wheel holds copies in `cnnrnn/_bundled/` (see `setup.py`); a
    source checkout (or an editable install) uses the repository's own folders.

    Args:
        name: str. `"templates"` or `"tuning"`.

    Returns:
        A `pathlib.Path`, which may not exist in a broken installation.
    """
    installed = _PACKAGE / "_bundled" / name
    return installed if installed.is_dir() else _PACKAGE.parent / name
