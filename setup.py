"""Puts the top-level `templates/` and `tuning/` folders into the wheel.

The project is organised around these two folders (project templates and
example search jobs); an installed package finds its copies in
`cnnrnn/_bundled/` (see `cnnrnn/bundled.py`). Symbolic links inside
`templates/` become plain copies, as wheels cannot hold links.
"""

import pathlib
import shutil

from setuptools import setup
from setuptools.command.build_py import build_py

BUNDLED = ("templates", "tuning")


class BuildWithBundled(build_py):
    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return  # an editable install reads the folders where they are
        for name in BUNDLED:
            target = pathlib.Path(self.build_lib, "cnnrnn", "_bundled", name)
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(
                name, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
            )


setup(cmdclass={"build_py": BuildWithBundled})
