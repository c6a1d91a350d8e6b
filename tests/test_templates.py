"""Project templates: stock cookiecutter renders them and their own tests pass."""

import collections
import json
import subprocess
import sys

import pytest

from cnnrnn import cli, config, scaffold
from cnnrnn.apps import APPS

# Options other than the defaults, per template, and a line they put in config.toml.
NON_DEFAULT = {
    "plant-classifier": (
        {"image_size": "48", "depth": "2", "license": "BSD-3-Clause",
         "include_notebook": "no"},
        "image_size = [48, 48]",
    ),
    "sentiment-rnn": (
        {"rnn_type": "gru", "bidirectional": "no", "units": "16",
         "include_tuning_job": "no"},
        'rnn_type = "gru"',
    ),
    "char-generator": (
        {"rnn_type": "gru", "num_layers": "1", "units": "64",
         "license": "Proprietary"},
        "num_layers = 1",
    ),
    "video-classifier": (
        {"rnn_type": "gru", "num_frames": "8", "num_classes": "3"},
        "num_frames = 8",
    ),
    "image-captioner": (
        {"rnn_type": "gru", "attention": "luong", "image_size": "40"},
        'attention = "luong"',
    ),
}  # fmt: skip
# The templates whose default project's one-epoch test runs in the default
# run; the others' run with the slow tests (the same training is each app's
# own fast CLI test on its demo data).
TRAINED_BY_DEFAULT = {"plant-classifier", "series-forecaster"}
# What the data would give each factory, small (the projects' tests read data).
TINY_MODEL_ARGS = {
    "plant-classifier": {"image_shape": (48, 48, 3), "num_classes": 4},
    "sentiment-rnn": {"vocabulary": ["good", "bad"], "num_classes": 2},
    "char-generator": {"vocabulary": list("abc ")},
    "video-classifier": {"num_frames": 8, "image_shape": (16, 16, 3),
                         "num_classes": 3},
    "image-captioner": {"vocabulary": ["", "[UNK]", "<start>", "<end>", "red"],
                        "image_shape": (40, 40, 3), "max_length": 6},
}  # fmt: skip
EVERY_PROJECT_FILE = [
    "pyproject.toml", "README.md", "LICENSE", ".gitignore", "config.toml",
    "train.py", "predict.py", "data/README.md", "tests/test_project.py",
    ".github/workflows/ci.yml",
]  # fmt: skip


def render_with_stock_cookiecutter(app_name, output, options=None):
    """`cookiecutter TEMPLATE --no-input -o OUTPUT NAME=VALUE...`; the project."""
    options = [f"{name}={value}" for name, value in (options or {}).items()]
    command = [
        sys.executable,
        "-m",
        "cookiecutter",
        str(scaffold.template_dir(app_name)),
    ]
    subprocess.run(
        [*command, "--no-input", "-o", str(output), *options],
        check=True,
        capture_output=True,
        timeout=120,
    )
    (project,) = output.iterdir()
    return project


def lint_project(project):
    """The first part of the project's CI: `ruff check` and `ruff format --check`."""
    for check in (["check", "."], ["format", "--check", "."]):
        lint = subprocess.run(
            [sys.executable, "-m", "ruff", *check],
            cwd=project,
            capture_output=True,
            text=True,
        )
        assert lint.returncode == 0, lint.stdout[-3000:]


def check_project_options(project, app_name, options, config_line):
    """Checks the files that the options change and that the model builds."""
    assert config_line in (project / "config.toml").read_text()
    for part, folder in (("include_notebook", "notebooks"),
                         ("include_tuning_job", "tuning")):  # fmt: skip
        assert (project / folder).exists() == (options.get(part, "yes") == "yes")
    licence = (project / "LICENSE").read_text()
    if options.get("license") == "BSD-3-Clause":
        assert licence.startswith("BSD 3-Clause License")
    if options.get("license") == "Proprietary":
        assert "All rights reserved." in licence
    app = APPS[app_name]
    file_config = config.load_config_file(project / "config.toml")
    model_options = config.resolve_config(app, file_config=file_config)["model"]
    arguments = {**TINY_MODEL_ARGS[app_name], **model_options}
    assert app.build_model(**arguments).count_params() > 0


