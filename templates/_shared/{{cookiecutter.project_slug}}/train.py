"""Trains {{ cookiecutter.project_name }}'s model as `config.toml` describes.

    python train.py                       # generated demo data (or config's source)
    python train.py --data DATA --output runs/first --epochs 5

Any `cnnrnn train` option can be added (`cnnrnn train --help`).
"""

import pathlib
import sys

from cnnrnn import cli

APP = "{{ cookiecutter._app }}"
CONFIG = pathlib.Path(__file__).with_name("config.toml")


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    return cli.main(["train", APP, "--config", str(CONFIG), *argv])


if __name__ == "__main__":
    sys.exit(main())
