"""User-facing errors: one line that names the problem and the fix."""


class CnnrnnError(Exception):
    """An error caused by the user's input, shown as one line by the CLI."""


class DataError(CnnrnnError, ValueError):
    """Input data that cannot be used as given (layout, content, options)."""


class RunDirError(CnnrnnError):
    """A run directory that cannot be used (exists, incomplete, mismatched)."""