def run_project_tests(project):
    """The project's own CI: ruff, then its tests."""
    lint_project(project)
    tests = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert tests.returncode == 0, tests.stdout[-4000:] + tests.stderr[-2000:]
    return tests.stdout


class _Outcomes:
    """A pytest plugin that counts test outcomes and keeps the failures."""

    def __init__(self):
        self.counts = collections.Counter()
        self.failures = []

    def pytest_runtest_logreport(self, report):
        if report.when == "call" or report.outcome != "passed":
            self.counts[report.outcome] += 1
        if report.failed:
            self.failures.append(f"{report.nodeid}:\n{report.longreprtext}")


def run_project_tests_here(project, *, train=True):
    """The project's own CI, its tests run by pytest in this process (with
    `train=False`, all but its one-epoch test).

    TensorFlow and cnnrnn are imported already, so a project's tests cost
    their own work only. The project's modules (`train`, `predict`, its test
    module) are forgotten afterwards, so the next project imports its own.
    A fresh environment runs them in the slow tests.
    """
    lint_project(project)
    outcomes = _Outcomes()
    try:
        code = pytest.main(
            [str(project), "-q", "-p", "no:cacheprovider", "-p", "no:xdist"]
            + ([] if train else ["-k", "not one_epoch"]),
            plugins=[outcomes],
        )
    finally:
        for module in ("train", "predict", "test_project"):
            sys.modules.pop(module, None)
    assert code == 0, "\n".join(outcomes.failures)[-4000:]
    return outcomes.counts


def test_there_is_a_template_for_every_application():
    assert set(scaffold.list_templates()) == set(APPS)


def test_every_whole_number_option_has_bounds():
    for app_name, options in scaffold.list_templates().items():
        whole = {name for name, value in options.items() if type(value) is int}
        assert whole == set(options["_integers"]), app_name


def test_the_shared_template_files_name_no_application():
    """What differs is in each template's cookiecutter.json and its parts."""
    shared = scaffold.TEMPLATES_DIR / "_shared"
    parts = shared / "templates" / "apps"
    assert sorted(path.name for path in parts.iterdir()) == sorted(APPS)
    for path in shared.rglob("*"):
        if path.is_file() and parts not in path.parents and path.suffix != ".pyc":
            text = path.read_text()
            named = [name for name in APPS if name in text]
            assert not named, f"{path.relative_to(shared)} names {named}"


@pytest.mark.parametrize("app_name", sorted(APPS))
def test_the_default_project_is_complete_and_its_tests_pass(app_name, tmp_path):
    project = render_with_stock_cookiecutter(app_name, tmp_path)
    for name in [*EVERY_PROJECT_FILE, "tuning/search.toml", "notebooks/explore.ipynb"]:
        assert (project / name).is_file(), name
    readme = (project / "README.md").read_text()
    assert "pip install -e . && python train.py" in readme
    assert 'pip install -e ".[dev]" && pytest' in readme
    assert "MIT License" in (project / "LICENSE").read_text()
    notebook = json.loads((project / "notebooks" / "explore.ipynb").read_text())
    assert all(cell.get("outputs", []) == [] for cell in notebook["cells"])
    train = app_name in TRAINED_BY_DEFAULT
    outcomes = run_project_tests_here(project, train=train)
    # With the search job's and the notebook's tests.
    assert outcomes == {"passed": 5 if train else 4}


@pytest.mark.slow  # an epoch of each app on its demo data, in its project
@pytest.mark.parametrize("app_name", sorted(set(APPS) - TRAINED_BY_DEFAULT))
def test_the_default_project_trains_an_epoch_and_predicts(app_name, tmp_path):
    project = render_with_stock_cookiecutter(app_name, tmp_path)
    assert run_project_tests_here(project) == {"passed": 5}


@pytest.mark.parametrize("app_name", sorted(NON_DEFAULT))
def test_other_options_give_a_clean_project_whose_model_builds(app_name, tmp_path):
    """In this process: the project's files, lint, config and model (its own
    tests, with training, run in the slow test below)."""
    options, config_line = NON_DEFAULT[app_name]
    project = render_with_stock_cookiecutter(app_name, tmp_path, options)
    check_project_options(project, app_name, options, config_line)
    lint_project(project)


