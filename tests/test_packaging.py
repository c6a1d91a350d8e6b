"""The package as users install it (`pip install .`, not `-e`): the wheel
carries the project templates and the example search jobs."""

import pathlib
import subprocess
import sys
import sysconfig
import zipfile

import pytest

from cnnrnn.apps import APPS

ROOT = pathlib.Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    """The wheel `pip wheel .` builds from this checkout."""
    output = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "-q", "-w", str(output), str(ROOT)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    (path,) = output.glob("cnnrnn-*.whl")
    return path


def files_under(folder):
    """Every file under `folder`, following its symbolic links."""
    return {
        path.relative_to(folder).as_posix()
        for path in folder.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }


def test_the_wheel_carries_every_template_and_example_job(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for folder in ("templates", "tuning"):
        expected = {
            f"cnnrnn/_bundled/{folder}/{name}" for name in files_under(ROOT / folder)
        }
        assert expected <= names, sorted(expected - names)[:5]
    for app_name in APPS:  # each template is whole without links
        template = f"cnnrnn/_bundled/templates/{app_name}"
        parts = ("cookiecutter.json", "hooks/pre_gen_project.py",
                 f"templates/apps/{app_name}/model.toml",
                 "{{cookiecutter.project_slug}}/tests/test_project.py")  # fmt: skip
        for part in parts:
            assert f"{template}/{part}" in names, part


@pytest.mark.slow  # each generated project's tests start TensorFlow and train
def test_an_installed_wheel_makes_projects_whose_tests_pass(wheel, tmp_path):
    """`pip install cnnrnn-*.whl` in a fresh virtual environment (the
    dependencies come from this one), `cnnrnn new APP`, the project's tests."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    dependencies = {sysconfig.get_path("purelib"), sysconfig.get_path("platlib")}
    pathlib.Path(site, "dependencies.pth").write_text("\n".join(dependencies))
    subprocess.run(
        [python, "-m", "pip", "install", "-q", "--no-deps", "--no-index", wheel],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    located = subprocess.run(
        [python, "-c", "import cnnrnn; print(cnnrnn.__file__)"],
        check=True, capture_output=True, text=True, cwd=tmp_path,
    ).stdout  # fmt: skip
    assert located.startswith(site), located  # the wheel, not this checkout
    for app_name in sorted(APPS):
        project = tmp_path / app_name
        subprocess.run(
            [venv / "bin" / "cnnrnn", "new", app_name, project, "--no-input"],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip
        tests = subprocess.run(
            [python, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
            cwd=project, capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        assert tests.returncode == 0, tests.stdout[-3000:]
        assert "5 passed" in tests.stdout
