import keras_tuner
import pytest
from keras_tuner.engine import hyperparameters as hp_types

from cnnrnn.errors import CnnrnnError
from cnnrnn.tuning.space import (
    check_spec,
    define,
    describe,
    from_choice,
    merge_space,
    to_choice,
)

DEFAULT_SPACE = {
    "learning_rate": {"min": 1e-4, "max": 1e-2, "sampling": "log"},
    "dropout": {"min": 0.0, "max": 0.5, "step": 0.1},
    "units": {"values": [32, 64, 128]},
    "bidirectional": {"boolean": True},
}
KNOWN = {*DEFAULT_SPACE, "rnn_type", "recurrent_dropout", "max_length"}


def merge(overrides):
    return merge_space(DEFAULT_SPACE, overrides, known=KNOWN)


def test_no_overrides_keeps_the_default_space_as_a_copy():
    space = merge({})
    assert space == DEFAULT_SPACE
    space["units"]["values"].append(256)
    space["learning_rate"]["max"] = 1.0
    assert DEFAULT_SPACE["learning_rate"]["max"] == 1e-2


def test_a_bound_narrows_a_range_and_keeps_min_and_sampling():
    space = merge({"learning_rate": {"max": 1e-3}})
    assert space["learning_rate"] == {"min": 1e-4, "max": 1e-3, "sampling": "log"}
    assert space["dropout"] == DEFAULT_SPACE["dropout"]


def test_sampling_alone_updates_a_range():
    space = merge({"learning_rate": {"sampling": "linear"}})
    assert space["learning_rate"] == {"min": 1e-4, "max": 1e-2, "sampling": "linear"}


def test_values_replace_a_range():
    space = merge({"learning_rate": {"values": [1e-3, 3e-3]}})
    assert space["learning_rate"] == {"values": [1e-3, 3e-3]}


def test_a_range_replaces_values():
    space = merge({"units": {"min": 16, "max": 64}})
    assert space["units"] == {"min": 16, "max": 64}


def test_boolean_replaces_a_spec():
    assert merge({"units": {"boolean": True}})["units"] == {"boolean": True}


def test_a_plain_value_fixes_an_argument():
    space = merge({"units": 64, "bidirectional": False, "rnn_type": "gru"})
    assert space["units"] == 64
    assert space["bidirectional"] is False
    assert space["rnn_type"] == "gru"


def test_a_known_argument_can_be_added():
    space = merge({"recurrent_dropout": {"values": [0.0, 0.2]}})
    assert space["recurrent_dropout"] == {"values": [0.0, 0.2]}
    assert set(space) == {*DEFAULT_SPACE, "recurrent_dropout"}


def test_an_unknown_argument_is_named_with_the_known_ones():
    with pytest.raises(CnnrnnError, match="Unknown hyperparameter 'unit'") as info:
        merge({"unit": {"values": [32]}})
    for name in KNOWN:
        assert name in str(info.value)


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"learning_rate": {"min": 1e-2, "max": 1e-3}}, "min <= max"),
        ({"units": {"max": 64}}, "min <= max"),  # a bound alone drops the values
        ({"dropout": {"min": "low"}}, "min <= max"),
        ({"units": {"values": []}}, "non-empty list"),
        ({"units": {"values": 64}}, "non-empty list"),
        ({"dropout": {"min": 0.0, "max": 0.5, "sampling": "log"}}, "needs min > 0"),
        ({"dropout": {"min": -1.0, "max": 0.5, "sampling": "reverse_log"}}, "min > 0"),
        ({"dropout": {"sampling": "exp"}}, "sampling='exp'"),
        ({"units": {"maximum": 64}}, "unknown key"),
        ({"recurrent_dropout": {"max": 0.5}}, "min <= max"),
    ],
)
def test_malformed_specs_raise(overrides, message):
    with pytest.raises(CnnrnnError, match=message):
        merge(overrides)


def test_unknown_keys_are_named():
    with pytest.raises(CnnrnnError, match="maximum, minimum"):
        merge({"units": {"minimum": 16, "maximum": 64}})


def test_check_spec_accepts_fixed_values_and_good_specs():
    for spec in ("gru", 3, True, None, *DEFAULT_SPACE.values()):
        check_spec("x", spec)


def test_define_a_fixed_value():
    hp = keras_tuner.HyperParameters()
    assert define(hp, "rnn_type", "gru", "lstm") == "gru"
    assert isinstance(hp.space[0], hp_types.Fixed)
    assert hp.values == {"rnn_type": "gru"}


def test_define_a_fixed_none():
    hp = keras_tuner.HyperParameters()
    assert define(hp, "max_length", None, 50) is None
    assert hp.values == {"max_length": "none"}


def test_define_a_choice_starts_from_the_default():
    hp = keras_tuner.HyperParameters()
    assert define(hp, "units", {"values": [32, 64, 128]}, 64) == 64
    (declared,) = hp.space
    assert isinstance(declared, hp_types.Choice)
    assert declared.values == [32, 64, 128]
    assert declared.default == 64


