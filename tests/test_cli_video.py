"""`cnnrnn` end to end for video-classifier: video files in, classes out."""

import json

import numpy as np
import pytest

from cnnrnn import cli, runs
from cnnrnn.demos.video_classifier import VIDEO_CLASSES, write_video_demo

FAST = [
    "--set", "model.units=8",
    "--set", "model.encoder_filters=4",
    "--set", "model.encoder_units=16",
    "--set", "data.num_frames=6",
    "--set", "data.image_size=[16, 16]",
    "--epochs", "2",
]  # fmt: skip


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    return write_video_demo(
        tmp_path_factory.mktemp("data") / "clips", clips_per_class=8, image_size=16
    )


@pytest.fixture(scope="module")
def video_run(clips, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("runs") / "video"
    argv = ["train", "video-classifier", "--data", str(clips)]
    assert cli.main([*argv, "--output", str(run_dir), *FAST]) == 0
    return run_dir


def run_cli(capsys, *argv):
    code = cli.main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_run_directory_is_complete(video_run):
    for name in (runs.MODEL_FILE, runs.CONFIG_FILE, runs.METRICS_FILE):
        assert (video_run / name).is_file()
    assert (video_run / "plots" / "confusion_matrix.png").is_file()
    metrics = runs.read_json(video_run / runs.METRICS_FILE)
    assert set(metrics["per_class_accuracy"]) == set(VIDEO_CLASSES)


def test_predict_prints_top_classes_of_video_files(video_run, clips, capsys):
    files = [str(clips / "left" / "left_000.mp4"), str(clips / "up" / "up_001.mp4")]
    code, out, _ = run_cli(
        capsys, "predict", str(video_run), *files, "--top-k", "2", "--json"
    )
    assert code == 0
    results = json.loads(out)
    assert [result["input"] for result in results] == files
    for result in results:
        assert len(result["predictions"]) == 2
        assert {p["label"] for p in result["predictions"]} <= set(VIDEO_CLASSES)


def test_unreadable_clip_is_a_one_line_error(video_run, tmp_path, capsys):
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video")
    code, _, err = run_cli(capsys, "predict", str(video_run), str(broken))
    assert code == 1 and "broken.mp4" in err and "Traceback" not in err


def test_a_run_written_with_the_old_option_names_predicts_the_same(
    video_run, clips, tmp_path, capsys
):
    """Run directories from before `backbone`, `units`, `image_size` ... still work."""
    old_run = tmp_path / "old"
    old_run.mkdir()
    for name in (runs.MODEL_FILE, runs.METRICS_FILE):
        (old_run / name).write_bytes((video_run / name).read_bytes())
    config = runs.read_json(video_run / runs.CONFIG_FILE)
    old_names = {"backbone": "frame_encoder", "train_backbone": "train_encoder",
                 "num_layers": "rnn_layers", "units": "rnn_units"}  # fmt: skip
    config["model"] = {old_names.get(k, k): v for k, v in config["model"].items()}
    config["model_from_data"]["frame_shape"] = config["model_from_data"].pop(
        "image_shape"
    )
    config["data"]["frame_size"] = config["data"].pop("image_size")
    runs.write_json(old_run / runs.CONFIG_FILE, config)
    files = [str(clips / "left" / "left_000.mp4"), str(clips / "up" / "up_001.mp4")]
    outputs = [
        run_cli(capsys, "predict", str(run), *files, "--json")
        for run in (video_run, old_run)
    ]
    assert outputs[0][0] == outputs[1][0] == 0
    assert json.loads(outputs[0][1]) == json.loads(outputs[1][1])


def test_evaluate_on_other_clips(video_run, clips, capsys):
    code, out, _ = run_cli(
        capsys, "evaluate", str(video_run), "--data", str(clips), "--json"
    )
    assert code == 0
    # Every clip predicted one by one: right when the top class is the name of
    # the clip's folder.
    files = sorted(clips.rglob("*.mp4"))
    code, predicted, _ = run_cli(
        capsys, "predict", str(video_run), *map(str, files), "--top-k", "1", "--json"
    )
    assert code == 0
    results = json.loads(predicted)
    assert [result["input"] for result in results] == list(map(str, files))
    right = [
        result["predictions"][0]["label"] == file.parent.name
        for result, file in zip(results, files, strict=True)
    ]
    assert len(right) == 8 * len(VIDEO_CLASSES)
    assert json.loads(out)["accuracy"] == pytest.approx(np.mean(right), abs=1e-6)


def test_precomputed_features_train_a_frozen_encoder_run(clips, tmp_path):
    argv = ["train", "video-classifier", "--data", str(clips), *FAST]
    argv += ["--set", "model.train_backbone=false"]
    argv += ["--set", "training.precompute_features=true"]
    assert cli.main([*argv, "--output", str(tmp_path / "run")]) == 0
    assert runs.is_finished(tmp_path / "run")


def test_precomputing_with_a_trainable_encoder_is_refused(clips, tmp_path, capsys):
    argv = ["train", "video-classifier", "--data", str(clips), *FAST]
    argv += ["--set", "training.precompute_features=true"]
    code, _, err = run_cli(capsys, *argv, "--output", str(tmp_path / "run"))
    assert code == 1 and "train_backbone=False" in err
    assert not (tmp_path / "run").exists()
