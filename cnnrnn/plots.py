"""Plots written into run directories (matplotlib, no display needed)."""

import csv
import textwrap

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from cnnrnn.runs import atomic_path  # noqa: E402


def read_history(path):
    """Reads a Keras `CSVLogger` file into `{metric: [values per epoch]}`."""
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    return {key: [float(row[key]) for row in rows] for key in (rows[0] if rows else {})}


def plot_learning_curves(history, path):
    """Plots each metric per epoch, training against validation.

    Args:
        history: dict. `{metric: values}` as read by `read_history`; keys
            starting with `val_` are drawn beside their training metric.
        path: path-like. PNG file to write.
    """
    epochs = np.asarray(history.get("epoch", []), dtype=int) + 1
    metrics = [k for k in history if k != "epoch" and not k.startswith("val_")]
    metrics = [m for m in metrics if m != "learning_rate"]
    figure, axes = plt.subplots(
        1, len(metrics), figsize=(5 * len(metrics), 4), squeeze=False
    )
    for axis, metric in zip(axes[0], metrics, strict=True):
        axis.plot(epochs, history[metric], marker="o", label="train")
        if f"val_{metric}" in history:
            axis.plot(epochs, history[f"val_{metric}"], marker="o", label="validation")
        axis.set_xlabel("epoch")
        axis.set_title(metric)
        axis.grid(alpha=0.3)
        axis.legend()
    figure.tight_layout()
    _save(figure, path)


def plot_confusion_matrix(matrix, class_names, path):
    """Plots a confusion matrix (rows: true class, columns: predicted class)."""
    matrix = np.asarray(matrix)
    size = max(4.0, 0.6 * len(class_names) + 2)
    figure, axis = plt.subplots(figsize=(size, size))
    axis.imshow(matrix, cmap="Blues")
    ticks = np.arange(len(class_names))
    axis.set_xticks(ticks, class_names, rotation=45, ha="right")
    axis.set_yticks(ticks, class_names)
    axis.set_xlabel("predicted")
    axis.set_ylabel("true")
    threshold = matrix.max() / 2 if matrix.size else 0
    for (row, column), count in np.ndenumerate(matrix):
        color = "white" if count > threshold else "black"
        axis.text(column, row, int(count), ha="center", va="center", color=color)
    axis.set_title("confusion matrix")
    figure.tight_layout()
    _save(figure, path)


def plot_captioned_images(images, captions, path, *, columns=4):
    """Shows images (raw pixels in [0, 255]) in a grid, each with its caption."""
    rows = -(-len(images) // columns)
    figure, axes = plt.subplots(
        rows, columns, figsize=(3.2 * columns, 3.4 * rows), squeeze=False
    )
    for axis in axes.flat:
        axis.axis("off")
    for axis, image, caption in zip(axes.flat, images, captions, strict=False):
        axis.imshow(np.clip(np.asarray(image), 0, 255).astype("uint8"))
        axis.set_title(textwrap.fill(caption, 28), fontsize=9)
    figure.tight_layout()
    _save(figure, path)


def _save(figure, path):
    with atomic_path(path) as tmp:
        figure.savefig(tmp, dpi=100)
    plt.close(figure)
