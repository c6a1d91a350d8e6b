"""The `cnnrnn` command end to end on a small version of the demo data."""

import io
import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from cnnrnn import cli, runs

FAST = [
    "--set", "data.image_size=[32,32]",
    "--set", "model.depth=2",
    "--set", "model.base_filters=8",
    "--epochs", "2",
]  # fmt: skip


@pytest.fixture(scope="module")
def demo_home(tmp_path_factory):
    home = tmp_path_factory.mktemp("cnnrnn_home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CNNRNN_HOME", str(home))
        yield home


@pytest.fixture(scope="module")
def trained_run(demo_home, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("runs") / "plant"
    assert cli.main(["train", "plant-classifier", "--output", str(run_dir), *FAST]) == 0
    return run_dir


def run_cli(capsys, *argv):
    code = cli.main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_train_writes_a_complete_run_directory(trained_run):
    for name in ("model.keras", "config.json", "metrics.json", "history.csv"):
        assert (trained_run / name).is_file(), name
    assert (trained_run / "plots" / "learning_curves.png").is_file()
    assert (trained_run / "plots" / "confusion_matrix.png").is_file()
    assert not (trained_run / runs.CHECKPOINT_DIR).exists()
    metrics = json.loads((trained_run / "metrics.json").read_text())
    assert metrics["epochs"] == 2
    # The accuracy is the saved model's on the test split, counted here.
    from cnnrnn import apps, training

    _, config, model = training.load_run(trained_run)
    test = training.load_splits(apps.get_app("plant-classifier"), config).test
    hits = [model.predict_on_batch(x).argmax(-1) == np.asarray(y) for x, y in test]
    assert metrics["accuracy"] == pytest.approx(np.concatenate(hits).mean())
    config = json.loads((trained_run / "config.json").read_text())
    assert config["model"]["depth"] == 2
    assert config["model_from_data"]["num_classes"] == 4
    assert len(config["data_info"]["class_names"]) == 4


def test_train_refuses_to_overwrite_a_finished_run(trained_run, capsys):
    code, _, err = run_cli(
        capsys, "train", "plant-classifier", "--output", str(trained_run), *FAST
    )
    assert code == 1
    assert "--overwrite" in err
    assert "Traceback" not in err
    assert (trained_run / "model.keras").is_file()


def test_train_never_deletes_a_foreign_folder(tmp_path, capsys, demo_home):
    (tmp_path / "notes.txt").write_text("precious")
    code, _, err = run_cli(
        capsys, "train", "plant-classifier", "--output", str(tmp_path), "--overwrite"
    )
    assert code == 1
    assert "not a cnnrnn run" in err
    assert (tmp_path / "notes.txt").read_text() == "precious"


def test_evaluate_prints_metrics_as_json(trained_run, capsys):
    code, out, _ = run_cli(capsys, "evaluate", str(trained_run), "--json")
    assert code == 0
    metrics = json.loads(out)
    saved = json.loads((trained_run / "metrics.json").read_text())
    assert metrics["accuracy"] == pytest.approx(saved["accuracy"], abs=1e-6)


def test_evaluate_on_another_folder(trained_run, demo_home, capsys):
    source = demo_home / "demo" / "plant-classifier"
    code, out, _ = run_cli(
        capsys, "evaluate", str(trained_run), "--data", str(source), "--json"
    )
    assert code == 0
    # Every image of the folder, predicted one by one: right when the top
    # class is the name of the image's folder.
    images = sorted(source.rglob("*.png"))
    _, predicted, _ = run_cli(capsys, "predict", str(trained_run), *map(str, images),
                              "--top-k", "1", "--json")  # fmt: skip
    results = json.loads(predicted)
    assert [r["input"] for r in results] == [str(image) for image in images]
    right = [r["predictions"][0]["label"] == image.parent.name
             for r, image in zip(results, images, strict=True)]  # fmt: skip
    assert len(right) > 0
    assert json.loads(out)["accuracy"] == pytest.approx(np.mean(right), abs=1e-6)


def test_predict_ranks_classes_for_each_image(trained_run, demo_home, capsys, tmp_path):
    config = json.loads((trained_run / "config.json").read_text())
    images = sorted((demo_home / "demo" / "plant-classifier").rglob("*.png"))[:2]
    code, out, _ = run_cli(
        capsys, "predict", str(trained_run), *map(str, images), "--top-k", "2", "--json"
    )
    assert code == 0
    results = json.loads(out)
    assert [r["input"] for r in results] == [str(p) for p in images]
    for result in results:
        assert len(result["predictions"]) == 2
        assert result["predictions"][0]["label"] in config["data_info"]["class_names"]
        probabilities = [p["probability"] for p in result["predictions"]]
        assert probabilities == sorted(probabilities, reverse=True)


def test_predict_names_a_corrupt_image(trained_run, capsys, tmp_path):
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not an image")
    code, _, err = run_cli(capsys, "predict", str(trained_run), str(broken))
    assert code == 1
    assert "broken.jpg" in err
    assert len(err.strip().splitlines()) == 1


def test_export_saved_model_and_tflite_match_the_keras_model(trained_run, capsys):
    import keras
    import tensorflow as tf

    model = keras.saving.load_model(trained_run / "model.keras")
    config = json.loads((trained_run / "config.json").read_text())
    height, width = config["data"]["image_size"]
    pixels = np.random.default_rng(0).uniform(0, 255, (1, height, width, 3))
    pixels = pixels.astype("float32")
    expected = model.predict(pixels, verbose=0)

    assert run_cli(capsys, "export", str(trained_run))[0] == 0
    served = tf.saved_model.load(str(trained_run / "export" / "saved_model"))
    np.testing.assert_allclose(served.serve(pixels).numpy(), expected, atol=1e-5)

    assert run_cli(capsys, "export", str(trained_run), "--format", "tflite")[0] == 0
    interpreter = tf.lite.Interpreter(str(trained_run / "export" / "model.tflite"))
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], pixels)
    interpreter.invoke()
    output = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
    np.testing.assert_allclose(output, expected, atol=1e-4)

    code, _, err = run_cli(capsys, "export", str(trained_run))
    assert code == 1 and "--overwrite" in err


