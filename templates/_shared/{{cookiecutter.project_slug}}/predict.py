"""Uses a trained run of {{ cookiecutter.project_name }}.

Usage:

    python predict.py {{ cookiecutter._predict_usage }}
"""

import sys

from cnnrnn import cli

{%- if cookiecutter._predict_command == "generate" %}


def main(argv=None):
    run_dir, *rest = sys.argv[1:] if argv is None else list(argv)
    seed = ["--seed", rest.pop(0)] if rest and not rest[0].startswith("-") else []
    return cli.main(["generate", run_dir, "--length", "200", *seed, *rest])
{%- else %}

COMMAND = "{{ cookiecutter._predict_command }}"


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    return cli.main([COMMAND, *argv])
{%- endif %}


if __name__ == "__main__":
    sys.exit(main())
