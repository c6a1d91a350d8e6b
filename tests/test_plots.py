"""cnnrnn.plots: figures returned, PNG files only when asked, no backend chosen."""

import math
import subprocess
import sys

import matplotlib.figure
import pytest

from cnnrnn import plots

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
TRIALS = [
    {"trial_id": "0", "score": 0.5, "hyperparameters": {"lr": 1e-4, "rnn": "lstm"}},
    {"trial_id": "1", "score": None, "hyperparameters": {"lr": 1e-2, "rnn": "gru"}},
    {"trial_id": "2", "score": 0.7, "hyperparameters": {"lr": 1e-2, "rnn": "gru"}},
]
PLOTS = {
    "learning_curves": lambda path: plots.plot_learning_curves(
        {"epoch": [0, 1], "loss": [1.0, 0.5], "val_loss": [1.1, 0.7]}, path
    ),
    "confusion_matrix": lambda path: plots.plot_confusion_matrix(
        [[3, 1], [0, 4]], ["cat", "dog"], path
    ),
    "captioned_images": lambda path: plots.plot_captioned_images(
        [[[[0, 128, 255]]]] * 3, ["a\nb", "c", "d"], path, columns=2
    ),
    "search_objective": lambda path: plots.plot_search_objective(
        TRIALS, "val_accuracy", "max", path
    ),
    "search_hyperparameters": lambda path: plots.plot_search_hyperparameters(
        TRIALS, "val_accuracy", path
    ),
    "accuracy_scatter": lambda path: plots.plot_accuracy_scatter(
        ["cnn", "gru"], [0.9, 0.8], {"parameters": [100, 5000]}, path, xlabel="n"
    ),
}


@pytest.mark.parametrize("draw", PLOTS.values(), ids=PLOTS.keys())
def test_a_plot_returns_its_figure_and_writes_no_file_without_a_path(
    draw, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    figure = draw(None)
    assert isinstance(figure, matplotlib.figure.Figure)
    assert figure.axes
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("draw", PLOTS.values(), ids=PLOTS.keys())
def test_a_plot_with_a_path_writes_a_png_file_and_returns_its_figure(draw, tmp_path):
    path = tmp_path / "plots" / "figure.png"
    figure = draw(path)
    assert isinstance(figure, matplotlib.figure.Figure)
    assert path.read_bytes().startswith(PNG_SIGNATURE)
    assert sorted(p.name for p in path.parent.iterdir()) == ["figure.png"]


def test_learning_curves_of_a_keras_history_and_of_chosen_metrics():
    history = {"loss": [1.0, 0.6, 0.5], "accuracy": [0.5, 0.7, 0.8]}
    history |= {"val_loss": [1.1, 0.9, 0.8], "learning_rate": [0.1, 0.1, 0.01]}
    figure = plots.plot_learning_curves(history)  # no "epoch": counted from 1
    assert [axis.get_title() for axis in figure.axes] == ["loss", "accuracy"]
    train, validation = figure.axes[0].lines
    assert list(train.get_xdata()) == [1, 2, 3]
    assert list(validation.get_ydata()) == history["val_loss"]
    chosen = plots.plot_learning_curves(history, metrics=["accuracy"])
    assert [axis.get_title() for axis in chosen.axes] == ["accuracy"]


def test_importing_the_plots_leaves_the_matplotlib_backend_alone():
    # A fresh interpreter: this one's matplotlib state is shared by every test.
    code = (
        "import matplotlib, matplotlib.pyplot\n"
        "matplotlib.use('svg')\n"
        "import cnnrnn.plots, cnnrnn.training\n"
        "figure = cnnrnn.plots.plot_confusion_matrix([[1]], ['a'])\n"
        "print(matplotlib.get_backend(), len(matplotlib.pyplot.get_fignums()))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == ["svg", "0"]


def test_a_figure_ending_a_cell_shows_inline_in_a_jupyter_kernel():
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell(
            "from cnnrnn import plots\n"  # no pyplot, no %matplotlib magic
            "plots.plot_confusion_matrix([[3, 1], [0, 4]], ['cat', 'dog'])"
        )
    ]
    nbclient.NotebookClient(notebook, kernel_name="python3", timeout=120).execute()
    (output,) = notebook.cells[0].outputs
    assert output.output_type == "execute_result"
    assert "image/png" in output.data


def test_history_reads_epochs_that_did_not_log_a_metric_as_nan(tmp_path):
    path = tmp_path / "history.csv"
    path.write_text("epoch,loss,val_loss\n0,1.5,NA\n1,1.2,0.9\n")
    history = plots.read_history(path)
    assert history["loss"] == [1.5, 1.2]
    assert math.isnan(history["val_loss"][0]) and history["val_loss"][1] == 0.9
