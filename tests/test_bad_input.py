"""The bad-input campaign: every kind of bad input gets one line, never a traceback.

One row per case: a function that writes the bad input into a scratch folder
and returns the command line, the exit code expected (1 for bad input, 2 for
a usage error that argparse reports), and words the one-line error must hold
(the problem and the fix). Every case also checks that no traceback is
printed and that no run directory is left behind (nothing half-written).
"""

import csv
import io
import json
import os
import signal
import subprocess
import sys
import time
import wave

import numpy as np
import pytest
from PIL import Image

from cnnrnn import cli, runs

OUT = "out"  # the run directory each command is given, never to be written


def image(path, size=(40, 40), colour=(200, 30, 30)):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, colour).save(path)
    return path


def plant_folder(root, per_class=3, classes=("a", "b")):
    for name in classes:
        for index in range(per_class):
            image(root / name / f"{index}.png", colour=(index * 40, 90, 30))
    return root


def write(path, content, mode="w"):
    path.parent.mkdir(parents=True, exist_ok=True)
    if mode == "w":
        path.write_text(content)
    else:
        path.write_bytes(content)
    return path


def clip_folder(root, per_class=2):
    for name in ("left", "right"):
        for index in range(per_class):
            frames = np.full((4, 16, 16, 3), 60 * index, np.uint8)
            path = root / name / f"{index}.npy"
            path.parent.mkdir(parents=True, exist_ok=True)
            np.save(path, frames)
    return root


def train(app, data, *extra):
    return ["train", app, "--data", str(data), "--output", OUT, "--epochs", "1", *extra]


# --- images ------------------------------------------------------------------
def empty_folder(tmp):
    (tmp / "photos").mkdir()
    return train("plant-classifier", tmp / "photos")


def files_without_class_folders(tmp):
    image(tmp / "photos" / "a.png")
    return train("plant-classifier", tmp / "photos")


def one_class(tmp):
    return train("plant-classifier", plant_folder(tmp / "photos", classes=("a",)))


def every_image_corrupt(tmp):
    for name in ("a", "b"):
        for index in range(3):
            write(tmp / "p" / name / f"{index}.jpg", b"not a jpeg", "wb")
    return train("plant-classifier", tmp / "p")


def corrupt_images_refused(tmp):
    root = plant_folder(tmp / "photos")
    write(root / "a" / "broken.jpg", b"", "wb")
    return train("plant-classifier", root, "--set", "data.on_bad_file=error")


def truncated_jpeg_refused(tmp):
    root = plant_folder(tmp / "photos")
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), (1, 2, 3)).save(buffer, "JPEG")
    write(root / "b" / "cut.jpg", buffer.getvalue()[:200], "wb")
    return train("plant-classifier", root, "--set", "data.on_bad_file=error")


def decompression_bomb(tmp):
    root = plant_folder(tmp / "photos")
    Image.new("1", (20000, 20000)).save(root / "a" / "bomb.png")
    return train("plant-classifier", root, "--set", "data.on_bad_file=error")


def image_size_too_small(tmp):
    root = plant_folder(tmp / "photos")
    return train("plant-classifier", root, "--set", "data.image_size=[4,4]")


def data_path_is_a_file(tmp):
    return train("plant-classifier", image(tmp / "one.png"))


def missing_data_path(tmp):
    return train("plant-classifier", tmp / "nowhere")


def tfds_dir_for_a_folder(tmp):
    root = plant_folder(tmp / "photos")
    return train("plant-classifier", root, "--set", "data.data_dir=/tmp/x")


# --- text and CSV ------------------------------------------------------------
def csv_header_only(tmp):
    return train("sentiment-rnn", write(tmp / "r.csv", "text,label\n"))


def csv_empty(tmp):
    return train("sentiment-rnn", write(tmp / "r.csv", ""))


def tsv_ragged_row(tmp):
    rows = "".join(f"good film {i}\t1\nbad film {i}\t0\n" for i in range(10))
    return train("sentiment-rnn", write(tmp / "r.tsv", rows + "odd\t1\textra\n"))


def csv_one_label(tmp):
    rows = "".join(f"review {i},pos\n" for i in range(20))
    return train("sentiment-rnn", write(tmp / "r.csv", "text,label\n" + rows))


