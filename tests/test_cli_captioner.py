"""`cnnrnn` end to end for image-captioner: train, caption, predict, evaluate."""

import csv
import json
import shutil

import pytest
from PIL import Image

from cnnrnn import cli, runs
from cnnrnn.captioning import bleu_scores
from cnnrnn.demos.image_captioner import write_caption_demo

FAST = [
    "--set", "model.units=32",
    "--set", "model.embedding_dim=16",
    "--set", "model.encoder_depth=2",
    "--set", "model.encoder_filters=8",
    "--set", "data.image_size=[32, 32]",
    "--epochs", "1",
]  # fmt: skip


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return write_caption_demo(
        tmp_path_factory.mktemp("data") / "scenes", num_scenes=60, image_size=32
    )


@pytest.fixture(scope="module")
def caption_run(demo, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("runs") / "captions"
    argv = ["train", "image-captioner", "--data", str(demo), "--output", str(run_dir)]
    assert cli.main([*argv, *FAST]) == 0
    return run_dir


def run_cli(capsys, *argv):
    code = cli.main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def shown_captions_bleu(run_dir, decoding):
    """BLEU recomputed from the captions and references of `captions.txt`."""
    captions, references = [], []
    for section in (run_dir / "captions.txt").read_text().strip().split("\n\n"):
        lines = [line.strip() for line in section.splitlines()]
        caption = next(line for line in lines if line.startswith(f"{decoding}:"))
        captions.append(caption.partition(":")[2].strip())
        references.append([line[2:].split() for line in lines if line[:2] == "- "])
    return bleu_scores(references, captions)


def test_run_directory_reports_bleu_and_example_captions(caption_run):
    metrics = runs.read_json(caption_run / runs.METRICS_FILE)
    assert metrics["evaluated_on"] == "test"
    assert metrics["beam_width"] == 3
    config = runs.read_json(caption_run / runs.CONFIG_FILE)
    examples = (caption_run / metrics["examples_file"]).read_text()
    shown = config["data_info"]["num_images"]["test"]
    assert shown <= 12  # every test image is shown, so its BLEU can be recomputed
    assert examples.count("image: ") == shown and "  beam 3:" in examples
    for prefix, decoding in (("", "beam 3"), ("greedy_", "greedy")):
        scores = [metrics[f"{prefix}bleu_{n}"] for n in (1, 2, 3, 4)]
        recomputed = shown_captions_bleu(caption_run, decoding)
        assert scores == pytest.approx([recomputed[f"bleu_{n}"] for n in range(1, 5)])
        assert scores[0] > 0.1  # one epoch learns the common words
    assert (caption_run / runs.PLOTS_DIR / "captions.png").stat().st_size > 0
    assert config["model_from_data"]["vocabulary"][:4] == [
        "",
        "[UNK]",
        "<start>",
        "<end>",
    ]
    assert config["data_info"]["num_images"]["test"] > 0


def _images(demo, count):
    return [str(demo / "images" / f"scene_{i:04d}.png") for i in range(count)]


def test_caption_prints_one_caption_per_image(caption_run, demo, capsys):
    images = _images(demo, 3)
    code, out, _ = run_cli(capsys, "caption", str(caption_run), *images)
    assert code == 0
    lines = out.strip().splitlines()
    assert [line.split(": ")[0] for line in lines] == images
    vocabulary = runs.read_json(caption_run / runs.CONFIG_FILE)["model_from_data"][
        "vocabulary"
    ]
    for line in lines:
        assert set(line.split(": ", 1)[1].split()) <= set(vocabulary[4:])


def test_caption_json_greedy_beam_and_seeded_sampling(caption_run, demo, capsys):
    images = _images(demo, 4)
    base = ["caption", str(caption_run), *images, "--json"]
    sample = ["--beam-width", "1", "--temperature", "1.5", "--random-seed"]
    calls = {
        "beam": run_cli(capsys, *base),
        "greedy": run_cli(capsys, *base, "--beam-width", "1"),
        "sampled": run_cli(capsys, *base, *sample, "7"),
        "sampled again": run_cli(capsys, *base, *sample, "7"),
        "another seed": run_cli(capsys, *base, *sample, "8"),
    }
    for name, (code, _, err) in calls.items():
        assert code == 0, (name, err)
    results = {name: json.loads(out) for name, (_, out, _) in calls.items()}
    # The same seed draws the same captions, with the same log-probabilities;
    # another seed, at temperature 1.5 over four images, draws others.
    assert results["sampled"] == results["sampled again"]
    assert results["sampled"] != results["another seed"]
    for name, result in results.items():
        assert [r["image"] for r in result] == images, name
        assert all(r["log_probability"] <= 0 for r in result), name
        assert all(isinstance(r["caption"], str) for r in result), name


def test_caption_errors_are_one_line(caption_run, tmp_path, capsys):
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not an image")
    code, _, err = run_cli(capsys, "caption", str(caption_run), str(broken))
    assert code == 1 and "broken.png" in err and "Traceback" not in err
    code, _, err = run_cli(
        capsys, "caption", str(caption_run), str(broken), "--beam-width", "0"
    )
    assert code == 1 and "beam_width" in err


def test_caption_refuses_other_runs(caption_run, tmp_path, capsys):
    other = tmp_path / "other"
    shutil.copytree(caption_run, other)
    config = runs.read_json(other / runs.CONFIG_FILE)
    runs.write_json(other / runs.CONFIG_FILE, {**config, "app": "plant-classifier"})
    code, _, err = run_cli(capsys, "caption", str(other), "x.png")
    assert code == 1 and "does not caption images" in err


def test_predict_gives_the_beam_caption_and_its_probability(caption_run, demo, capsys):
    code, out, _ = run_cli(
        capsys, "predict", str(caption_run), *_images(demo, 2), "--json"
    )
    assert code == 0
    for result in json.loads(out):
        (prediction,) = result["predictions"]
        assert 0 < prediction["probability"] <= 1 and prediction["label"]


def test_evaluate_on_other_captioned_images(caption_run, demo, tmp_path, capsys):
    folder = tmp_path / "new"
    (folder / "pictures").mkdir(parents=True)
    rows = [("image", "caption")]
    for index in range(3):
        source = demo / "images" / f"scene_{index:04d}.png"
        shutil.copy(source, folder / "pictures" / f"p{index}.png")
        rows.append((f"pictures/p{index}.png", f"a large red zebra number {index}"))
    Image.new("RGB", (32, 32)).save(folder / "pictures" / "uncaptioned.png")
    with open(folder / "captions.csv", "w", newline="") as handle:
        csv.writer(handle).writerows(rows)
    code, out, _ = run_cli(
        capsys, "evaluate", str(caption_run), "--data", str(folder), "--json"
    )
    assert code == 0
    metrics = json.loads(out)
    assert {"loss", "token_accuracy", "bleu_4", "greedy_bleu_4"} <= set(metrics)


def train_frozen_encoder(demo, run_dir, capsys, *options):
    """Trains a captioner on MobileNet v1 0.25 (random weights), frozen."""
    return run_cli(
        capsys, "train", "image-captioner", "--data", str(demo), "--output",
        str(run_dir), "--set", "model.encoder=mobilenet_v1_0.25",
        "--set", "model.train_backbone=false", *options,
    )  # fmt: skip


# The saved model's own optimizer never ran (the head's did); loading warns.
@pytest.mark.filterwarnings("ignore:Skipping variable loading for optimizer")
def test_frozen_backbone_encoder_trains_on_features_once(demo, tmp_path, capsys):
    run_dir = tmp_path / "frozen"
    code, out, _ = train_frozen_encoder(
        demo, run_dir, capsys,
        *FAST[:4],
        "--set", "training.precompute_features=true",
        "--set", 'data.image_size="auto"',
        "--epochs", "2",
    )  # fmt: skip
    assert code == 0
    assert "Computed the encoder's features once" in out
    assert "chosen from the data: data.image_size = [32, 32]" in out
    metrics = runs.read_json(run_dir / runs.METRICS_FILE)
    assert metrics["epochs"] == 2
    assert metrics["bleu_4"] == pytest.approx(
        shown_captions_bleu(run_dir, "beam 3")["bleu_4"]
    )
    image = demo / "images" / "scene_0000.png"
    code, out, _ = run_cli(capsys, "caption", str(run_dir), str(image))
    assert code == 0 and out.strip()


# Fast counterpart: test_image_captioner.py::test_fine_tuning_unfreezes_the_encoder_*
@pytest.mark.slow
def test_frozen_backbone_encoder_then_fine_tuning(tmp_path, capsys):
    scenes = write_caption_demo(tmp_path / "scenes", num_scenes=16, image_size=32)
    run_dir = tmp_path / "fine-tuned"
    code, out, _ = train_frozen_encoder(
        scenes, run_dir, capsys, *FAST, "--set", "training.fine_tune_epochs=1"
    )
    assert code == 0 and "no backbone to fine-tune" not in out
    assert runs.read_json(run_dir / runs.METRICS_FILE)["epochs"] == 2
