"""Figures of runs, searches and comparisons, drawn with matplotlib.

Every `plot_*` function returns a `matplotlib.figure.Figure`, and also writes
it as a PNG file when given a `path`. The figures are drawn with matplotlib's
object-oriented API: no pyplot and no backend are involved, so they work
headless (the CLI) and leave a notebook's own pyplot figures and backend
alone. In Jupyter, a figure that ends a cell is shown inline.
"""

import csv
import io
import math
import textwrap

import matplotlib.figure
import matplotlib.ticker
import numpy as np

from cnnrnn.runs import atomic_path


class _Figure(matplotlib.figure.Figure):
    # IPython shows a matplotlib figure as an image only once the inline backend
    # is loaded, which pyplot does on its first figure; this one shows anyway.
    def _repr_png_(self):
        buffer = io.BytesIO()
        self.savefig(buffer, format="png", bbox_inches="tight")
        return buffer.getvalue()


def read_history(path):
    """Reads a Keras `CSVLogger` file into `{metric: [values per epoch]}`.

    A metric an epoch did not log (`CSVLogger` writes `NA`) reads as NaN.
    """
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    return {
        key: [math.nan if row[key] in ("NA", "") else float(row[key]) for row in rows]
        for key in (rows[0] if rows else {})
    }


def plot_learning_curves(history, path=None, *, metrics=None):
    """Plots each metric per epoch, training against validation.

    Args:
        history: dict. `{metric: values per epoch}`, as read by
            `read_history` from a run's `history.csv` or as in
            `model.fit(...).history`. Keys starting with `val_` are drawn
            beside their training metric; an `epoch` key (0-based) numbers
            the epochs, which otherwise count from 1.
        path: path-like. PNG file to write, if any. Defaults to `None`.
        metrics: list of str. The training metrics to draw, one panel each.
            Defaults to every metric of `history` but the learning rate.

    Returns:
        The `matplotlib.figure.Figure`.

    Example:

    ```python
    history = plots.read_history(run_dir / "history.csv")
    plots.plot_learning_curves(history, metrics=["loss", "accuracy"])
    ```
    """
    if metrics is None:
        metrics = [
            key
            for key in history
            if key not in ("epoch", "learning_rate") and not key.startswith("val_")
        ]
    if "epoch" in history:
        epochs = np.asarray(history["epoch"], dtype=int) + 1
    else:
        epochs = np.arange(1, len(history[metrics[0]]) + 1)
    figure = _Figure(figsize=(5 * len(metrics), 4), layout="constrained")
    axes = figure.subplots(1, len(metrics), squeeze=False)
    for axis, metric in zip(axes[0], metrics, strict=True):
        axis.plot(epochs, history[metric], marker="o", label="train")
        if f"val_{metric}" in history:
            axis.plot(epochs, history[f"val_{metric}"], marker="o", label="validation")
        axis.set_xlabel("epoch")
        axis.set_xlim(min(epochs) - 0.5, max(epochs) + 0.5)
        axis.xaxis.set_major_locator(
            matplotlib.ticker.MaxNLocator(integer=True, min_n_ticks=1)
        )
        axis.set_title(metric)
        axis.grid(alpha=0.3)
        axis.legend()
    return _save(figure, path)


def plot_confusion_matrix(matrix, class_names, path=None):
    """Plots a confusion matrix with the count in every cell.

    Args:
        matrix: array of shape `(num_classes, num_classes)`. Counts, rows
            for the true class and columns for the predicted class, as
            returned by `cnnrnn.classification.confusion_matrix`.
        class_names: list of str. Name of each class index.
        path: path-like. PNG file to write, if any. Defaults to `None`.

    Returns:
        The `matplotlib.figure.Figure`.
    """
    matrix = np.asarray(matrix)
    size = max(4.0, 0.6 * len(class_names) + 2)
    figure = _Figure(figsize=(size, size), layout="constrained")
    axis = figure.subplots()
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
    return _save(figure, path)


def plot_captioned_images(images, captions, path=None, *, columns=4):
    """Shows images in a grid, each with its caption above it.

    Args:
        images: list of arrays of shape `(height, width, 3)`. Raw pixels in
            `[0, 255]`.
        captions: list of str. One caption per image; each line is wrapped
            on its own.
        path: path-like. PNG file to write, if any. Defaults to `None`.
        columns: int. Images per row. Defaults to 4.

    Returns:
        The `matplotlib.figure.Figure`.
    """
    rows = -(-len(images) // columns)
    figure = _Figure(figsize=(3.2 * columns, 3.4 * rows), layout="constrained")
    axes = figure.subplots(rows, columns, squeeze=False)
    for axis in axes.flat:
        axis.axis("off")
    for axis, image, caption in zip(axes.flat, images, captions, strict=False):
        axis.imshow(np.clip(np.asarray(image), 0, 255).astype("uint8"))
        lines = (textwrap.fill(line, 28) for line in caption.splitlines())
        axis.set_title("\n".join(lines), fontsize=9)
    return _save(figure, path)


def plot_search_objective(trials, objective, direction, path=None):
    """Plots a search's objective per trial, with the best score so far.

    Args:
        trials: list of dict. The search's `trials.json` records
            (`trial_id`, `score`, `None` for a failed trial); failed trials
            are marked on the axis.
        objective: str. Name of the objective, for the axis.
        direction: str. `"min"` or `"max"`: which scores are better.
        path: path-like. PNG file to write, if any. Defaults to `None`.

    Returns:
        The `matplotlib.figure.Figure`.
    """
    done = [t for t in trials if t["score"] is not None]
    figure = _Figure(figsize=(7, 4), layout="constrained")
    axis = figure.subplots()
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
    return _save(figure, path)


def plot_search_hyperparameters(trials, objective, path=None):
    """Plots a search's objective against each hyperparameter, one panel each.

    Choices go on a categorical axis, and ranges spanning more than 10x on a
    log axis. Failed trials are left out.

    Args:
        trials: list of dict. The search's `trials.json` records
            (`score`, `hyperparameters`).
        objective: str. Name of the objective, for the axes.
        path: path-like. PNG file to write, if any. Defaults to `None`.

    Returns:
        The `matplotlib.figure.Figure`.
    """
    done = [t for t in trials if t["score"] is not None]
    scores = [t["score"] for t in done]
    names = sorted({name for t in done for name in t["hyperparameters"]})
    columns = min(3, max(len(names), 1))
    rows = -(-max(len(names), 1) // columns)
    figure = _Figure(figsize=(4.5 * columns, 3.5 * rows), layout="constrained")
    axes = figure.subplots(rows, columns, squeeze=False)
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
    return _save(figure, path)


def plot_accuracy_scatter(labels, accuracies, series, path=None, *, xlabel):
    """Plots accuracy against a cost, one labelled point per model and series.

    Args:
        labels: list of str. Model names, written beside their points.
        accuracies: list of float. Accuracy of each model, in [0, 1].
        series: dict. `{legend: [cost of each model]}`, such as
            `{"batch 1": [...], "batch 256": [...]}`; with one series there
            is no legend. Costs spanning more than 10x go on a log axis.
        path: path-like. PNG file to write, if any. Defaults to `None`.
        xlabel: str. Name of the cost axis.

    Returns:
        The `matplotlib.figure.Figure`.
    """
    figure = _Figure(figsize=(6, 4.5), layout="constrained")
    axis = figure.subplots()
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
    return _save(figure, path)


def _save(figure, path):
    if path is not None:
        with atomic_path(path) as tmp:
            figure.savefig(tmp, dpi=100)
    return figure