def csv_unknown_column(tmp):
    rows = "".join(f"a {i},1\nb {i},0\n" for i in range(10))
    data = write(tmp / "r.csv", "text,label\n" + rows)
    return train("sentiment-rnn", data, "--set", "data.text_column=review")


def csv_empty_texts(tmp):
    rows = "".join(f",{i % 2}\n" for i in range(20))
    return train("sentiment-rnn", write(tmp / "r.csv", "text,label\n" + rows))


# --- characters --------------------------------------------------------------
def text_empty(tmp):
    return train("char-generator", write(tmp / "t.txt", ""))


def text_shorter_than_a_sequence(tmp):
    return train("char-generator", write(tmp / "t.txt", "tiny text\n"))


def text_folder_without_txt(tmp):
    write(tmp / "texts" / "notes.md", "words")
    return train("char-generator", tmp / "texts")


def text_binary(tmp):
    data = write(tmp / "t.txt", bytes(range(256)) * 40, "wb")
    return train("char-generator", data)


# --- video -------------------------------------------------------------------
def zero_byte_clip(tmp):
    root = clip_folder(tmp / "clips")
    write(root / "left" / "empty.mp4", b"", "wb")
    return train("video-classifier", root, "--set", "data.on_bad_file=error")


def audio_only_mp4(tmp):
    import av

    root = clip_folder(tmp / "clips")
    path = root / "left" / "sound.mp4"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("aac", rate=8000)
        frame = av.AudioFrame.from_ndarray(
            np.zeros((1, 1024), np.float32), format="fltp", layout="mono"
        )
        frame.sample_rate = 8000
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return train("video-classifier", root, "--set", "data.on_bad_file=error")


def wav_named_mp4(tmp):
    root = clip_folder(tmp / "clips")
    with wave.open(str(root / "right" / "voice.mp4"), "wb") as sound:
        sound.setnchannels(1)
        sound.setsampwidth(2)
        sound.setframerate(8000)
        sound.writeframes(b"\0\0" * 800)
    return train("video-classifier", root, "--set", "data.on_bad_file=error")


def frame_folder_with_corrupt_frame(tmp):
    root = clip_folder(tmp / "clips")
    frames = root / "left" / "frames"
    for index in range(3):
        image(frames / f"{index:03d}.png", size=(16, 16))
    write(frames / "003.png", b"garbage", "wb")
    return train("video-classifier", root, "--set", "data.on_bad_file=error")


def npy_clip_wrong_shape(tmp):
    root = clip_folder(tmp / "clips")
    np.save(root / "left" / "flat.npy", np.zeros((4, 16), np.uint8))
    return train("video-classifier", root, "--set", "data.on_bad_file=error")


def video_folder_empty_class(tmp):
    root = clip_folder(tmp / "clips")
    (root / "up").mkdir()
    return train("video-classifier", root)


def zero_frames_per_clip(tmp):
    root = clip_folder(tmp / "clips")
    return train("video-classifier", root, "--set", "data.num_frames=0")


# --- captions ----------------------------------------------------------------
def captions_missing_images(tmp):
    rows = "".join(f"img{i}.png,a red square\n" for i in range(10))
    return train("image-captioner", write(tmp / "c.csv", "image,caption\n" + rows))


def coco_json_missing_keys(tmp):
    data = write(tmp / "c.json", json.dumps({"images": [{"id": 1}]}))
    return train("image-captioner", data)


def captions_too_few_images(tmp):
    image(tmp / "a.png")
    return train("image-captioner", write(tmp / "c.csv", "image,text\na.png,hello\n"))


def captions_file_empty(tmp):
    return train("image-captioner", write(tmp / "c.csv", ""))


# --- series ------------------------------------------------------------------
def series_text_cell(tmp):
    rows = "".join(f"{i},{i * 2}\n" for i in range(60))
    return train(
        "series-forecaster", write(tmp / "s.csv", "step,value\n" + rows + "x,y\n")
    )


def series_too_short(tmp):
    rows = "".join(f"{i},{i % 5}\n" for i in range(20))
    return train("series-forecaster", write(tmp / "s.csv", "step,value\n" + rows))


