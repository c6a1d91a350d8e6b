"""Checks this template's options before anything is written.

The rules live in cnnrnn (`cnnrnn.scaffold.check_options`), which the
generated project depends on anyway.
"""

import json
import sys

try:
    from cnnrnn.scaffold import check_options
except ImportError:
    sys.exit(
        "error: this template needs cnnrnn to check its options: install cnnrnn "
        "first (pip install -e path/to/cnnrnn), then generate again."
    )

OPTIONS = json.loads(r"""{{ cookiecutter | jsonify }}""")
try:
    check_options(OPTIONS["_app"], OPTIONS)
except ValueError as error:
    sys.exit(f"error: {error}")
