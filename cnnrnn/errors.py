"""User-facing errors: one line that names the problem and the fix."""


class CnnrnnError(Exception):
    """An error caused by the user's input, shown as one line by the CLI."""


class DataError(CnnrnnError, ValueError):
    """Input data that cannot be used as given (layout, content, options)."""


class RunDirError(CnnrnnError):
    """A run directory that cannot be used (exists, incomplete, mismatched)."""


def check_choice(name, value, choices, *, error=ValueError):
    """Raises `error` unless `value` is one of `choices`, in keras style.

    Args:
        name: str. The option's name.
        value: object. The value received.
        choices: sequence. The allowed values.
        error: exception class. Defaults to `ValueError` (model factories);
            the loaders raise `DataError`, the device layer `CnnrnnError`.
    """
    if value not in choices:
        expected = ", ".join(repr(choice) for choice in choices)
        raise error(f"Received: {name}={value!r}. Expected one of {expected}.")
