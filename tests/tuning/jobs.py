"""Search job files for tests."""

import json


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
