"""TensorBoard logs of every run: `tensorboard --logdir RUN_DIR/logs`.

Written with `tf.summary` (part of TensorFlow), so no extra package is needed
to write them; viewing them needs `pip install tensorboard`. A run's `logs/`
holds, in `train/` and `validation/`, the epoch metrics and learning rate
(Keras's `TensorBoard` callback), and in `report/` what the run ends with:
its test metrics as scalars, its plots (learning curves, confusion matrix,
captions) as images and its examples (captions, generated text) as text.
"""

import importlib.util
import pathlib

import keras
import numpy as np
from PIL import Image

from cnnrnn import runs

LOGS_DIR = "logs"
REPORT_DIR = "report"


def has_tensorboard():
    """Whether the `tensorboard` package (the viewer, and HParams) is installed."""
    return importlib.util.find_spec("tensorboard") is not None


def tensorboard_callback(log_dir):
    """Keras's TensorBoard callback: metrics and learning rate per epoch."""
    return keras.callbacks.TensorBoard(
        log_dir=str(log_dir),
        update_freq="epoch",
        write_graph=False,  # Keras 3 writes no graph yet
        profile_batch=0,
    )


def log_report(run_dir, metrics):
    """Writes a finished run's test metrics, plots and examples to `logs/`.

    Args:
        run_dir: path-like. The run directory.
        metrics: dict. The run's `metrics.json`: its numbers become scalars
            at the last epoch; an `examples_file` (or `samples_file`) it
            names becomes text.
    """
    import tensorflow as tf

    run_dir = pathlib.Path(run_dir)
    step = int(metrics.get("epochs", 0))
    writer = tf.summary.create_file_writer(str(run_dir / LOGS_DIR / REPORT_DIR))
    with writer.as_default():
        for name, value in metrics.items():
            if isinstance(value, int | float) and not isinstance(value, bool):
                tf.summary.scalar(f"final/{name}", value, step=step)
        for plot in sorted((run_dir / runs.PLOTS_DIR).glob("*.png")):
            with Image.open(plot) as image:
                pixels = np.asarray(image.convert("RGB"))[None]
            tf.summary.image(f"plots/{plot.stem}", pixels, step=step)
        for key in ("examples_file", "samples_file"):
            if key in metrics:
                text = (run_dir / metrics[key]).read_text(encoding="utf-8")
                # TensorBoard shows text as Markdown: keep the lines as they are.
                tf.summary.text(key, "```\n" + text + "\n```", step=step)
    writer.close()
