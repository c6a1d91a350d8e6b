"""Serving artefacts: TensorFlow SavedModel and TensorFlow Lite (LiteRT)."""

import pathlib
import shutil
import tempfile

import keras

from cnnrnn.errors import CnnrnnError

FORMATS = {
    "saved_model": ("tf_saved_model", "saved_model"),
    "tflite": ("litert", "model.tflite"),
}


def export_model(model, run_dir, *, format="saved_model", output=None, overwrite=False):
    """Exports a trained model for serving, atomically.

    Args:
        model: `keras.Model`. The trained model.
        run_dir: path-like. Its run directory; the default output is
            `run_dir/export/saved_model` or `run_dir/export/model.tflite`.
        format: str. `"saved_model"` or `"tflite"`.
        output: path-like or None. Where to write instead of the default.
        overwrite: bool. Replace an existing export.

    Returns:
        The path written.

    Raises:
        CnnrnnError: for an unknown format, an existing output or a backend
            other than tensorflow.
    """
    backend = keras.backend.backend()
    if backend != "tensorflow":
        raise CnnrnnError(
            f"Exporting a {format} needs the tensorflow backend (active: "
            f"{backend}). Run the export with KERAS_BACKEND=tensorflow: the run's "
            "model.keras loads there whatever backend trained it."
        )
    if format not in FORMATS:
        raise CnnrnnError(
            f"Unknown export format. Received: format='{format}'. Expected one of "
            f"{', '.join(repr(f) for f in FORMATS)}."
        )
    keras_format, default_name = FORMATS[format]
    output = pathlib.Path(output or pathlib.Path(run_dir) / "export" / default_name)
    if output.exists() and not overwrite:
        raise CnnrnnError(
            f"Export '{output}' already exists: pass --overwrite to replace it or "
            "choose another --output."
        )
    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=output.parent, prefix=".export-") as tmp:
        staged = pathlib.Path(tmp) / output.name
        model.export(str(staged), format=keras_format, verbose=False)
        if output.is_dir():
            shutil.rmtree(output)
        elif output.exists():
            output.unlink()
        staged.rename(output)
    return output