@pytest.mark.slow  # each project's pytest starts TensorFlow and trains an epoch
@pytest.mark.parametrize("app_name", sorted(NON_DEFAULT))
def test_other_options_give_a_project_whose_tests_pass(app_name, tmp_path):
    options, config_line = NON_DEFAULT[app_name]
    project = render_with_stock_cookiecutter(app_name, tmp_path, options)
    check_project_options(project, app_name, options, config_line)
    output = run_project_tests(project)
    assert " passed" in output and "failed" not in output


def test_cnnrnn_new_renders_into_the_folder_it_is_given(tmp_path, capsys):
    project = tmp_path / "my-reviews"
    options = ["--no-input", "--set", "rnn_type=gru", "--set", "author=Ada"]
    assert cli.main(["new", "sentiment-rnn", str(project), *options]) == 0
    assert 'rnn_type = "gru"' in (project / "config.toml").read_text()
    pyproject = (project / "pyproject.toml").read_text()
    assert 'name = "my_reviews"' in pyproject and '"Ada"' in pyproject
    assert (project / "README.md").read_text().startswith("# my-reviews\n")
    assert f"Project written to {project}" in capsys.readouterr().out


def test_cnnrnn_new_never_writes_into_a_folder_with_files_unless_asked(
    tmp_path, capsys
):
    project = tmp_path / "taken"
    project.mkdir()
    (project / "notes.txt").write_text("mine")
    assert cli.main(["new", "char-generator", str(project), "--no-input"]) == 1
    assert "is not empty" in capsys.readouterr().err
    assert [p.name for p in project.iterdir()] == ["notes.txt"]
    arguments = ["new", "char-generator", str(project), "--no-input", "--overwrite"]
    assert cli.main(arguments) == 0
    assert (project / "notes.txt").read_text() == "mine"
    assert (project / "train.py").is_file()


@pytest.mark.parametrize(
    "option, message",
    [
        ("project_slug=my plants", "project_slug='my plants' is not a valid"),
        ("num_classes=1", "num_classes='1' is not allowed: expected a whole number"),
        ("image_size=big", "image_size='big' is not allowed: expected a whole number"),
    ],
)
def test_invalid_options_are_refused_by_the_pre_generation_hook(
    option, message, tmp_path, capfd
):
    project = tmp_path / "project"
    arguments = ["new", "plant-classifier", str(project), "--no-input", "--set", option]
    assert cli.main(arguments) == 1
    err = capfd.readouterr().err
    assert message in err  # printed by the hook
    assert "refused its options" in err and "Traceback" not in err
    assert not project.exists() and list(tmp_path.iterdir()) == []


def test_a_value_outside_a_choice_is_refused_by_cookiecutter(tmp_path, capsys):
    project = tmp_path / "project"
    arguments = ["new", "plant-classifier", str(project), "--no-input"]
    assert cli.main([*arguments, "--set", "license=GPL"]) == 1
    err = capsys.readouterr().err
    assert "choices are ['MIT', 'BSD-3-Clause', 'Proprietary']" in err
    assert not project.exists()


def test_cnnrnn_new_explains_its_mistakes(tmp_path, capsys):
    assert cli.main(["new", "speech-rnn", str(tmp_path / "p"), "--no-input"]) == 1
    assert "No project template for 'speech-rnn'" in capsys.readouterr().err
    arguments = ["new", "plant-classifier", str(tmp_path / "p"), "--set", "colour=1"]
    assert cli.main(arguments) == 1
    assert "Unknown option(s) colour" in capsys.readouterr().err
    assert cli.main(["new", "plant-classifier"]) == 1
    assert "cnnrnn new APP DIR" in capsys.readouterr().err


def test_cnnrnn_new_lists_the_templates_and_their_options(capsys):
    assert cli.main(["new", "--list"]) == 0
    out = capsys.readouterr().out
    for app_name in APPS:
        assert app_name in out
    assert "rnn_type: lstm | gru" in out and "project_slug: (from project_name)" in out
