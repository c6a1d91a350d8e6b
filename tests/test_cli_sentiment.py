"""`cnnrnn` end to end for sentiment-rnn: raw text in, label and probability out."""

import json
import pathlib

import pytest

from cnnrnn import cli

SHARED = pathlib.Path(__file__).resolve().parents[2] / "shared" / "data" / "sentiment"
FAST = [
    "--set", "model.units=16",
    "--set", "model.embedding_dim=16",
    "--epochs", "3",
]  # fmt: skip


@pytest.fixture(scope="module")
def sentiment_run(tmp_path_factory):
    home = tmp_path_factory.mktemp("home")
    run_dir = tmp_path_factory.mktemp("runs") / "sentiment"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CNNRNN_HOME", str(home))
        argv = ["train", "sentiment-rnn", "--output", str(run_dir), *FAST]
        assert cli.main(argv) == 0
    return run_dir


def run_cli(capsys, *argv):
    code = cli.main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_predict_prints_label_and_probability_for_raw_texts(sentiment_run, capsys):
    texts = ["the food was not good but the service was great", "never bad at all"]
    code, out, _ = run_cli(capsys, "predict", str(sentiment_run), *texts, "--json")
    assert code == 0
    results = json.loads(out)
    assert [r["input"] for r in results] == texts
    for result in results:
        labels = {p["label"] for p in result["predictions"]}
        assert labels == {"negative", "positive"}
        total = sum(p["probability"] for p in result["predictions"])
        assert total == pytest.approx(1.0, abs=1e-5)


def test_empty_text_is_a_one_line_error(sentiment_run, capsys):
    code, _, err = run_cli(capsys, "predict", str(sentiment_run), "good", "  ")
    assert code == 1 and "Text 2 is empty" in err


@pytest.mark.parametrize("command", ["train", "predict"])
def test_other_backends_are_a_one_line_error(
    sentiment_run, capsys, monkeypatch, command
):
    import keras

    monkeypatch.setattr(keras.backend, "backend", lambda: "jax")
    target = "sentiment-rnn" if command == "train" else str(sentiment_run)
    code, _, err = run_cli(capsys, command, target, *(["good"] * (command != "train")))
    assert code == 1
    assert "sentiment-rnn needs the tensorflow backend (active: jax)" in err
    assert len(err.strip().splitlines()) == 1


def test_evaluate_on_the_run_test_split(sentiment_run, capsys):
    code, out, _ = run_cli(capsys, "evaluate", str(sentiment_run), "--json")
    assert code == 0
    saved = json.loads((sentiment_run / "metrics.json").read_text())
    assert json.loads(out)["accuracy"] == pytest.approx(saved["accuracy"], abs=1e-6)


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/data/sentiment is absent")
def test_trains_on_a_real_tab_separated_file_without_header(tmp_path, capsys):
    source = SHARED / "imdb_labelled.txt"
    run_dir = tmp_path / "imdb"
    code, _, err = run_cli(
        capsys, "train", "sentiment-rnn", "--data", str(source), "--output",
        str(run_dir), *FAST,
    )  # fmt: skip
    assert code == 0, err
    config = json.loads((run_dir / "config.json").read_text())
    assert config["data_info"]["class_names"] == ["0", "1"]
    assert sum(config["data_info"]["num_examples"].values()) == 1000


def test_pretrained_word_vectors_are_reported(tmp_path, capsys):
    source = tmp_path / "reviews.tsv"
    rows = ["a great phone\t1", "an awful phone\t0"] * 10
    source.write_text("\n".join(rows) + "\n")
    vectors = tmp_path / "vectors.txt"
    vectors.write_text("great 0.5 0.1 0.2\nawful -0.5 0.3 0.1\nunused 1 1 1\n")
    run_dir = tmp_path / "run"
    code, out, err = run_cli(
        capsys, "train", "sentiment-rnn", "--data", str(source), "--output",
        str(run_dir), "--set", f"model.embeddings={json.dumps(str(vectors))}",
        "--set", "model.units=4", "--epochs", "1",
    )  # fmt: skip
    assert code == 0, err
    found = "2 of 5 words have a pretrained vector (dim 3); 3 missing"
    assert f"model: embeddings: {found}" in " ".join(out.split())
    config = json.loads((run_dir / "config.json").read_text())
    assert config["model_info"]["embeddings"].startswith(found)
