"""`cnnrnn compare` and `run_comparison` on the digits and on tiny image folders."""

import json

import numpy as np
import pytest
from PIL import Image

from cnnrnn import cli, compare
from cnnrnn.models import build_plant_classifier, build_row_rnn_classifier

MODEL_KEYS = {
    "model": str,
    "description": str,
    "test_accuracy": float,
    "parameters": int,
    "flops": int,
    "activation_bytes": int,
    "train_seconds_per_epoch": float,
    "epochs": int,
    "latency_ms": dict,
    "history": dict,
}


def run_cli(capsys, *argv):
    code = cli.main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture(scope="module")
def digits_comparison(tmp_path_factory):
    output = tmp_path_factory.mktemp("compare") / "digits"
    argv = ["compare", "--output", str(output), "--epochs", "1", "--image-size", "8"]
    code = cli.main(argv)
    return code, output


def _image_folder(root, classes=("dark", "bright", "striped"), per_class=5):
    rng = np.random.default_rng(0)
    for number, name in enumerate(classes):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            pixels = rng.uniform(0, 40, (12, 10, 3)) + 100 * number
            if name == "striped":
                pixels[::2] = 255
            Image.fromarray(pixels.clip(0, 255).astype("uint8")).save(
                root / name / f"{i}.png"
            )
    return root


def test_cli_writes_the_comparison_of_the_digits(digits_comparison):
    code, output = digits_comparison
    assert code == 0
    result = json.loads((output / "comparison.json").read_text())
    assert [m["model"] for m in result["models"]] == ["cnn", "lstm", "gru"]
    for model in result["models"]:
        for key, kind in MODEL_KEYS.items():
            assert isinstance(model[key], kind), (key, model[key])
        assert model["epochs"] == 1
        assert set(model["latency_ms"]) == {"1", "256"}
        assert all(value > 0 for value in model["latency_ms"].values())
        assert model["flops"] > 0 and model["activation_bytes"] > 0
        assert set(model["history"]) == {"loss", "accuracy", "val_loss", "val_accuracy"}
        assert all(len(values) == 1 for values in model["history"].values())

    setup = result["setup"]
    assert setup["split"] == {"train": 1258, "validation": 180, "test": 359}
    assert setup["image_shape"] == [8, 8, 3]
    assert setup["seed"] == 0 and setup["epochs"] == 1
    assert setup["classes"] == [str(digit) for digit in range(10)]
    assert setup["backend"].startswith("tensorflow")

    table = [
        line
        for line in (output / "comparison.md").read_text().splitlines()
        if line.startswith("| ") and not line.startswith("| model")
    ]
    assert [line.split("|")[1].strip() for line in table] == ["cnn", "lstm", "gru"]
    for name in ("accuracy_vs_parameters", "accuracy_vs_latency"):
        assert (output / "plots" / f"{name}.png").stat().st_size > 0
    for name in ("cnn", "lstm", "gru"):
        assert (output / "plots" / f"learning_curves_{name}.png").is_file()


def test_parameters_are_those_of_the_built_models(digits_comparison):
    _, output = digits_comparison
    result = json.loads((output / "comparison.json").read_text())
    shape = {"image_shape": (8, 8, 3), "num_classes": 10}
    built = {
        "cnn": build_plant_classifier(depth=2, base_filters=32, augment=False, **shape),
        "lstm": build_row_rnn_classifier(rnn_type="lstm", **shape),
        "gru": build_row_rnn_classifier(rnn_type="gru", **shape),
    }
    for model in result["models"]:
        assert model["parameters"] == built[model["model"]].count_params()


def test_cnn_learns_the_digits_in_a_few_epochs(tmp_path):
    result = compare.run_comparison(
        output=tmp_path, models=["cnn"], epochs=3, image_size=8
    )
    (cnn,) = result["models"]
    assert cnn["test_accuracy"] > 0.8, cnn["history"]
    assert result["setup"]["image_shape"] == [8, 8, 3]


def test_refuses_a_non_empty_output_unless_overwrite(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("precious")
    options = ["--models", "gru", "--epochs", "1", "--image-size", "8"]
    code, _, err = run_cli(capsys, "compare", "--output", str(tmp_path), *options)
    assert code == 1
    assert "--overwrite" in err and len(err.strip().splitlines()) == 1
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]

    (tmp_path / "plots").mkdir()
    (tmp_path / "plots" / "learning_curves_cnn.png").write_bytes(b"stale")
    code, out, _ = run_cli(
        capsys, "compare", "--output", str(tmp_path), "--overwrite", *options
    )
    assert code == 0 and "gru" in out
    assert (tmp_path / "notes.txt").read_text() == "precious"
    assert (tmp_path / "comparison.json").is_file()
    assert sorted(p.name for p in (tmp_path / "plots").iterdir()) == [
        "accuracy_vs_latency.png",
        "accuracy_vs_parameters.png",
        "learning_curves_gru.png",
    ]


def test_compares_on_an_image_folder(tmp_path, capsys):
    data = _image_folder(tmp_path / "data")
    code, out, _ = run_cli(
        capsys,
        "compare",
        "--data", str(data),
        "--output", str(tmp_path / "out"),
        "--models", "cnn,lstm",
        "--epochs", "2",
        "--image-size", "8",
        "--json",
    )  # fmt: skip
    assert code == 0
    result = json.loads(out)
    assert json.loads((tmp_path / "out" / "comparison.json").read_text()) == result
    assert [m["model"] for m in result["models"]] == ["cnn", "lstm"]
    assert result["setup"]["classes"] == ["bright", "dark", "striped"]
    assert result["setup"]["split"] == {"train": 9, "validation": 3, "test": 3}
    assert str(data) in result["setup"]["data"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--data", "{tmp}/missing"], "does not exist"),
        (["--data", "{tmp}/flat"], "class sub-folders"),
        (["--models", "cnn,rnn"], "Unknown model 'rnn'"),
        (["--models", "gru,gru"], "named twice"),
        (["--epochs", "0"], "Received: epochs=0"),
        (["--image-size", "2"], "Received: image_size=2"),
    ],
    ids=str,
)
def test_bad_options_are_one_line_errors(tmp_path, capsys, argv, message):
    (tmp_path / "flat").mkdir()
    Image.new("RGB", (8, 8)).save(tmp_path / "flat" / "image.png")
    argv = [arg.format(tmp=tmp_path) for arg in argv]
    output = tmp_path / "out"
    code, _, err = run_cli(capsys, "compare", "--output", str(output), *argv)
    assert code == 1
    assert message in err and len(err.strip().splitlines()) == 1
    assert "Traceback" not in err
    assert not output.exists()


def test_run_comparison_checks_its_arguments(tmp_path):
    with pytest.raises(ValueError, match="Expected distinct names among 'cnn'"):
        compare.run_comparison(output=tmp_path, models=[])
    with pytest.raises(ValueError, match="list or tuple of model names"):
        compare.run_comparison(output=tmp_path, models="cnn")
    with pytest.raises(ValueError, match="Received: seed=-1"):
        compare.run_comparison(output=tmp_path, seed=-1)