# --- config and job files ----------------------------------------------------
def toml_syntax_error(tmp):
    config = write(tmp / "c.toml", "[model\ndepth = 2\n")
    return ["train", "plant-classifier", "--config", str(config), "--output", OUT]


def config_unknown_section(tmp):
    config = write(tmp / "c.toml", "[optimizer]\nlr = 1\n")
    return ["train", "plant-classifier", "--config", str(config), "--output", OUT]


def config_json_syntax_error(tmp):
    config = write(tmp / "c.json", '{"model": {"depth": 2,}}')
    return ["train", "plant-classifier", "--config", str(config), "--output", OUT]


def config_missing(tmp):
    return ["train", "plant-classifier", "--config", str(tmp / "no.toml")]


def job_search_is_a_number(tmp):
    job = write(tmp / "j.toml", 'app = "sentiment-rnn"\nsearch = 3\n')
    return ["tune", str(job), "--dry-run"]


def job_non_utf8(tmp):
    job = write(
        tmp / "j.toml", 'app = "sentiment-rnn" # caf\xe9\n'.encode("latin-1"), "wb"
    )
    return ["tune", str(job), "--dry-run"]


def job_unknown_hyperparameter(tmp):
    job = write(
        tmp / "j.toml", 'app = "sentiment-rnn"\n[space]\nwings = { values = [1, 2] }\n'
    )
    return ["tune", str(job), "--dry-run"]


def job_unknown_app(tmp):
    return ["tune", str(write(tmp / "j.toml", 'app = "sentiment"\n')), "--dry-run"]


def job_missing(tmp):
    return ["tune", str(tmp / "none.toml"), "--dry-run"]


# --- command-line options ----------------------------------------------------
def unknown_application(tmp):
    return ["train", "plant", "--output", OUT]


def set_without_equals(tmp):
    return ["train", "plant-classifier", "--set", "model.depth", "--output", OUT]


def set_unknown_option(tmp):
    return ["train", "plant-classifier", "--set", "model.wings=2", "--output", OUT]


def set_unknown_section(tmp):
    return ["train", "plant-classifier", "--set", "optimizer.lr=2", "--output", OUT]


def set_bad_value(tmp):
    return ["train", "plant-classifier", "--set", "model.depth=[1,", "--output", OUT]


def set_negative_epochs(tmp):
    return ["train", "plant-classifier", "--epochs", "0", "--output", OUT]


def bad_precision(tmp):
    return [
        "train",
        "plant-classifier",
        "--set",
        "devices.precision=fp8",
        "--output",
        OUT,
    ]


def bad_strategy(tmp):
    return [
        "train",
        "plant-classifier",
        "--set",
        "devices.strategy=ring",
        "--output",
        OUT,
    ]


def output_is_a_file(tmp):
    write(tmp / OUT, "precious")
    return ["train", "plant-classifier", "--output", OUT]


def output_is_a_foreign_folder(tmp):
    write(tmp / OUT / "thesis.tex", "precious")
    return ["train", "plant-classifier", "--output", OUT]


def run_dir_not_a_run(tmp):
    (tmp / "empty").mkdir()
    return ["predict", str(tmp / "empty"), "x.png"]


def run_dir_missing(tmp):
    return ["evaluate", str(tmp / "nowhere")]


def run_config_truncated(tmp):
    run = tmp / "run"
    write(run / "model.keras", b"PK", "wb")
    write(run / "metrics.json", "{}")
    write(run / "config.json", '{"app": "plant-classifier", "model": {')
    return ["evaluate", str(run)]


def run_from_an_unknown_application(tmp):
    run = tmp / "run"
    write(run / "model.keras", b"PK", "wb")
    write(run / "metrics.json", "{}")
    write(
        run / "config.json", json.dumps({"app": "tea-maker", "data": {}, "model": {}})
    )
    return ["evaluate", str(run)]


def run_from_a_newer_cnnrnn(tmp):
    run = tmp / "run"
    write(run / "model.keras", b"PK", "wb")
    write(run / "metrics.json", "{}")
    config = {"app": "plant-classifier", "data": {}, "model": {}}
    write(run / "config.json", json.dumps({**config, "cnnrnn_version": "99.0"}))
    return ["evaluate", str(run)]