def test_export_on_another_backend_is_a_one_line_error(
    trained_run, capsys, monkeypatch, tmp_path
):
    import keras

    monkeypatch.setattr(keras.backend, "backend", lambda: "torch")
    output = tmp_path / "served"
    code, _, err = run_cli(capsys, "export", str(trained_run), "--output", str(output))
    assert code == 1
    assert "needs the tensorflow backend (active: torch)" in err
    assert "KERAS_BACKEND=tensorflow" in err
    assert not output.exists()


def test_unknown_application_and_option_are_one_line_errors(capsys, demo_home):
    code, _, err = run_cli(capsys, "train", "plant-clasifier")
    assert code == 1 and "plant-classifier" in err and "cnnrnn list" in err
    code, _, err = run_cli(capsys, "train", "plant-classifier", "--set", "model.dept=3")
    assert code == 1 and "Unknown model option 'dept'" in err
    code, _, err = run_cli(capsys, "train", "plant-classifier", "--set", "depth=3")
    assert code == 1 and "SECTION.KEY=VALUE" in err
    code, _, err = run_cli(capsys, "train", "plant-classifier", "--epochs", "0")
    assert code == 1 and "Received: epochs=0" in err


def test_invalid_factory_argument_is_a_one_line_error(tmp_path, capsys, demo_home):
    code, _, err = run_cli(
        capsys, "train", "plant-classifier", "--output", str(tmp_path / "run"),
        "--set", "model.backbone=resnet9000",
    )  # fmt: skip
    assert code == 1
    assert "Received: backbone='resnet9000'" in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "run").exists()


def test_bad_data_is_a_one_line_error_and_leaves_no_run(tmp_path, capsys):
    flat = tmp_path / "flat"
    flat.mkdir()
    Image.new("RGB", (8, 8)).save(flat / "a.png")
    output = tmp_path / "run"
    code, _, err = run_cli(
        capsys,
        "train",
        "plant-classifier",
        "--data",
        str(flat),
        "--output",
        str(output),
    )
    assert code == 1
    assert "sub-folder per class" in err
    assert len(err.strip().splitlines()) == 1
    assert not output.exists()


def test_config_file_sets_options(tmp_path, capsys, demo_home):
    config = tmp_path / "config.toml"
    config.write_text('[model]\ndepth = "three"\n')
    code, _, err = run_cli(capsys, "train", "plant-classifier", "--config", str(config),
                           "--output", str(tmp_path / "run"))  # fmt: skip
    assert code == 1 and "depth" in err
    config.write_text("[model\n")
    code, _, err = run_cli(capsys, "train", "plant-classifier", "--config", str(config))
    assert code == 1 and "not valid TOML" in err


