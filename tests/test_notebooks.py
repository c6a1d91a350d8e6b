"""The notebooks in notebooks/ run from top to bottom, and are committed clean.

Every notebook runs in a real Jupyter kernel (`nbclient`, the `python3`
kernel of this Python) with `QUICK=1`, in a temporary working directory, so
that what it writes stays out of the checkout. The notebooks of this module
share one kernel, which starts TensorFlow once: before each notebook, `%reset
-f` empties the namespace (a missing import still fails) and the kernel moves
to the notebook's folder. `CNNRNN_HOME` points at one temporary folder shared
by the whole session: demo data a notebook takes from the cache are generated
once, never in the user's `~/.cache`.
"""

import json
import os
import pathlib
import re
import sys

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
from jupyter_client.kernelspec import KernelSpecManager  # noqa: E402
from jupyter_client.manager import KernelManager  # noqa: E402
from nbclient.exceptions import CellExecutionError  # noqa: E402

from cnnrnn import cli  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
CELL_TIMEOUT = 300  # seconds; a QUICK cell takes a few
KERNEL = "python3"
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")  # colours of IPython's tracebacks
# Notebooks that run with the slow tests only: each takes 9-12 s, and what it
# does is tested fast elsewhere (tests/tuning, tests/test_compare.py, the
# captioner's and the char generator's CLI tests).
SLOW_NOTEBOOKS = {
    "hyperparameter_search",
    "cnn_vs_rnn",
    "image_captioner",
    "char_generator",
}


@pytest.fixture(scope="session")
def cnnrnn_home(tmp_path_factory):
    """One `CNNRNN_HOME` (demo data cache) for every notebook of the session."""
    return tmp_path_factory.mktemp("cnnrnn_home")


def check_kernel_is_this_python():
    """Fails unless the `python3` kernel runs the Python running the tests."""
    argv = KernelSpecManager().get_kernel_spec(KERNEL).argv
    # jupyter_client starts sys.executable for a spec that names plain "python".
    plain = {"python", f"python{sys.version_info[0]}"}
    if argv[0] not in plain and pathlib.Path(argv[0]) != pathlib.Path(sys.executable):
        pytest.fail(
            f"The '{KERNEL}' Jupyter kernel runs {argv[0]}, not this Python "
            f"({sys.executable}): install ipykernel here, and remove the other "
            f"'{KERNEL}' kernel spec (`jupyter kernelspec list`).",
            pytrace=False,
        )


@pytest.fixture(scope="module")
def kernel(cnnrnn_home):
    """A started `python3` kernel with `QUICK=1`, shared by the module's notebooks."""
    check_kernel_is_this_python()
    manager = KernelManager(kernel_name=KERNEL)
    env = {
        **os.environ,
        "QUICK": "1",
        "CNNRNN_HOME": str(cnnrnn_home),
        "TF_CPP_MIN_LOG_LEVEL": "2",
    }
    manager.start_kernel(env=env)
    yield manager
    manager.shutdown_kernel(now=True)


def execute_notebook(path, *, cwd, kernel):
    """Runs a notebook in `cwd` on a fresh namespace of `kernel`; fails with the
    failing cell's error."""
    notebook = nbformat.read(path, as_version=4)
    fresh_start = nbformat.v4.new_code_cell(
        f"%reset -f\nimport os\nos.chdir({str(cwd)!r})\ndel os"
    )
    notebook.cells.insert(0, fresh_start)
    client = nbclient.NotebookClient(
        notebook, km=kernel, kernel_name=KERNEL, timeout=CELL_TIMEOUT
    )
    try:
        client.execute()
    except CellExecutionError as error:
        message = ANSI_ESCAPE.sub("", str(error))
        pytest.fail(f"{path.name}: a cell failed.\n{message}", pytrace=False)
    return notebook


def test_there_is_a_notebook_per_application_and_more():
    names = {path.stem for path in NOTEBOOKS}
    expected = {
        "plant_classifier",
        "sentiment_rnn",
        "char_generator",
        "video_classifier",
        "image_captioner",
        "hyperparameter_search",
        "cnn_vs_rnn",
    }
    assert expected <= names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_the_notebook_is_committed_without_outputs_and_has_a_quick_parameter(path):
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    assert set(notebook.metadata) <= {"kernelspec", "language_info"}
    assert notebook.metadata.kernelspec.name == KERNEL
    assert set(notebook.metadata.get("language_info", {})) <= {"name"}
    code_cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
    for cell in code_cells:
        assert cell.outputs == [], f"{path.name}: a cell has outputs: clear them"
        assert cell.execution_count is None, f"{path.name}: clear the execution counts"
    for cell in notebook.cells:
        assert set(cell.metadata) <= {"tags"}, (
            f"{path.name}: cell metadata {cell.metadata}"
        )
    parameters = code_cells[0]
    assert "parameters" in parameters.metadata.get("tags", [])
    assert 'QUICK = os.environ.get("QUICK", "0") != "0"' in parameters.source
    raw = json.loads(path.read_text())
    assert raw["nbformat"] == 4


@pytest.mark.parametrize(
    "path",
    [
        pytest.param(
            path, marks=pytest.mark.slow if path.stem in SLOW_NOTEBOOKS else ()
        )
        for path in NOTEBOOKS
    ],
    ids=lambda path: path.stem,
)
def test_the_notebook_runs_with_quick_on(path, tmp_path, kernel):
    notebook = execute_notebook(path, cwd=tmp_path, kernel=kernel)
    errors = [
        output
        for cell in notebook.cells
        for output in cell.get("outputs", [])
        if output.output_type == "error"
    ]
    assert errors == []
    written = {p.relative_to(tmp_path).parts[0] for p in tmp_path.iterdir()}
    assert written <= {"runs"}, f"{path.name} wrote outside runs/: {written}"


@pytest.mark.slow  # fast: the project's own test compiles every cell
def test_a_generated_project_notebook_runs(tmp_path, kernel, capsys):
    project = tmp_path / "reviews"
    assert cli.main(["new", "sentiment-rnn", str(project), "--no-input"]) == 0
    capsys.readouterr()
    execute_notebook(
        project / "notebooks" / "explore.ipynb", cwd=project, kernel=kernel
    )
    assert (project / "runs" / "notebook-quick" / "model.keras").is_file()