def new_unknown_template(tmp):
    return ["new", "tea-maker", str(tmp / "project")]


def new_bad_option(tmp):
    return [
        "new",
        "char-generator",
        str(tmp / "p"),
        "--no-input",
        "--set",
        "units=lots",
    ]


def new_over_an_existing_project(tmp):
    write(tmp / "p" / "notes.txt", "mine")
    return ["new", "char-generator", str(tmp / "p"), "--no-input"]


def top_k_zero(tmp, run):
    return ["predict", str(run), "to be or not", "--top-k", "0"]


def negative_length(tmp, run):
    return ["generate", str(run), "--length", "-3"]


def empty_text_to_continue(tmp, run):
    return ["predict", str(run), ""]


def caption_with_a_text_run(tmp, run):
    return ["caption", str(run), str(image(tmp / "a.png"))]


def export_over_a_file(tmp, run):
    write(tmp / "model.tflite.txt", "precious")
    return ["export", str(run), "--output", str(tmp / "model.tflite.txt")]


def compare_unknown_model(tmp):
    return ["compare", "--models", "cnn,transformer", "--output", OUT]


# (case, expected exit code, words the one-line error must hold)
CASES = [
    (empty_folder, 1, ["is empty", "tulip/002.jpg"]),
    (files_without_class_folders, 1, ["holds files but"]),
    (one_class, 1, ["only one class", "at least two"]),
    (every_image_corrupt, 1, ["no readable image"]),
    (corrupt_images_refused, 1, ["broken.jpg"]),
    (truncated_jpeg_refused, 1, ["cut.jpg"]),
    (decompression_bomb, 1, ["bomb.png"]),
    (image_size_too_small, 1, ["at least 16x16", "image_shape=(4, 4, 3)"]),
    (data_path_is_a_file, 1, ["one.png", "folder"]),
    (missing_data_path, 1, ["nowhere", "does not exist"]),
    (tfds_dir_for_a_folder, 1, ["data.data_dir", "is a folder"]),
    (csv_header_only, 1, ["r.csv", "no"]),
    (csv_empty, 1, ["r.csv", "empty"]),
    (tsv_ragged_row, 1, ["line 21: 3 field(s) where the first row has 2"]),
    (csv_one_label, 1, ["only one class", "pos"]),
    (csv_unknown_column, 1, ["review", "column"]),
    (csv_empty_texts, 1, ["r.csv", "empty"]),
    (text_empty, 1, ["t.txt", "empty"]),
    (text_shorter_than_a_sequence, 1, ["sequence_length"]),
    (text_folder_without_txt, 1, [".txt"]),
    (text_binary, 1, ["t.txt"]),
    (zero_byte_clip, 1, ["empty.mp4"]),
    (audio_only_mp4, 1, ["sound.mp4", "video"]),
    (wav_named_mp4, 1, ["voice.mp4"]),
    (frame_folder_with_corrupt_frame, 1, ["003.png"]),
    (npy_clip_wrong_shape, 1, ["flat.npy"]),
    (video_folder_empty_class, 1, ["/up", "holds no clip"]),
    (zero_frames_per_clip, 1, ["num_frames"]),
    (captions_missing_images, 1, ["missing image"]),
    (coco_json_missing_keys, 1, ["c.json"]),
    (captions_too_few_images, 1, ["too few", "data.validation_split=0"]),
    (captions_file_empty, 1, ["c.csv"]),
    (series_text_cell, 1, ["row 62", "'x' is not a number"]),
    (series_too_short, 1, ["too short for one window", "data.lookback"]),
    (toml_syntax_error, 1, ["c.toml", "not valid TOML"]),
    (config_unknown_section, 1, ["unknown section(s) optimizer"]),
    (config_json_syntax_error, 1, ["c.json", "not valid JSON"]),
    (config_missing, 1, ["no.toml", "not found"]),
    (job_search_is_a_number, 1, ["search must be a table"]),
    (job_non_utf8, 1, ["j.toml"]),
    (job_unknown_hyperparameter, 1, ["wings"]),
    (job_unknown_app, 1, ["Unknown application 'sentiment'"]),
    (job_missing, 1, ["none.toml", "not found"]),
    (unknown_application, 1, ["Unknown application 'plant'", "plant-classifier"]),
    (set_without_equals, 1, ["model.depth", "="]),
    (set_unknown_option, 1, ["Unknown model option 'wings'"]),
    (set_unknown_section, 1, ["optimizer"]),
    (set_bad_value, 1, ["depth", "[1,"]),
    (set_negative_epochs, 1, ["epochs"]),
    (bad_precision, 1, ["fp8"]),
    (bad_strategy, 1, ["ring"]),
    (output_is_a_file, 1, ["is a file", "folder"]),
    (output_is_a_foreign_folder, 1, ["not a cnnrnn run", "never deleted"]),
    (run_dir_not_a_run, 1, ["not a finished cnnrnn run"]),
    (run_dir_missing, 1, ["not a finished cnnrnn run"]),
    (run_config_truncated, 1, ["config.json"]),
    (run_from_an_unknown_application, 1, ["Unknown application 'tea-maker'"]),
    (run_from_a_newer_cnnrnn, 1, ["cnnrnn 99.0, newer than", "upgrade"]),
    (new_unknown_template, 1, ["tea-maker"]),
    (new_bad_option, 1, ["refused its options", "--set"]),
    (new_over_an_existing_project, 1, ["--overwrite"]),
    (top_k_zero, 2, ["--top-k", "whole number >= 1"]),
    (negative_length, 1, ["length"]),
    (empty_text_to_continue, 1, ["empty"]),
    (caption_with_a_text_run, 1, ["does not caption images"]),
    (export_over_a_file, 1, [".tflite"]),
    (compare_unknown_model, 1, ["transformer"]),
]


