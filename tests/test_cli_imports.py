"""Commands that need no model start no backend: they answer at once."""

import importlib.util
import json
import os
import pathlib
import subprocess
import sys

import pytest

BACKENDS = ("tensorflow", "keras", "keras_tuner", "torch", "jax")

# Runs the command in a fresh interpreter, then reports which backends it loaded.
SCRIPT = """
import json, sys
from cnnrnn import cli
try:
    code = cli.main(sys.argv[1:])
except SystemExit as exit:
    code = exit.code
loaded = [name for name in {backends!r} if name in sys.modules]
print("LOADED=" + json.dumps(loaded))
sys.exit(code)
"""


def loaded_backends(*argv, env=None):
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT.format(backends=BACKENDS), *argv],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )
    assert result.returncode == 0, result.stderr
    (line,) = [x for x in result.stdout.splitlines() if x.startswith("LOADED=")]
    return result.stdout, json.loads(line.removeprefix("LOADED="))


COMMANDS = ("list", "devices", "demo-data", "train", "evaluate", "predict")
COMMANDS += ("generate", "caption", "tune", "new", "export", "compare", "profile")
COMMANDS += ("runs", "tune-certs", "serve")


def test_help_of_every_command_loads_no_backend():
    # One interpreter per command would cost more than the check: --help of
    # each runs in the same one, and none may load a backend.
    script = (
        "import sys\nfrom cnnrnn import cli\n"
        f"for command in {COMMANDS!r}:\n"
        "    try:\n        cli.main([command, '--help'])\n"
        "    except SystemExit as exit:\n        assert exit.code == 0, command\n"
        f"print([name for name in {BACKENDS!r} if name in sys.modules])\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"
    for command in ("train", "tune", "profile"):
        assert f"usage: cnnrnn {command}" in result.stdout


def test_list_loads_no_backend():
    out, loaded = loaded_backends("list")
    assert "plant-classifier" in out and "image-captioner" in out
    assert loaded == []


def test_new_lists_and_writes_a_project_without_a_backend(tmp_path):
    out, loaded = loaded_backends("new", "--list")
    assert "sentiment-rnn" in out and loaded == []
    project = tmp_path / "plants"
    _, loaded = loaded_backends("new", "plant-classifier", str(project), "--no-input")
    assert (project / "train.py").is_file()
    assert loaded == []


def test_a_dry_run_of_a_search_loads_no_backend():
    job = pathlib.Path(__file__).parents[1] / "tuning" / "video_classifier.toml"
    out, loaded = loaded_backends("tune", str(job), "--dry-run")
    assert "encoder_filters" in out and "video-classifier: random search" in out
    assert loaded == []


def test_tune_certs_writes_certificates_and_loads_no_backend(tmp_path):
    out, loaded = loaded_backends("tune-certs", str(tmp_path / "certs"))
    assert "give it to every worker: --tls-ca" in out
    assert (tmp_path / "certs" / "ca.pem").is_file()
    assert loaded == []


def test_demo_data_loads_no_backend(tmp_path):
    _, loaded = loaded_backends("demo-data", "sentiment-rnn", str(tmp_path / "d"))
    assert (tmp_path / "d" / "reviews.csv").is_file()
    assert loaded == []


@pytest.mark.skipif(
    importlib.util.find_spec("torch") is None, reason="torch is not installed"
)
def test_devices_loads_only_the_backend_it_reports_on():
    out, loaded = loaded_backends("devices", "--json", env={"KERAS_BACKEND": "torch"})
    assert json.loads(out[: out.index("LOADED=")])["backend"] == "torch"
    assert loaded == ["torch"]
