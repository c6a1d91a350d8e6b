"""Project templates (`templates/<app>/`): list them, check options, render them.

Each template is a stock cookiecutter template. The files every project gets
live once, in `templates/_shared/`, which each template reaches through three
symbolic links (its `hooks/`, `templates/` and `{{cookiecutter.project_slug}}/`).
The shared files name no application: what differs is in each template's
`cookiecutter.json` (its prompts, and private `_` values such as the predict
command) and in `templates/_shared/templates/apps/<app>/`, the parts (config
sections, search space, data layout) that the shared files include by the
template's `_app`.
"""

import json
import logging
import os
import pathlib
import re
import shutil
import tempfile

from cnnrnn.bundled import bundled_dir
from cnnrnn.errors import CnnrnnError

TEMPLATES_DIR = bundled_dir("templates")
_SLUG = re.compile(r"^[a-z][a-z0-9_-]*$")


def template_dir(app_name):
    """The cookiecutter template folder of an application.

    Raises:
        CnnrnnError: when there is no template for `app_name`.
    """
    path = TEMPLATES_DIR / app_name
    if not (path / "cookiecutter.json").is_file():
        known = ", ".join(sorted(list_templates())) or "none found"
        raise CnnrnnError(
            f"No project template for '{app_name}' in {TEMPLATES_DIR}. Expected "
            f"one of: {known} (see `cnnrnn new --list`)."
        )
    return path


def list_templates():
    """`{app name: its cookiecutter.json options}` for every template."""
    if not TEMPLATES_DIR.is_dir():
        return {}
    return {
        path.parent.name: json.loads(path.read_text())
        for path in sorted(TEMPLATES_DIR.glob("*/cookiecutter.json"))
    }


def check_options(app_name, options):
    """Checks a template's option values (as cookiecutter passes them: strings).

    Args:
        app_name: str. The application, e.g. `"plant-classifier"`.
        options: dict. Option values; unknown names and choices are refused,
            and whole numbers outside the template's `_integers` bounds.

    Raises:
        ValueError: with a one-line message naming the option and the fix.
    """
    declared = json.loads((template_dir(app_name) / "cookiecutter.json").read_text())
    unknown = sorted(
        set(options)
        - set(declared)
        - {"_template", "_output_dir", "_repo_dir", "_checkout"}
    )
    if unknown:
        raise ValueError(
            f"Unknown option(s) {', '.join(unknown)} for the {app_name} template. "
            f"Known: {', '.join(k for k in declared if not k.startswith('_'))}."
        )
    for name, value in options.items():
        choices = declared.get(name)
        if isinstance(choices, list) and value not in choices:
            raise ValueError(
                f"{name}={value!r} is not a choice of the {app_name} template. "
                f"Expected one of: {', '.join(choices)}."
            )
        if name in declared.get("_integers", {}):
            _check_integer(name, value, *declared["_integers"][name])
    slug = options.get("project_slug", "")
    if not _SLUG.match(str(slug)):
        raise ValueError(
            f"project_slug={slug!r} is not a valid project name: use lowercase "
            "letters, digits, '_' and '-', starting with a letter (e.g. my_plants)."
        )
    if not str(options.get("project_name", "")).strip():
        raise ValueError("project_name is empty: give the project a name.")


def _check_integer(name, value, smallest, largest):
    try:
        number = int(str(value))
    except ValueError:
        number = None
    if number is None or not smallest <= number <= largest:
        raise ValueError(
            f"{name}={value!r} is not allowed: expected a whole number from "
            f"{smallest} to {largest}."
        )


def new_project(app_name, directory, *, values=None, no_input=False, overwrite=False):
    """Renders an application's template into `directory` with cookiecutter.

    Args:
        app_name: str. The application.
        directory: path-like. The project folder to create. Its name is the
            default project name.
        values: dict or None. Option values (the rest: prompts, or defaults
            with `no_input`).
        no_input: bool. Use the defaults instead of prompting.
        overwrite: bool. Write into a non-empty `directory` (its files with
            the same names are replaced, others kept).

    Returns:
        The project folder, a `pathlib.Path`.

    Raises:
        CnnrnnError: for an unknown application, a non-empty `directory`
            without `overwrite`, or options the template's pre-generation
            hook refuses (it prints why).
    """
    from cookiecutter.exceptions import CookiecutterException, FailedHookException
    from cookiecutter.main import cookiecutter

    source = template_dir(app_name)
    directory = pathlib.Path(directory)
    if directory.exists() and any(directory.iterdir()) and not overwrite:
        raise CnnrnnError(
            f"'{directory}' is not empty: choose a new folder, or pass --overwrite "
            "to write the project into it."
        )
    values = {"project_name": directory.resolve().name, **(values or {})}
    declared = json.loads((source / "cookiecutter.json").read_text())
    unknown = sorted(name for name in values if name not in declared)
    if unknown:
        raise CnnrnnError(
            f"Unknown option(s) {', '.join(unknown)} for the {app_name} template: "
            f"see `cnnrnn new --list`."
        )
    directory.parent.mkdir(parents=True, exist_ok=True)
    quiet = logging.getLogger("cookiecutter")  # no traceback for a refused option
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)
    with tempfile.TemporaryDirectory(dir=directory.parent) as staging:
        try:
            rendered = cookiecutter(
                str(source),
                no_input=no_input,
                extra_context={k: str(v) for k, v in values.items()},
                output_dir=staging,
            )
        except FailedHookException:  # the hook printed why
            raise CnnrnnError(
                f"The {app_name} template refused its options (see above): fix "
                "them with --set NAME=VALUE (`cnnrnn new --list` shows them)."
            ) from None
        except CookiecutterException as error:
            raise CnnrnnError(f"The {app_name} template failed: {error}") from None
        finally:
            quiet.setLevel(level)
        if directory.exists() and not any(directory.iterdir()):
            directory.rmdir()
        if directory.exists():  # --overwrite: merged into the folder
            shutil.copytree(rendered, directory, dirs_exist_ok=True)
        else:  # whole or not at all, even when interrupted
            os.replace(rendered, directory)
    return directory
