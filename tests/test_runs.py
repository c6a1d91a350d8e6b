import pytest

from cnnrnn import runs


def test_atomic_path_replaces_only_on_success(tmp_path):
    target = tmp_path / "metrics.json"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with runs.atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]
    runs.write_json(target, {"a": 1})
    assert runs.read_json(target) == {"a": 1}


def test_run_dir_states(tmp_path):
    config = {"app": "x", "data": {}, "model": {"depth": 2}, "training": {}}
    run_dir = tmp_path / "run"
    assert runs.check_run_dir(run_dir, config=config) == "new"
    assert not run_dir.exists()
    runs.make_run_dir(run_dir, "new")
    runs.write_json(run_dir / runs.CONFIG_FILE, config)
    assert runs.check_run_dir(run_dir, config=config) == "resume"
    other = {**config, "model": {"depth": 3}}
    with pytest.raises(runs.RunDirError, match="different configuration"):
        runs.check_run_dir(run_dir, config=other)
    (run_dir / runs.MODEL_FILE).write_text("m")
    (run_dir / runs.METRICS_FILE).write_text("{}")
    with pytest.raises(runs.RunDirError, match="--overwrite"):
        runs.check_run_dir(run_dir, config=config)
    state = runs.check_run_dir(run_dir, config=config, overwrite=True)
    assert state == "replace"
    assert runs.is_finished(run_dir)
    runs.make_run_dir(run_dir, state)
    assert list(run_dir.iterdir()) == []


def test_a_file_is_not_a_run_dir(tmp_path):
    path = tmp_path / "file"
    path.write_text("x")
    with pytest.raises(runs.RunDirError, match="is a file"):
        runs.check_run_dir(path, config={})


BROKEN_CONFIGS = {
    "truncated": ('{"app": "plant-classifier", "model": {"depth"', "not valid JSON"),
    "a list": ('["app", "model"]', "not a JSON object"),
    "no app": ('{"data": {}, "model": {}}', 'no "app"'),
    "no model": ('{"app": "plant-classifier", "data": {}}', 'no "model"'),
}


@pytest.mark.parametrize("text, message", BROKEN_CONFIGS.values(), ids=BROKEN_CONFIGS)
def test_a_broken_run_config_is_an_error_naming_the_file(tmp_path, text, message):
    config = {"app": "x", "data": {}, "model": {}, "training": {}}
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / runs.CONFIG_FILE).write_text(text)
    with pytest.raises(runs.RunDirError, match=message) as caught:
        runs.check_run_dir(run_dir, config=config)
    assert str(run_dir / runs.CONFIG_FILE) in str(caught.value)
    assert "--overwrite" in str(caught.value)
    assert runs.check_run_dir(run_dir, config=config, overwrite=True) == "replace"


def test_read_json_names_the_file_line_and_column(tmp_path):
    path = tmp_path / "results.json"
    path.write_text('{\n  "a": 1,\n  "b": \n}\n')
    with pytest.raises(runs.RunDirError, match="line 4 column 1") as caught:
        runs.read_json(path)
    assert f"'{path}' is not valid JSON" in str(caught.value)
    path.write_bytes(b"\xff\xfe{")
    with pytest.raises(runs.RunDirError, match="not valid JSON"):
        runs.read_json(path)


@pytest.mark.parametrize("text, message", BROKEN_CONFIGS.values(), ids=BROKEN_CONFIGS)
def test_loading_a_run_with_a_broken_config_is_a_one_line_cli_error(
    tmp_path, capsys, text, message
):
    from cnnrnn import cli

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / runs.MODEL_FILE).write_text("m")
    (run_dir / runs.METRICS_FILE).write_text("{}")
    (run_dir / runs.CONFIG_FILE).write_text(text)
    for command in ("evaluate", "predict"):
        argv = [command, str(run_dir)] + (["x.png"] if command == "predict" else [])
        assert cli.main(argv) == 1
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1, err
        assert message in err and str(run_dir / runs.CONFIG_FILE) in err
        assert "--overwrite" in err and "Traceback" not in err
        assert "Error:" not in err  # no exception type name: a message, not a crash


def test_a_run_without_its_config_is_an_error(tmp_path):
    from cnnrnn.training import load_run

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / runs.MODEL_FILE).write_text("m")
    (run_dir / runs.METRICS_FILE).write_text("{}")
    with pytest.raises(runs.RunDirError, match="no config.json"):
        load_run(run_dir)