def test_evaluate_refuses_a_folder_that_is_not_a_run(tmp_path, capsys):
    code, _, err = run_cli(capsys, "evaluate", str(tmp_path))
    assert code == 1 and "not a finished cnnrnn run" in err


def test_list_and_devices(capsys):
    code, out, _ = run_cli(capsys, "list")
    assert code == 0 and "plant-classifier" in out
    code, out, _ = run_cli(capsys, "devices", "--json")
    assert code == 0
    report = json.loads(out)
    from cnnrnn import devices  # what this machine really has, GPUs or none

    found = devices.list_accelerators()
    assert len(report["accelerators"]) == len(found)
    assert report["precision"] == devices.choose_precision(found)
    code, out, _ = run_cli(capsys, "devices")
    assert code == 0 and (found[0].kind if found else "CPU") in out


def test_demo_data_command_writes_an_image_folder(tmp_path, capsys):
    target = tmp_path / "plants"
    assert run_cli(capsys, "demo-data", "plant-classifier", str(target))[0] == 0
    classes = sorted(p.name for p in target.iterdir())
    assert len(classes) == 4
    image = Image.open(next((target / classes[0]).iterdir()))
    assert image.mode == "RGB"


def test_console_script_help_is_fast_and_clean():
    result = subprocess.run(
        [sys.executable, "-m", "cnnrnn.cli", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0
    for command in ("train", "evaluate", "predict", "export", "devices", "list"):
        assert command in result.stdout


def test_predict_reads_inputs_from_a_file_or_stdin(
    trained_run, demo_home, capsys, tmp_path, monkeypatch
):
    images = sorted((demo_home / "demo" / "plant-classifier").rglob("*.png"))[:3]
    listing = tmp_path / "inputs.txt"
    listing.write_text("\n".join(map(str, images[1:])) + "\n\n")
    code, out, _ = run_cli(
        capsys, "predict", str(trained_run), str(images[0]), "--from-file",
        str(listing), "--json",
    )  # fmt: skip
    assert code == 0
    assert [r["input"] for r in json.loads(out)] == [str(p) for p in images]

    monkeypatch.setattr("sys.stdin", io.StringIO(f"{images[2]}\n"))
    code, out, _ = run_cli(
        capsys, "predict", str(trained_run), "--from-file", "-", "--json"
    )
    assert code == 0
    assert [r["input"] for r in json.loads(out)] == [str(images[2])]

    code, _, err = run_cli(capsys, "predict", str(trained_run))
    assert code == 1 and "--from-file" in err


def test_profile_measures_the_configured_model(demo_home, capsys):
    code, out, _ = run_cli(
        capsys, "profile", "plant-classifier", *FAST[:6], "--batch-sizes", "1,4",
        "--json",
    )  # fmt: skip
    assert code == 0
    report = json.loads(out)
    # 32x32 RGB, two blocks of two 3x3 convolutions (8 then 16 filters, no
    # bias), 4 classes: 2 FLOPs per multiply-accumulate, per example.
    conv_flops = 2 * (
        32 * 32 * 8 * (3 * 3 * 3)
        + 32 * 32 * 8 * (3 * 3 * 8)
        + 16 * 16 * 16 * (3 * 3 * 8)
        + 16 * 16 * 16 * (3 * 3 * 16)
    )
    assert report["flops"] == conv_flops + 2 * 16 * 4
    assert report["app"] == "plant-classifier"
    assert report["parameters"] > report["trainable_parameters"] > 0  # BN statistics
    assert report["activation_bytes"] >= 32 * 32 * 8 * 4  # a float32 block output
    assert set(report["latency_ms"]) == {"1", "4"}
    assert all(value > 0 for value in report["latency_ms"].values())


def test_profile_prints_a_table(demo_home, capsys):
    code, out, _ = run_cli(capsys, "profile", "plant-classifier", *FAST[:6])
    assert code == 0
    assert "FLOPs per example" in out and "latency per example, batch 256" in out


def test_profile_refuses_bad_options(demo_home, capsys):
    code, _, err = run_cli(capsys, "profile", "plant-classifier", "--set", "model.x=1")
    assert code == 1
    assert "Unknown model option 'x'" in err
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["profile", "plant-classifier", "--batch-sizes", "1,0"])
    assert exit_info.value.code == 2
    assert "positive whole numbers" in capsys.readouterr().err