@pytest.mark.parametrize(
    "case, code, words", CASES, ids=[case.__name__ for case, _, _ in CASES]
)
def test_bad_input_gets_one_line_naming_the_problem(
    case, code, words, tmp_path, monkeypatch, capsys, request
):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CNNRNN_HOME", str(tmp_path / "home"))
    needs_run = case.__code__.co_argcount == 2
    run = request.getfixturevalue("char_run") if needs_run else None
    argv = case(tmp_path, run) if needs_run else case(tmp_path)
    before = _snapshot(tmp_path)
    try:
        returned = cli.main(argv)
    except SystemExit as exit:  # argparse's usage errors
        returned = exit.code
    err = capsys.readouterr().err
    assert returned == code, err
    assert "Traceback" not in err
    lines = [line for line in err.strip().splitlines() if line.strip()]
    if code == 1:
        assert len(lines) == 1 and lines[0].startswith("error:"), err
    for word in words:
        assert word.lower() in err.lower(), (word, err)
    after = _snapshot(tmp_path)
    assert {p: d for p, d in after.items() if p in before} == before  # none changed
    assert not (tmp_path / OUT / "config.json").exists()  # no run left behind


@pytest.fixture(scope="module")
def char_run(tmp_path_factory):
    """A tiny trained char-generator run, for the cases that need one."""
    home = tmp_path_factory.mktemp("home")
    run = tmp_path_factory.mktemp("runs") / "chars"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CNNRNN_HOME", str(home))
        argv = ["train", "char-generator", "--output", str(run), "--epochs", "1"]
        argv += ["--set", "model.units=16", "--set", "data.sequence_length=20"]
        assert cli.main(argv) == 0
    return run


def _snapshot(root):
    """Every file under `root` (outside the app's home) and its bytes."""
    return {
        str(path.relative_to(root)): path.read_bytes()
        for path in root.rglob("*")
        if path.is_file() and "home" not in path.relative_to(root).parts
    }


def test_what_is_accepted_but_counted_is_said_on_the_first_lines(
    tmp_path, monkeypatch, capsys
):
    """A CSV that is not UTF-8 trains, and the replaced texts are counted."""
    monkeypatch.setenv("CNNRNN_HOME", str(tmp_path / "home"))
    rows = "".join(f"caf\xe9 {i},pos\ncaf\xe9 {i},neg\n" for i in range(10))
    data = write(tmp_path / "r.csv", ("text,label\n" + rows).encode("latin-1"), "wb")
    argv = train("sentiment-rnn", data, "--set", "model.units=4")
    argv[argv.index(OUT)] = str(tmp_path / OUT)
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    assert "Counted in the data: 20 text(s) with bytes that are not UTF-8" in out


