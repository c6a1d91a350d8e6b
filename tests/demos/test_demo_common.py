"""The demo-data cache shared by every application (`cnnrnn.demos.common`)."""

import pytest

from cnnrnn.demos.common import demo_data_dir, ensure_demo_data
from cnnrnn.demos.plant_classifier import PLANT_CLASSES, write_plant_demo


def test_demo_data_dir_uses_cnnrnn_home_or_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CNNRNN_HOME", str(tmp_path))
    assert demo_data_dir("plant-classifier") == tmp_path / "demo" / "plant-classifier"
    monkeypatch.delenv("CNNRNN_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    expected = tmp_path / "home" / ".cache" / "cnnrnn" / "demo" / "x"
    assert demo_data_dir("x") == expected


def test_ensure_demo_data_writes_once(tmp_path, monkeypatch):
    monkeypatch.setenv("CNNRNN_HOME", str(tmp_path))
    calls = []

    def writer(path):
        calls.append(path)
        write_plant_demo(path, images_per_class=1, image_size=16)

    first = ensure_demo_data("plant-classifier", writer)
    second = ensure_demo_data("plant-classifier", writer)
    assert first == second == tmp_path / "demo" / "plant-classifier"
    assert calls == [first]
    assert len(list(first.rglob("*.png"))) == len(PLANT_CLASSES)


def test_ensure_demo_data_when_another_process_wrote_it_first(tmp_path, monkeypatch):
    """Two workers start at once: the slower one's rename fails, its data is there."""
    monkeypatch.setenv("CNNRNN_HOME", str(tmp_path))

    def racing_writer(path):
        write_plant_demo(path, images_per_class=1, image_size=16)  # the other one
        write_plant_demo(path, images_per_class=1, image_size=16)  # this one

    path = ensure_demo_data("plant-classifier", racing_writer)
    assert len(list(path.rglob("*.png"))) == len(PLANT_CLASSES)
    assert [p.name for p in path.parent.iterdir()] == ["plant-classifier"]


def test_ensure_demo_data_reports_a_real_failure(tmp_path, monkeypatch):
    monkeypatch.setenv("CNNRNN_HOME", str(tmp_path))

    def failing_writer(path):
        raise OSError("No space left on device")

    with pytest.raises(OSError, match="No space left"):
        ensure_demo_data("plant-classifier", failing_writer)
