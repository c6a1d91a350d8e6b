"""Search spaces: declarative hyperparameter specs, checked, merged and defined.

A search space maps factory argument names to specs:

- `{"min": 1e-4, "max": 1e-2, "sampling": "log"}`: a float (or, with int
  bounds, an int) range; `step` makes a float range discrete;
- `{"values": [64, 128, 256]}`: a choice; the string `"none"` stands for
  None (Keras Tuner choices cannot hold None);
- `{"boolean": true}`: True or False;
- a plain value (`"gru"`, `3`, `true`): fixed, not searched.

A job's `[space]` table is merged over an application's default space key by
key: a spec dict updates the default spec (so `{max = 1e-3}` narrows a range,
`{values = [...]}` replaces it), a plain value fixes the argument, and a name
the default space lacks adds an argument (it must be a factory argument).
Every searched argument starts from the factory's default.
"""

import numbers

from cnnrnn.errors import CnnrnnError

SAMPLINGS = ("linear", "log", "reverse_log")
_SPEC_KEYS = {"min", "max", "step", "sampling", "values", "boolean"}


def merge_space(default_space, overrides, *, known):
    """Merges a job's `[space]` table over an application's default space.

    Args:
        default_space: dict. `{argument: spec}`.
        overrides: dict. The job's `[space]` table.
        known: collection of str. The factory's argument names.

    Returns:
        The merged space, `{argument: spec or fixed value}`.

    Raises:
        CnnrnnError: for an unknown argument or a malformed spec.
    """
    space = {name: dict(spec) for name, spec in default_space.items()}
    for name, value in overrides.items():
        if name not in known:
            raise CnnrnnError(
                f"Unknown hyperparameter '{name}' in [space]: it must be a factory "
                f"argument, one of {', '.join(sorted(known))}."
            )
        if isinstance(value, dict):
            unknown = set(value) - _SPEC_KEYS
            if unknown:
                raise CnnrnnError(
                    f"[space] {name}: unknown key(s) {', '.join(sorted(unknown))}. "
                    "Expected min/max (with step, sampling), values, or boolean."
                )
            spec = dict(space.get(name, {}))
            if "values" in value or "boolean" in value:
                spec = {}  # a choice replaces a range, and the reverse
            elif {"min", "max"} & set(value):
                spec.pop("values", None)
                spec.pop("boolean", None)
            spec.update(value)
            space[name] = spec
        else:
            space[name] = value
    for name, spec in space.items():
        check_spec(name, spec)
    return space


def check_spec(name, spec):
    """Raises `CnnrnnError` unless `spec` is a valid spec or a fixed value."""
    if isinstance(spec, list):
        raise CnnrnnError(
            f"[space] {name} = {spec!r} is a list: write {name} = {{ values = "
            f"{spec!r} }} to search among them, or one value to fix it."
        )
    if not isinstance(spec, dict):
        return
    if "values" in spec:
        values = spec["values"]
        if not isinstance(values, list) or not values:
            raise CnnrnnError(
                f"[space] {name}: values must be a non-empty list, e.g. "
                "values = [64, 128]."
            )
        kinds = {_kind(to_choice(value)) for value in values}
        if len(kinds) > 1:
            mixed = ", ".join(sorted(kinds))
            raise CnnrnnError(
                f"[space] {name}: values {values!r} mix kinds ({mixed}): Keras "
                "Tuner choices hold one kind, so use numbers only, or "
                'strings only ("none" is a string).'
            )
        return
    if "boolean" in spec:
        return
    low, high = spec.get("min"), spec.get("max")
    if not all(_is_number(bound) for bound in (low, high)) or low > high:
        raise CnnrnnError(
            f"[space] {name}: expected numbers min <= max (or values = [...]). "
            f"Received: min={low!r}, max={high!r}."
        )
    sampling = spec.get("sampling", "linear")
    if sampling not in SAMPLINGS:
        raise CnnrnnError(
            f"[space] {name}: sampling={sampling!r}. Expected one of "
            f"{', '.join(SAMPLINGS)}."
        )
    if sampling != "linear" and low <= 0:
        raise CnnrnnError(
            f"[space] {name}: sampling={sampling!r} needs min > 0. "
            f"Received: min={low!r}."
        )
    step = spec.get("step")
    if step is not None:
        smallest = 1 if sampling != "linear" else 0
        integers = all(isinstance(v, int) for v in (low, high))
        if (
            not _is_number(step)
            or step <= smallest
            or (integers and not isinstance(step, int))
        ):
            kind = "an integer" if integers else "a number"
            raise CnnrnnError(
                f"[space] {name}: step={step!r}. Expected {kind} > {smallest}"
                + (" (a factor, with log sampling)." if smallest else ".")
            )


