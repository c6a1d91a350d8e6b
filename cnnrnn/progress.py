"""A rich progress display for `model.fit`."""

import time

import keras
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


def format_logs(logs):
    """Formats Keras logs as `loss 0.4120  accuracy 0.8750 ...`."""
    return "  ".join(f"{key} {float(value):.4f}" for key, value in logs.items())


class RichProgress(keras.callbacks.Callback):
    """Shows an epoch bar and a batch bar, and prints one line per epoch.

    Args:
        console: `rich.console.Console`. Where to draw.
        description: str. Label of the epoch bar. Defaults to "training".
    """

    def __init__(self, console, *, description="training"):
        super().__init__()
        self.console = console
        self.description = description
        self.progress = None

    def on_train_begin(self, logs=None):
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            TextColumn("{task.fields[metrics]}"),
            console=self.console,
            transient=True,
        )
        self.progress.start()
        epochs = self.params.get("epochs")
        self.epoch_task = self.progress.add_task(
            self.description, total=epochs, metrics=""
        )
        self.batch_task = self.progress.add_task("epoch", total=None, metrics="")

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch_started = time.perf_counter()
        self.progress.update(self.epoch_task, completed=epoch)
        self.progress.reset(
            self.batch_task,
            total=self.params.get("steps"),
            description=f"epoch {epoch + 1}",
            metrics="",
        )

    def on_train_batch_end(self, batch, logs=None):
        self.progress.update(
            self.batch_task, completed=batch + 1, metrics=format_logs(logs or {})
        )

    def on_epoch_end(self, epoch, logs=None):
        seconds = time.perf_counter() - self.epoch_started
        self.progress.update(self.epoch_task, completed=epoch + 1)
        self.console.print(
            f"epoch {epoch + 1}/{self.params.get('epochs')}  "
            f"{format_logs(logs or {})}  ({seconds:.1f} s)",
            soft_wrap=True,
        )

    def on_train_end(self, logs=None):
        self.close()

    def close(self):
        """Removes the bars; safe to call more than once."""
        if self.progress is not None:
            self.progress.stop()
            self.progress = None
