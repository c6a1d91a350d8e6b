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


def plot_search(trials, objective, direction, folder):
    """Plots a search: the objective per trial, and each hyperparameter against it.

    Writes `objective.png` (every completed trial's score with the best so
    far; failed trials marked on the axis) and `hyperparameters.png` (one
    panel per hyperparameter; choices on a categorical axis, ranges spanning
    more than 10x on a log axis) into `folder`.
    """
    done = [t for t in trials if t["score"] is not None]
    figure, axis = plt.subplots(figsize=(7, 4))
    numbers = [int(t["trial_id"]) for t in done]
    scores = [t["score"] for t in done]
    axis.plot(numbers, scores, "o", label="trial")
    pick = np.minimum if direction == "min" else np.maximum
    if scores:
        axis.step(numbers, pick.accumulate(scores), where="post", label="best so far")
    failed = [int(t["trial_id"]) for t in trials if t["score"] is None]
    if failed:
        low = min(scores) if scores else 0
        axis.plot(failed, [low] * len(failed), "rx", label="failed")
    axis.set_xlabel("trial")
    axis.set_ylabel(objective)
    axis.grid(alpha=0.3)
    axis.legend()
    figure.tight_layout()
    _save(figure, folder / "objective.png")

    names = sorted({name for t in done for name in t["hyperparameters"]})
    columns = min(3, max(len(names), 1))
    rows = -(-max(len(names), 1) // columns)
    figure, axes = plt.subplots(
        rows, columns, figsize=(4.5 * columns, 3.5 * rows), squeeze=False
    )
    for axis in axes.flat[len(names) :]:
        axis.axis("off")
    for axis, name in zip(axes.flat, names, strict=False):
        values = [t["hyperparameters"].get(name) for t in done]
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            axis.plot(values, scores, "o")
            positive = [v for v in values if v > 0]
            if positive and min(values) > 0 and max(positive) > 10 * min(positive):
                axis.set_xscale("log")
        else:
            labels = sorted({str(v) for v in values})
            axis.plot([labels.index(str(v)) for v in values], scores, "o")
            axis.set_xticks(range(len(labels)), labels)
        axis.set_xlabel(name)
        axis.set_ylabel(objective)
        axis.grid(alpha=0.3)
    figure.tight_layout()
    _save(figure, folder / "hyperparameters.png")


def plot_accuracy_scatter(labels, accuracies, series, path, *, xlabel):
    """Plots accuracy against a cost, one labelled point per model and series.

    Args:
        labels: list of str. Model names, written beside their points.
        accuracies: list of float. Accuracy of each model, in [0, 1].
        series: dict. `{legend: [cost of each model]}`, such as
            `{"batch 1": [...], "batch 256": [...]}`; with one series there
            is no legend. Costs spanning more than 10x go on a log axis.
        path: path-like. PNG file to write.
        xlabel: str. Name of the cost axis.
    """
    figure, axis = plt.subplots(figsize=(6, 4.5))
    costs = []
    for legend, values in series.items():
        axis.plot(values, [100 * a for a in accuracies], "o", label=legend)
        for label, value, accuracy in zip(labels, values, accuracies, strict=True):
            axis.annotate(
                label,
                (value, 100 * accuracy),
                textcoords="offset points",
                xytext=(5, 5),
            )
        costs += list(values)
    axis.margins(0.15)  # Room for the labels.
    if min(costs) > 0 and max(costs) > 10 * min(costs):
        axis.set_xscale("log")
    axis.set_xlabel(xlabel)
    axis.set_ylabel("test accuracy (%)")
    axis.grid(alpha=0.3)
    if len(series) > 1:
        axis.legend()
    figure.tight_layout()
    _save(figure, path)


def _save(figure, path):
    with atomic_path(path) as tmp:
        figure.savefig(tmp, dpi=100)
    plt.close(figure)
