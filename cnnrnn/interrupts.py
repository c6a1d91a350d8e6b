"""Ctrl-C that is never lost.

Python raises `KeyboardInterrupt` wherever the main thread is when SIGINT
arrives. Inside a finalizer (a weak-reference callback run by the garbage
collector, as between two Keras Tuner trials) it is printed as "Exception
ignored" and dropped, and the job runs on. `remembered` notes the signal, and
`check` (called at every batch by `cnnrnn.training.RaiseIfInterrupted`)
raises it again where it stops the job.
"""

import contextlib
import signal
import sys

_interrupted = False


@contextlib.contextmanager
def remembered():
    """Within it, Ctrl-C raises `KeyboardInterrupt` and is remembered.

    A `KeyboardInterrupt` that a finalizer drops is not printed either: the
    next `check` raises it where it can stop the job.
    """
    global _interrupted
    previous_handler = signal.signal(signal.SIGINT, _on_sigint)
    previous_hook = sys.unraisablehook

    def drop_interrupts(unraisable):
        if not issubclass(unraisable.exc_type, KeyboardInterrupt):
            previous_hook(unraisable)

    sys.unraisablehook = drop_interrupts
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous_handler)
        sys.unraisablehook = previous_hook
        _interrupted = False


def _on_sigint(signum, frame):
    global _interrupted
    _interrupted = True
    raise KeyboardInterrupt


def check():
    """Raises `KeyboardInterrupt` if Ctrl-C was pressed within `remembered`."""
    if _interrupted:
        raise KeyboardInterrupt
