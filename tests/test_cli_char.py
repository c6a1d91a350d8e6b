"""`cnnrnn` end to end for char-generator: train, generate, predict, evaluate."""

import json
import math
import shutil

import pytest

from cnnrnn import cli, runs

FAST = [
    "--set", "model.units=32",
    "--set", "model.num_layers=1",
    "--set", "data.sequence_length=50",
    "--epochs", "2",
]  # fmt: skip


@pytest.fixture(scope="module")
def char_run(tmp_path_factory):
    home = tmp_path_factory.mktemp("home")
    run_dir = tmp_path_factory.mktemp("runs") / "chars"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CNNRNN_HOME", str(home))
        argv = ["train", "char-generator", "--output", str(run_dir), *FAST]
        assert cli.main(argv) == 0
    return run_dir


def run_cli(capsys, *argv):
    code = cli.main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_run_directory_reports_nats_and_bits(char_run):
    metrics = runs.read_json(char_run / runs.METRICS_FILE)
    assert metrics["evaluated_on"] == "validation"
    assert metrics["bits_per_char"] == pytest.approx(
        metrics["loss"] / math.log(2), rel=1e-3
    )
    samples = (char_run / metrics["samples_file"]).read_text()
    assert samples.count("--- temperature") == 3


def test_generate_streams_the_seed_and_the_text(char_run, capsys):
    code, out, _ = run_cli(
        capsys, "generate", str(char_run), "--seed", "ROMEO:", "--length", "40"
    )
    assert code == 0
    assert out.startswith("ROMEO:") and len(out) == len("ROMEO:") + 40 + 1


def test_generate_json_is_reproducible_and_samples_differ(char_run, capsys):
    argv = ["generate", str(char_run), "--num-samples", "3", "--length", "30"]
    argv += ["--random-seed", "4", "--json"]
    _, first, _ = run_cli(capsys, *argv)
    _, second, _ = run_cli(capsys, *argv)
    samples = json.loads(first)["samples"]
    assert json.loads(second)["samples"] == samples
    assert len(samples) == 3 and len(set(samples)) == 3


def test_generate_stops_at_the_stop_string(char_run, capsys):
    argv = ["generate", str(char_run), "--num-samples", "2", "--length", "400"]
    argv += ["--stop", "e", "--random-seed", "1", "--json"]
    code, out, _ = run_cli(capsys, *argv)
    assert code == 0
    for sample in json.loads(out)["samples"]:
        assert sample.endswith("e") and sample.count("e") == 1


def test_unknown_seed_characters_are_a_one_line_error(char_run, capsys):
    code, _, err = run_cli(capsys, "generate", str(char_run), "--seed", "ROMEO \u00e9")
    assert code == 1
    assert "never saw in training: '\u00e9'" in err and "Traceback" not in err


def test_generate_refuses_a_classifier_run(char_run, tmp_path, capsys):
    other = tmp_path / "other"
    shutil.copytree(char_run, other)
    config = runs.read_json(other / runs.CONFIG_FILE)
    runs.write_json(other / runs.CONFIG_FILE, {**config, "app": "sentiment-rnn"})
    code, _, err = run_cli(capsys, "generate", str(other))
    assert code == 1 and "does not generate text" in err


def test_predict_ranks_next_characters(char_run, capsys):
    code, out, _ = run_cli(capsys, "predict", str(char_run), "ROMEO", "--json")
    assert code == 0
    (result,) = json.loads(out)
    probabilities = [p["probability"] for p in result["predictions"]]
    assert len(probabilities) == 3 and probabilities == sorted(probabilities)[::-1]
    assert all(p["label"].startswith("'") for p in result["predictions"])


def test_evaluate_on_new_text_with_unseen_characters(char_run, tmp_path, capsys):
    text = tmp_path / "new.txt"
    line = "JULIET:\nO Romeo, Romeo! wherefore art thou Romeo? \u00e9\u00e8\n"
    text.write_text(line * 5)
    code, out, _ = run_cli(
        capsys, "evaluate", str(char_run), "--data", str(text), "--json"
    )
    assert code == 0
    metrics = json.loads(out)
    assert metrics["bits_per_char"] == pytest.approx(
        metrics["loss"] / math.log(2), rel=1e-3
    )
