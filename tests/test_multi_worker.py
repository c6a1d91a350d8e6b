"""Multi-worker training: two real `cnnrnn train` processes on 127.0.0.1 (TF_CONFIG)."""

import csv
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import types

import pytest
import tensorflow as tf

from cnnrnn import cli, devices, multi_worker, runs, training
from cnnrnn.demos.plant_classifier import write_plant_demo
from cnnrnn.errors import CnnrnnError

TINY = """
[data]
image_size = [32, 32]
batch_size = 16

[model]
depth = 1
base_filters = 4

[training]
early_stopping_patience = 10
"""
FINGERPRINT = re.compile(
    r"multi-worker: worker (\d) of 2 finished; weights sha256 (\w+)"
)


@pytest.fixture(scope="module")
def plants(tmp_path_factory):
    return write_plant_demo(
        tmp_path_factory.mktemp("data") / "plants", images_per_class=16, image_size=32
    )


@pytest.fixture
def train_argv(plants, tmp_path):
    config = tmp_path / "tiny.toml"
    config.write_text(TINY)
    return [
        "train", "plant-classifier", "--data", str(plants), "--config", str(config),
        "--output", str(tmp_path / "run"), "--strategy", "multi_worker",
    ]  # fmt: skip


def free_ports(count):
    """Ports nothing listens on now (the OS picks them; a tiny race remains)."""
    sockets = [socket.socket() for _ in range(count)]
    for sock in sockets:
        sock.bind(("127.0.0.1", 0))
    ports = [sock.getsockname()[1] for sock in sockets]
    for sock in sockets:
        sock.close()
    return ports


