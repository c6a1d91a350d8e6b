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