def test_define_returns_the_trial_value():
    spec = {"values": [32, 64, 128]}
    hp = keras_tuner.HyperParameters()
    define(hp, "units", spec, 64)
    hp.values["units"] = 128
    assert define(hp, "units", spec, 64) == 128


def test_define_a_choice_with_none():
    spec = {"values": ["bahdanau", "luong", "none"]}
    hp = keras_tuner.HyperParameters()
    assert define(hp, "attention", spec, None) is None
    assert hp.space[0].default == "none"
    assert hp.values == {"attention": "none"}
    hp.values["attention"] = "luong"
    assert define(hp, "attention", spec, None) == "luong"


def test_define_an_int_range():
    hp = keras_tuner.HyperParameters()
    assert define(hp, "num_layers", {"min": 1, "max": 3}, 2) == 2
    (declared,) = hp.space
    assert isinstance(declared, hp_types.Int)
    assert (declared.min_value, declared.max_value, declared.default) == (1, 3, 2)


def test_define_a_float_range():
    hp = keras_tuner.HyperParameters()
    spec = {"min": 1e-4, "max": 1e-2, "sampling": "log"}
    assert define(hp, "learning_rate", spec, 1e-3) == 1e-3
    (declared,) = hp.space
    assert isinstance(declared, hp_types.Float)
    assert declared.sampling == "log"
    assert declared.default == 1e-3


def test_define_a_stepped_float_range():
    hp = keras_tuner.HyperParameters()
    assert define(hp, "dropout", {"min": 0.0, "max": 0.5, "step": 0.1}, 0.2) == 0.2
    assert isinstance(hp.space[0], hp_types.Float)
    assert hp.space[0].step == 0.1


def test_int_bounds_with_a_float_default_or_step_are_a_float_range():
    hp = keras_tuner.HyperParameters()
    define(hp, "dropout", {"min": 0, "max": 1}, 0.5)
    define(hp, "rate", {"min": 0, "max": 1, "step": 0.25}, 0)
    assert all(isinstance(declared, hp_types.Float) for declared in hp.space)


def test_define_a_boolean():
    hp = keras_tuner.HyperParameters()
    assert define(hp, "bidirectional", {"boolean": True}, True) is True
    assert isinstance(hp.space[0], hp_types.Boolean)
    assert hp.space[0].default is True
    assert define(hp, "augment", {"boolean": True}, False) is False


@pytest.mark.parametrize(
    "spec, default, message",
    [
        ({"values": [32, 128]}, 64, "default 64 is not among values"),
        ({"values": ["bahdanau", "luong"]}, None, "default None is not among"),
        ({"min": 1e-4, "max": 5e-4, "sampling": "log"}, 1e-3, "outside"),
        ({"min": 2, "max": 4}, 1, "outside"),
        ({"min": 1, "max": 100}, None, "outside"),
        ({"min": 1, "max": 100}, "64", "outside"),
    ],
)
def test_a_default_outside_the_spec_raises(spec, default, message):
    with pytest.raises(CnnrnnError, match=message):
        define(keras_tuner.HyperParameters(), "x", spec, default)


def test_none_is_written_as_the_string_none():
    assert to_choice(None) == "none"
    assert from_choice("none") is None
    for value in ("gru", 0, 0.0, False, 64):
        assert to_choice(value) == value
        assert from_choice(value) == value


@pytest.mark.parametrize(
    "spec, text",
    [
        ("gru", "fixed: 'gru'"),
        (3, "fixed: 3"),
        ({"values": [32, 64]}, "one of 32, 64"),
        ({"values": ["lstm", "gru"]}, "one of 'lstm', 'gru'"),
        ({"boolean": True}, "True or False"),
        ({"min": 1e-4, "max": 1e-2, "sampling": "log"}, "0.0001 .. 0.01 (log)"),
        ({"min": 1, "max": 3}, "1 .. 3 (linear)"),
        ({"min": 0.0, "max": 0.5, "step": 0.1}, "0.0 .. 0.5 step 0.1 (linear)"),
    ],
)
def test_describe(spec, text):
    assert describe(spec) == text


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ([32, 64], r"is a list: write units = \{ values"),
        ({"values": ["none", 40]}, "mix kinds"),
        ({"min": 1, "max": 8, "step": 0}, "step=0. Expected an integer > 0"),
        ({"min": 1, "max": 8, "step": 0.5}, "Expected an integer > 0"),
        ({"min": 1e-4, "max": 1e-2, "sampling": "log", "step": 0.5}, "> 1"),
    ],
)
def test_specs_keras_tuner_would_refuse_late_are_refused_early(spec, message):
    with pytest.raises(CnnrnnError, match=message):
        check_spec("units", spec)


def test_mixed_int_and_float_choices_become_floats():
    hp = keras_tuner.HyperParameters()
    assert define(hp, "weight_decay", {"values": [0, 1e-4]}, 0) == 0.0
    assert hp.values == {"weight_decay": 0.0}