class Cluster:
    """Two `python -m cnnrnn.cli` workers; their output goes to files in `folder`."""

    def __init__(self, argv, folder, name):
        workers = [f"127.0.0.1:{port}" for port in free_ports(2)]
        self.logs = [folder / f"{name}-worker-{index}.log" for index in range(2)]
        self.processes = []
        for index, log in enumerate(self.logs):
            task = {"type": "worker", "index": index}
            env = {
                **os.environ,
                "TF_CPP_MIN_LOG_LEVEL": "3",
                "COLUMNS": "200",
                "TF_CONFIG": json.dumps({"cluster": {"worker": workers}, "task": task}),
            }
            with open(log, "w") as out:
                self.processes.append(
                    subprocess.Popen(
                        [sys.executable, "-m", "cnnrnn.cli", *argv],
                        stdout=out,
                        stderr=subprocess.STDOUT,
                        env=env,
                    )
                )

    def outputs(self):
        return [log.read_text() for log in self.logs]

    def report(self):
        return "\n".join(
            f"--- worker {i} (exit {p.returncode}):\n{out}"
            for i, (p, out) in enumerate(
                zip(self.processes, self.outputs(), strict=True)
            )
        )

    def kill(self):
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
        for process in self.processes:
            process.wait()

    def wait(self, timeout):
        """Waits for both workers; kills both and fails the test on timeout."""
        deadline = time.monotonic() + timeout
        try:
            for process in self.processes:
                process.wait(timeout=max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(f"the workers ran past {timeout} s\n{self.report()}")
        return [process.returncode for process in self.processes]

    def run(self, timeout):
        codes = self.wait(timeout)
        assert codes == [0, 0], self.report()
        return self.outputs()


def fingerprints(outputs):
    """`{worker index: weights fingerprint}` from the workers' final lines."""
    return {
        int(index): digest
        for output in outputs
        for index, digest in FINGERPRINT.findall(output)
    }


def history_epochs(run_dir):
    with open(run_dir / runs.HISTORY_FILE, newline="") as handle:
        return [int(row["epoch"]) for row in csv.DictReader(handle)]


def assert_complete_and_identical(run_dir, outputs):
    """The chief's run is complete, the scratch run gone, the weights equal."""
    for name in ("model.keras", "config.json", "metrics.json", "history.csv"):
        assert (run_dir / name).is_file(), name
    assert not (run_dir / runs.CHECKPOINT_DIR).exists()
    assert not runs.worker_run_dir(run_dir, "worker", 1).exists()
    _, _, model = training.load_run(run_dir)
    saved = training.weights_fingerprint(model)[:16]
    assert fingerprints(outputs) == {0: saved, 1: saved}


def test_two_workers_train_one_run_with_identical_weights(train_argv, tmp_path):
    cluster = Cluster([*train_argv, "--epochs", "2"], tmp_path, "train")
    outputs = cluster.run(timeout=150)
    run_dir = tmp_path / "run"
    assert "multi-worker: worker 0 of 2 (writes to" in outputs[0]
    assert "multi-worker: worker 1 of 2 (writes to" in outputs[1]
    assert_complete_and_identical(run_dir, outputs)
    config = runs.read_json(run_dir / runs.CONFIG_FILE)
    assert config["devices"]["strategy"] == "multi_worker"
    metrics = runs.read_json(run_dir / runs.METRICS_FILE)
    assert metrics["epochs"] == 2
    assert history_epochs(run_dir) == [0, 1]


def start_and_kill_after(argv, folder, run_dir, epochs):
    """Starts a cluster and kills it once both workers have finished `epochs`."""
    cluster = Cluster(argv, folder, "killed")
    histories = [run_dir, runs.worker_run_dir(run_dir, "worker", 1)]
    deadline = time.monotonic() + 120
    while not all(
        (h / runs.HISTORY_FILE).exists() and len(history_epochs(h)) >= epochs
        for h in histories
    ):
        if time.monotonic() > deadline or any(
            p.poll() is not None for p in cluster.processes
        ):
            cluster.kill()
            pytest.fail(f"no epoch {epochs} before the kill\n{cluster.report()}")
        time.sleep(0.05)
    cluster.kill()
    return [history_epochs(h) for h in histories]


@pytest.mark.slow  # fast: test_training.py::test_interrupted_training_resumes_...
def test_a_killed_cluster_resumes_on_every_worker(train_argv, tmp_path):
    argv = [*train_argv, "--epochs", "6"]
    run_dir = tmp_path / "run"
    killed_at = start_and_kill_after(argv, tmp_path, run_dir, epochs=2)
    assert killed_at[0] == killed_at[1] and len(killed_at[0]) < 6

    outputs = Cluster(argv, tmp_path, "resumed").run(timeout=150)
    assert all("Resuming the interrupted run" in output for output in outputs)
    assert history_epochs(run_dir) == list(range(6))
    assert_complete_and_identical(run_dir, outputs)


@pytest.mark.slow  # fast: test_workers_resume_only_from_the_same_epoch
def test_workers_at_different_epochs_refuse_to_resume(train_argv, tmp_path):
    argv = [*train_argv, "--epochs", "6"]
    run_dir = tmp_path / "run"
    start_and_kill_after(argv, tmp_path, run_dir, epochs=1)
    shutil.rmtree(runs.worker_run_dir(run_dir, "worker", 1))  # worker 1 starts anew

    cluster = Cluster(argv, tmp_path, "mismatched")
    assert cluster.wait(timeout=120) == [1, 1], cluster.report()
    for output in cluster.outputs():
        assert "different points of this run" in output, cluster.report()


class TwoWorkers:
    """A strategy of two workers whose other worker has run `other` epochs."""

    def __init__(self, other):
        self.other = tf.constant([[other, 0]])

    def run(self, function):
        return function()

    def gather(self, value, axis):
        return tf.concat([value, self.other], axis=axis)


@pytest.mark.parametrize("other, refused", [(2, False), (1, True)])
def test_workers_resume_only_from_the_same_epoch(other, refused, tmp_path):
    """Fast check of the refusal above: this worker has finished 2 epochs."""
    fit = types.SimpleNamespace(
        epochs_done=lambda: 2, phase_one_done=tmp_path / "phase_one_done.json"
    )
    if refused:
        with pytest.raises(CnnrnnError, match=r"different points .*epochs: 1, 2\)"):
            multi_worker.check_same_progress(TwoWorkers(other), fit)
    else:
        multi_worker.check_same_progress(TwoWorkers(other), fit)


def fake_strategy(task_type, task_id, cluster):
    resolver = types.SimpleNamespace(
        task_type=task_type,
        task_id=task_id,
        cluster_spec=lambda: tf.train.ClusterSpec(cluster),
    )
    return types.SimpleNamespace(cluster_resolver=resolver)


@pytest.mark.parametrize(
    "task_type, task_id, cluster, expected",
    [
        ("worker", 0, {"worker": ["a:1", "b:1"]}, ("worker", 0, 2, True)),
        ("worker", 1, {"worker": ["a:1", "b:1"]}, ("worker", 1, 2, False)),
        ("chief", 0, {"chief": ["c:1"], "worker": ["a:1"]}, ("chief", 0, 2, True)),
        ("worker", 0, {"chief": ["c:1"], "worker": ["a:1"]}, ("worker", 0, 2, False)),
        (None, None, {}, ("worker", 0, 1, True)),
    ],
    ids=["worker-0", "worker-1", "chief", "worker-0-beside-chief", "no-cluster"],
)
def test_worker_role_from_the_cluster_resolver(task_type, task_id, cluster, expected):
    role = devices.worker_role(fake_strategy(task_type, task_id, cluster))
    assert (role.task_type, role.task_id, role.num_workers, role.is_chief) == expected


def test_a_process_outside_any_cluster_is_the_chief():
    assert devices.worker_role(None) == devices.WorkerRole()
    assert devices.worker_role(tf.distribute.get_strategy()).is_chief


def test_worker_run_dir_is_beside_the_run(tmp_path):
    scratch = runs.worker_run_dir(tmp_path / "runs" / "plant", "worker", 1)
    assert scratch == tmp_path / "runs" / "plant.worker-1"


def test_multi_worker_training_needs_an_output_folder(monkeypatch, capsys):
    cluster = {"worker": ["127.0.0.1:1", "127.0.0.1:2"]}
    task = {"type": "worker", "index": 0}
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": cluster, "task": task}))
    assert cli.main(["train", "plant-classifier"]) == 1
    assert "needs --output: pass the same --output DIR" in capsys.readouterr().err