def check_default(name, spec, default):
    """Raises `CnnrnnError` unless `default` lies in `spec`'s range or choices.

    The first trial is the plain template, so every searched argument's
    default must be one of its values.
    """
    if not isinstance(spec, dict) or "boolean" in spec:
        return
    if "values" in spec:
        if to_choice(default) not in _choices(spec):
            raise CnnrnnError(
                f"[space] {name}: the default {default!r} is not among values "
                f"{_choices(spec)}: add it, or set {name} in [model] to one of them."
            )
        return
    low, high = spec["min"], spec["max"]
    if not (_is_number(default) and low <= default <= high):
        raise CnnrnnError(
            f"[space] {name}: the default {default!r} is outside [{low}, {high}]: "
            f"widen the range, or set {name} in [model] inside it."
        )


def define(hp, name, spec, default):
    """Declares one hyperparameter on `hp` and returns its value for this trial.

    Args:
        hp: `keras_tuner.HyperParameters`.
        name: str. The factory argument.
        spec: dict spec, or a fixed value.
        default: the factory's default, so that the first trial is the plain
            template. It must lie in the spec's range or choices.

    Returns:
        The value for the factory (`"none"` read as None).
    """
    check_default(name, spec, default)
    if not isinstance(spec, dict):
        return from_choice(hp.Fixed(name, to_choice(spec)))
    if "values" in spec:
        return from_choice(hp.Choice(name, _choices(spec), default=to_choice(default)))
    if "boolean" in spec:
        return hp.Boolean(name, default=bool(default))
    low, high = spec["min"], spec["max"]
    sampling = spec.get("sampling", "linear")
    if all(isinstance(v, int) for v in (low, high, default)) and not isinstance(
        spec.get("step", 1), float
    ):
        return hp.Int(
            name, low, high, step=spec.get("step"), sampling=sampling, default=default
        )
    return hp.Float(
        name, low, high, step=spec.get("step"), sampling=sampling, default=default
    )


def _choices(spec):
    """A choice spec's values as Keras Tuner takes them: None as `"none"`, and
    all floats if any is (one kind)."""
    values = [to_choice(value) for value in spec["values"]]
    if any(isinstance(value, float) for value in values):
        values = [float(value) for value in values]
    return values


def describe(spec):
    """A short text for a spec, for `--dry-run` tables."""
    if not isinstance(spec, dict):
        return f"fixed: {spec!r}"
    if "values" in spec:
        return "one of " + ", ".join(repr(value) for value in spec["values"])
    if "boolean" in spec:
        return "True or False"
    text = f"{spec['min']} .. {spec['max']}"
    if spec.get("step"):
        text += f" step {spec['step']}"
    return text + f" ({spec.get('sampling', 'linear')})"


def to_choice(value):
    """None as the string `"none"`: Keras Tuner values cannot be None."""
    return "none" if value is None else value


def from_choice(value):
    return None if value == "none" else value


def _kind(value):
    return "numbers" if _is_number(value) else type(value).__name__


def _is_number(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool)
