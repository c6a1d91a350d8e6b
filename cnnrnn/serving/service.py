"""The model side of `cnnrnn serve`: a trained run, loaded once and warmed up.

Predictions go through the application's own functions (`App.predict`,
`App.caption_files`, `App.sampler`), the ones `cnnrnn predict`, `caption` and
`generate` use, so a served result equals the command line's for the same
input.
"""

import pathlib
import tempfile

import keras
import numpy as np
from PIL import Image

from cnnrnn import __version__, classification, runs

_DEFAULT_TOP_K = 3


class ModelService:
    """A trained run, ready to predict.

    Args:
        run_dir: path-like. A finished run directory.
        safe_mode: bool. Keras safe mode when loading. Defaults to True.

    Attributes:
        app: the `cnnrnn.apps.App`.
        config: dict. The run's configuration.
        kind: str. What one input is (`App.input_kind`).
        task: str. `"classify"`, `"caption"`, `"generate"` or `"forecast"`.
    """

    def __init__(self, run_dir, *, safe_mode=True):
        from cnnrnn.training import load_run

        self.run_dir = pathlib.Path(run_dir)
        self.app, self.config, self.model = load_run(run_dir, safe_mode=safe_mode)
        self.kind = self.app.input_kind
        if self.app.sampler is not None:
            self.task, self.sampler = "generate", self.app.sampler(self.model)
        elif self.app.caption_files is not None:
            self.task = "caption"
        elif self.kind == "table":
            self.task = "forecast"
        else:
            self.task = "classify"
        self.class_names = self.config.get("data_info", {}).get("class_names")

    def prepare(self, value):
        """What one input becomes before it joins a batch: an image to
        classify is read and resized here, in its request's thread, so that a
        batch only runs the model; other inputs go as they are."""
        if self.kind != "image" or self.task != "classify":
            return value
        from cnnrnn.data import images

        (pixels,) = images.load_image_files(
            [value], image_size=self.config["data"]["image_size"]
        )
        return pixels

    def run(self, values, key):
        """Predicts a batch: `values` are `prepare`d inputs (images as pixels,
        texts, file paths); `key` holds the decoding options shared by the
        batch (captions). One result per value.
        """
        top_k = len(self.class_names) if self.class_names else _DEFAULT_TOP_K
        if self.kind == "image" and self.task == "classify":
            # What the plant app's `predict` does, past the decoding.
            found = classification.predict_classes(
                self.model,
                np.stack(values),
                range(len(values)),
                self.class_names,
                top_k=top_k,
            )
            return [result["predictions"] for result in found]
        if self.task == "caption":
            options = {name: value for name, value in key if value is not None}
            found = self.app.caption_files(self.model, values, self.config, **options)
            return [
                [{"label": text, "probability": float(np.exp(score))}]
                for text, score in found
            ]
        results = self.app.predict(self.model, values, self.config, top_k=top_k)
        return [result["predictions"] for result in results]

    def generate(self, seed_text, options):
        """Yields the characters generated after `seed_text`, one per step."""
        for (char,) in self.sampler.stream(seed_text, **options):
            yield char

    def warm_up(self):
        """Runs one prediction on a made-up input, so the first request is fast."""
        if self.task == "generate":
            vocabulary = self.config["model_from_data"]["vocabulary"]
            "".join(self.generate(vocabulary[0], {"length": 2, "seed": 0}))
            return
        with tempfile.TemporaryDirectory(prefix="cnnrnn-warm-up-") as folder:
            value = self._sample_input(pathlib.Path(folder))
            key = (("beam_width", None), ("max_length", None))
            self.run([self.prepare(value)], key if self.task == "caption" else None)

    def _sample_input(self, folder):
        data = self.config["data"]
        if self.kind == "text":
            return "warm up"
        if self.kind == "image":
            height, width = data["image_size"]
            path = folder / "warm-up.png"
            Image.new("RGB", (width, height), (128, 128, 128)).save(path)
            return str(path)
        if self.kind == "video":
            height, width = data["image_size"]
            path = folder / "warm-up.npy"
            np.save(path, np.zeros((data["num_frames"], height, width, 3), np.uint8))
            return str(path)
        columns = self.config["data_info"]["columns"]
        rows = self.config["model_from_data"]["lookback"]
        path = folder / "warm-up.csv"
        lines = [",".join(columns)] + [  # a ramp: a constant column is refused
            ",".join(str(row + column) for column in range(len(columns)))
            for row in range(rows)
        ]
        path.write_text("\n".join(lines) + "\n")
        return str(path)

    def describe(self):
        """What `GET /v1/model` answers: the model, its input, its metrics."""
        data = self.config["data"]
        info = {
            "application": self.app.name,
            "summary": self.app.summary,
            "task": self.task,
            "input": self.kind,
            "input_description": self._input_description(data),
            "run": self.run_dir.name,
            "versions": {
                "cnnrnn": __version__,
                "trained_with_cnnrnn": self.config.get("cnnrnn_version"),
                "keras": keras.__version__,
                "backend": keras.backend.backend(),
            },
            "metrics": runs.read_json(self.run_dir / runs.METRICS_FILE),
        }
        if self.class_names:
            info["classes"] = list(self.class_names)
        if self.task == "generate":
            info["vocabulary_size"] = len(self.config["model_from_data"]["vocabulary"])
        if self.task == "caption":
            info["beam_width"] = self.config["inference"]["beam_width"]
        return info

    def _input_description(self, data):
        if self.kind == "image":
            height, width = data["image_size"]
            return f"an RGB image (JPEG, PNG, BMP or GIF), resized to {height}x{width}"
        if self.kind == "video":
            height, width = data["image_size"]
            return (
                f"a video file (MP4, AVI, WebM, MKV or MOV): {data['num_frames']} "
                f"frames at {height}x{width}"
            )
        if self.kind == "table":
            columns = ", ".join(self.config["data_info"]["columns"])
            lookback = self.config["model_from_data"]["lookback"]
            return f"a CSV file with columns {columns}: its last {lookback} rows"
        if self.task == "generate":
            return "a text to continue (characters the model knows)"
        return "a text"
