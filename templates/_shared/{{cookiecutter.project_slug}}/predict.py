{%- set app = cookiecutter._app -%}
"""Uses a trained run of {{ cookiecutter.project_name }}.

Usage:
{%- if app == "plant-classifier" %}

    python predict.py runs/first leaf1.jpg leaf2.png
{%- elif app == "sentiment-rnn" %}

    python predict.py runs/first "What a wonderful film" "Dull and far too long"
{%- elif app == "char-generator" %}

    python predict.py runs/first "ROMEO:"         # continues the text
{%- elif app == "video-classifier" %}

    python predict.py runs/first clip1.mp4 clip2.avi
{%- elif app == "image-captioner" %}

    python predict.py runs/first photo1.jpg photo2.png
{%- endif %}
"""

import sys

from cnnrnn import cli

{%- if app == "char-generator" %}


def main(argv=None):
    run_dir, *seed = sys.argv[1:] if argv is None else list(argv)
    options = ["--seed", seed[0]] if seed else []
    return cli.main(["generate", run_dir, "--length", "200", *options])
{%- else %}

COMMAND = "{{ 'caption' if app == 'image-captioner' else 'predict' }}"


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    return cli.main([COMMAND, *argv])
{%- endif %}


if __name__ == "__main__":
    sys.exit(main())
