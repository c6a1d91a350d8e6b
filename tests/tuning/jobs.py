"""Search job files and data sections for tests."""

import json

# The sentiment cell's choices fixed to the cheapest to trace, for searches
# that test how trials are run rather than what they search.
CHEAP_CELL = {"rnn_type": "gru", "pooling": "last", "bidirectional": False}


def _toml(value):
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + " }"
    return json.dumps(value)


def write_job(path, table):
    """Writes a job dict as TOML (top-level keys, then one table per section)."""
    lines = [
        f"{key} = {_toml(value)}"
        for key, value in table.items()
        if not isinstance(value, dict)
    ]
    for section, values in table.items():
        if isinstance(values, dict):
            lines.append(f"[{section}]")
            lines += [f"{key} = {_toml(value)}" for key, value in values.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def review_data(reviews):
    """The data section for the tiny reviews: one batch an epoch, of one shape.

    Unbucketed, with batches larger than the 80 reviews: one batch shape for
    training and one for validation, so no step is traced again for a last,
    smaller batch.
    """
    return {"source": reviews, "batch_size": 128, "bucketing": False}
