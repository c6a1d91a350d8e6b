"""Ctrl-C that is never lost, and never lands in the middle of a checkpoint.

Python raises `KeyboardInterrupt` wherever the main thread is when SIGINT
arrives:

- inside a finalizer (a weak-reference callback run by the garbage
  collector, as between two Keras Tuner trials) it is printed as "Exception
  ignored" and dropped, and the job runs on. `remembered` notes the signal,
  and `check` raises it again where it stops the job;
- inside a Keras checkpoint callback it leaves a half-written weights file,
  and the run cannot resume. Within `deferred` (around `fit`), Ctrl-C is only
  noted, and `check` raises it at the next batch, between writes.

`check` runs at every batch (`cnnrnn.training.RaiseIfInterrupted`). A second
Ctrl-C raises at once.
"""

import contextlib
import signal
import sys
import threading

_interrupted = False
_deferring = False


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


@contextlib.contextmanager
def deferred():
    """Within it, a first Ctrl-C is raised by the next `check` (or when the
    block ends), not where it lands; a second one at once. Outside the main
    thread it changes nothing (signals only reach the main thread)."""
    global _deferring, _interrupted
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous_handler = signal.signal(signal.SIGINT, _on_sigint)
    already, _deferring = _deferring, True
    try:
        yield
    finally:
        _deferring = already
        signal.signal(signal.SIGINT, previous_handler)
        noted = _interrupted
        if previous_handler is not _on_sigint:  # not within `remembered`
            _interrupted = False
    if noted:  # pressed after the last check: the block ended, stop here
        raise KeyboardInterrupt


def check():
    """Raises `KeyboardInterrupt` if Ctrl-C was pressed within `remembered`
    or `deferred`."""
    if _interrupted:
        raise KeyboardInterrupt


def _on_sigint(signum, frame):
    global _interrupted
    if _deferring and not _interrupted:
        _interrupted = True
        return
    _interrupted = True
    raise KeyboardInterrupt
