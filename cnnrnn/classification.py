"""For every classifier: top-k predictions, predicted labels, confusion matrix."""

import keras
import numpy as np

from cnnrnn import plots, runs

# Up to this many inputs, prediction is one `predict_on_batch` call: about 1 ms
# for one image of a small model, where `model.predict` spends some 50 ms
# building its input pipeline. Beyond, `predict` runs in batches.
ONE_CALL_SIZE = 64


def predict_inputs(model, batch):
    """The model's outputs for a batch of inputs (an array or a dict of them),
    as NumPy: in one call when it is small, batch by batch when it is large."""
    first = next(iter(batch.values())) if isinstance(batch, dict) else batch
    if len(first) <= ONE_CALL_SIZE:
        return keras.tree.map_structure(
            keras.ops.convert_to_numpy, model.predict_on_batch(batch)
        )
    return model.predict(batch, verbose=0)


def top_k_predictions(probabilities, class_names, *, k=3):
    """Turns a batch of class probabilities into ranked `(label, probability)` lists.

    Args:
        probabilities: array of shape `(batch, num_classes)`.
        class_names: list of str. Name of each class index.
        k: int. How many classes to keep per example. Defaults to 3.

    Returns:
        A list (one per example) of lists of `{"label", "probability"}` dicts,
        most probable first.
    """
    probabilities = np.asarray(probabilities, dtype="float64")
    k = max(1, min(k, probabilities.shape[-1]))
    ranked = np.argsort(-probabilities, axis=-1)[:, :k]
    return [
        [{"label": class_names[i], "probability": float(row[i])} for i in indices]
        for row, indices in zip(probabilities, ranked, strict=True)
    ]


def predict_classes(model, batch, inputs, class_names, *, top_k=3):
    """Runs a classifier on a batch and ranks the classes for each input.

    Args:
        model: a classifier returning class probabilities.
        batch: the model's input for all `inputs` at once.
        inputs: list. What each example came from (file path, text), echoed
            in the result.
        class_names: list of str. Name of each class index.
        top_k: int. How many classes to keep per example. Defaults to 3.

    Returns:
        One `{"input", "predictions"}` dict per input, see `top_k_predictions`.
    """
    probabilities = predict_inputs(model, batch)
    ranked = top_k_predictions(probabilities, class_names, k=top_k)
    return [
        {"input": str(item), "predictions": predictions}
        for item, predictions in zip(inputs, ranked, strict=True)
    ]


def predict_labels(model, dataset):
    """Runs a classifier over labelled batches: the true and the predicted classes.

    Inputs and labels are taken from the same pass over `dataset`, so they
    stay paired even when its order changes from one pass to the next.

    Args:
        model: a classifier returning class probabilities (or logits).
        dataset: `tf.data.Dataset` (or any iterable) of `(inputs, labels)`
            batches with integer labels, such as a split of
            `cnnrnn.training.load_splits`.

    Returns:
        A tuple `(labels, predicted)` of two NumPy arrays of shape
        `(num_examples,)`: the true class of every example and the class the
        model gives it the highest score.

    Example:

    ```python
    labels, predicted = predict_labels(model, splits.test)
    matrix = confusion_matrix(labels, predicted, len(class_names))
    print("accuracy:", (labels == predicted).mean())
    ```
    """
    labels, predicted = [], []
    # NumPy batches: jax and torch take no TensorFlow tensors inside a dict.
    for inputs, targets in dataset.as_numpy_iterator():
        labels.append(np.asarray(targets))
        predicted.append(np.argmax(model.predict_on_batch(inputs), axis=-1))
    return np.concatenate(labels), np.concatenate(predicted)


def confusion_matrix(labels, predictions, num_classes):
    """Counts `(true, predicted)` pairs into a `(num_classes, num_classes)` matrix."""
    matrix = np.zeros((num_classes, num_classes), dtype="int64")
    np.add.at(matrix, (np.asarray(labels), np.asarray(predictions)), 1)
    return matrix


def confusion_matrix_report(model, splits, split_name, config, run_dir):
    """Writes `plots/confusion_matrix.png` and returns per-class accuracy.

    Args:
        model: a trained classifier returning class probabilities.
        splits: `DataSplits` whose `split_name` split (a `tf.data.Dataset`
            of `(inputs, labels)` batches) is evaluated.
        split_name: str. `"test"` or `"validation"`.
        config: dict. The run configuration (`data_info.class_names`).
        run_dir: path-like. The run directory.

    Returns:
        `{"per_class_accuracy": {class_name: accuracy}}`.
    """
    class_names = config["data_info"]["class_names"]
    labels, predicted = predict_labels(model, getattr(splits, split_name))
    matrix = confusion_matrix(labels, predicted, len(class_names))
    plots.plot_confusion_matrix(
        matrix, class_names, run_dir / runs.PLOTS_DIR / "confusion_matrix.png"
    )
    totals = matrix.sum(axis=1)
    return {
        "per_class_accuracy": {
            name: float(matrix[i, i] / totals[i]) if totals[i] else None
            for i, name in enumerate(class_names)
        }
    }