def test_a_class_too_small_for_every_split_trains_and_is_named(
    tmp_path, monkeypatch, capsys
):
    """A class folder with one image is accepted, and said to be never scored."""
    monkeypatch.setenv("CNNRNN_HOME", str(tmp_path / "home"))
    data = plant_folder(tmp_path / "photos", per_class=4)
    image(data / "lonely" / "0.png", colour=(0, 0, 250))
    argv = train("plant-classifier", data, "--set", "model.depth=1")
    argv[argv.index(OUT)] = str(tmp_path / OUT)
    assert cli.main(argv) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "Too few examples to be scored: class(es) lonely train" in out
    assert "class(es) a" not in out and "at least 3 examples" in out


# --- Ctrl-C ------------------------------------------------------------------
def interrupted(argv, folder, ready):
    """Runs `cnnrnn ARGV` in `folder` in a new process and presses Ctrl-C
    (SIGINT) once `ready()` holds; returns the exit code and stderr."""
    out, err = folder / "interrupted.out", folder / "interrupted.err"
    env = {**os.environ, "CNNRNN_HOME": str(folder / "home")}
    command = [sys.executable, "-m", "cnnrnn.cli", *argv]
    with open(out, "w") as stdout, open(err, "w") as stderr:
        process = subprocess.Popen(
            command, cwd=folder, env=env, stdin=subprocess.PIPE, stdout=stdout,
            stderr=stderr,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 180
            while not ready():
                assert process.poll() is None, err.read_text()[-2000:]
                assert time.monotonic() < deadline, "never ready to be interrupted"
                time.sleep(0.05)
            process.send_signal(signal.SIGINT)
            process.wait(timeout=60)
        finally:
            if process.poll() is None:
                process.kill()
    return process.returncode, err.read_text()


def test_ctrl_c_in_training_keeps_finished_epochs_and_the_same_command_resumes(
    tmp_path, monkeypatch, capsys
):
    data = plant_folder(tmp_path / "photos", per_class=8)
    argv = train("plant-classifier", data, "--epochs", "25")
    argv += ["--set", "model.depth=1", "--set", "model.base_filters=4"]
    argv += ["--set", "data.image_size=16", "--set", "data.batch_size=2"]
    argv += ["--set", "training.early_stopping_patience=25"]
    run = tmp_path / OUT

    def epochs():
        try:
            with open(run / runs.HISTORY_FILE, newline="") as handle:
                return [int(row["epoch"]) for row in csv.DictReader(handle)]
        except (OSError, KeyError, ValueError):
            return []

    code, err = interrupted(argv, tmp_path, ready=lambda: len(epochs()) >= 2)
    assert code == 130, err
    assert "Interrupted. Run the same command again to resume." in err
    assert "Traceback" not in err
    assert not runs.is_finished(run)
    finished = epochs()
    assert finished == list(range(len(finished))) and len(finished) < 25

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CNNRNN_HOME", str(tmp_path / "home"))
    assert cli.main(argv) == 0
    assert "Resuming the interrupted run" in capsys.readouterr().out
    assert epochs() == list(range(25))  # none lost, none run twice
    assert runs.is_finished(run)


def test_ctrl_c_in_cnnrnn_new_leaves_no_project_and_no_staging_folder(tmp_path):
    """Interrupted at its first prompt, `cnnrnn new` leaves nothing behind."""
    started = time.monotonic()

    def prompting():  # its staging folder exists from before the prompts
        staged = [path for path in tmp_path.iterdir() if path.is_dir()]
        return staged and time.monotonic() - started > 2

    code, err = interrupted(["new", "sentiment-rnn", "project"], tmp_path, prompting)
    assert code == 130, err
    assert err.strip().endswith("Interrupted.") and "Traceback" not in err
    assert sorted(path.name for path in tmp_path.iterdir()) == [
        "interrupted.err",
        "interrupted.out",
    ]
