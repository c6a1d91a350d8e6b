"""Distributed searches: a real chief and workers on loopback, lost workers, roles."""

import contextlib
import csv
import io
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time

import grpc
import h5py
import keras_tuner
import numpy as np
import pytest
from jobs import CHEAP_CELL, review_data, write_job
from keras_tuner.src import protos
from rich.console import Console

from cnnrnn import cli, devices, runs
from cnnrnn.errors import CnnrnnError
from cnnrnn.tuning import (
    certificates,
    cluster,
    distributed,
    launch,
    results,
    run_search,
)
from cnnrnn.tuning import job as job_module

TIMEOUT = 240  # seconds for a whole distributed search; it takes about 45
TRIALS = 3  # in each search of `_job`


def _job(folder, reviews, *, retrain_best=False):
    """A three-trial search of small sentiment models (a trial takes seconds).

    The cell is fixed (`CHEAP_CELL`): what these tests check is who runs
    which trial.
    """
    return write_job(
        folder / "job.toml",
        {
            "app": "sentiment-rnn",
            "output": str(folder / "search"),
            "search": {
                "algorithm": "random",
                "max_trials": TRIALS,
                "retrain_best": retrain_best,
            },
            "training": {"epochs": 1},
            "data": review_data(reviews),
            "model": {"units": 8, "embedding_dim": 8},
            "space": {
                "units": {"values": [8, 16]},
                "embedding_dim": {"values": [8, 16]},
                "num_layers": 1,
                **CHEAP_CELL,
            },
        },
    )


@pytest.fixture
def job_file(reviews, tmp_path):
    return _job(tmp_path, reviews)


def _tune(job, *options):
    return [sys.executable, "-m", "cnnrnn.cli", "tune", str(job), *options]


def _start(command, log):
    return subprocess.Popen(
        command,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},  # every line, even if killed
    )


def _kill_all(processes):
    for process in processes:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)


def _trials(folder):
    return json.loads((folder / "trials.json").read_text())


def test_a_chief_and_two_workers_run_every_trial_exactly_once(reviews, tmp_path, certs):
    """Over TLS, with a token."""
    job = _job(tmp_path, reviews, retrain_best=True)
    address = f"127.0.0.1:{cluster.free_port()}"
    logs = {name: tmp_path / f"{name}.log" for name in ("chief", "w0", "w1")}
    processes = {}
    try:
        with contextlib.ExitStack() as files:
            for name, options in (
                ("chief", ["--role", "chief", "--oracle", address]),
                ("w0", ["--role", "worker", "--oracle", address, "--worker-id", "w0"]),
                ("w1", ["--role", "worker", "--oracle", address, "--worker-id", "w1"]),
            ):
                log = files.enter_context(open(logs[name], "w"))
                command = _tune(job, *options, "--token", "shared-secret")
                tls = ("cert", "key") if name == "chief" else ("ca",)
                processes[name] = _start([*command, *_tls(certs, *tls)], log)
            rogue_reports = _report_as_a_rogue(address, certs, logs["chief"])
            for process in processes.values():
                process.wait(timeout=TIMEOUT)
    finally:
        _kill_all(processes.values())
    output = {name: path.read_text() for name, path in logs.items()}
    assert len(rogue_reports) == 2
    assert "refused a result for trial 0 from rogue: it runs on" in output["chief"]
    for name, process in processes.items():
        assert process.returncode == 0, f"{name}:\n{output[name][-3000:]}"

    assert "Oracle listening on " + address in output["chief"]
    ran = {}
    for name in ("w0", "w1"):
        found = re.search(
            rf"worker {name}: ran \d+ trial\(s\) \(([\d, ]+)\)", output[name]
        )
        ran[name] = found.group(1).split(", ")
    assert ran["w0"] and ran["w1"], ran  # both workers ran trials
    assert sorted(ran["w0"] + ran["w1"]) == [str(i) for i in range(TRIALS)]  # once each

    search = tmp_path / "search"
    trials = _trials(search)
    assert [t["trial_id"] for t in trials] == [str(i) for i in range(TRIALS)]
    assert all(t["status"] == "COMPLETED" and t["seconds"] > 0 for t in trials)
    assert {t["trial_id"]: t["worker"] for t in trials} == {
        trial: name for name in ran for trial in ran[name]
    }
    with open(search / "trials.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == TRIALS and {row["worker"] for row in rows} == {"w0", "w1"}
    summary = runs.read_json(search / "summary.json")
    assert summary["completed"] == TRIALS
    assert all(t["score"] != 0.0 for t in trials)  # not the rogue's made-up score
    best = runs.read_json(search / "best_config.json")
    assert best["model"]["units"] == summary["best_hyperparameters"]["units"]
    assert (search / "plots" / "objective.png").stat().st_size > 0
    assert summary["best_run"] == str(search / "best")  # the best model, retrained
    assert runs.is_finished(search / "best")


@pytest.mark.slow  # a launcher, a chief and two workers; fast: the tests below
def test_a_killed_worker_leaves_its_trial_to_the_other(reviews, tmp_path):
    """`--workers 2`; worker-1 is killed in a trial, worker-0 finishes the search."""
    job = _job(tmp_path, reviews)
    launcher = subprocess.Popen(
        _tune(job, "--workers", "2", "--worker-timeout", "8"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    watchdog = threading.Timer(TIMEOUT, _kill_all, args=([launcher],))
    watchdog.start()
    lines, pids, killed = [], {}, None
    try:
        for line in launcher.stdout:
            lines.append(line)
            if found := re.match(r"\[launch\] (worker-\d): pid (\d+)", line):
                pids[found.group(1)] = int(found.group(2))
            found = re.match(r"\[worker-1\] trial (\d+):", line)
            if found and killed is None:
                killed = found.group(1)
                os.kill(pids["worker-1"], signal.SIGKILL)
                done_before = {
                    trial: score
                    for trial, score in re.findall(
                        r"\[chief\] \S+ trial (\d+) \(\S+\) -> val_loss (\S+)",
                        "".join(lines),
                    )
                }
        launcher.wait(timeout=30)
    finally:
        watchdog.cancel()
        _kill_all([launcher])
    output = "".join(lines)
    assert launcher.returncode == 0, output[-4000:]
    assert killed is not None, output[-4000:]
    assert "worker-1 exited with code -9" in output
    assert "worker worker-1 lost (silent for" in output
    assert f"trial {killed} goes back to the queue" in output

    trials = {t["trial_id"]: t for t in _trials(tmp_path / "search")}
    assert sorted(trials) == [str(i) for i in range(TRIALS)]
    assert all(t["status"] == "COMPLETED" for t in trials.values())
    assert trials[killed]["worker"] == "worker-0"  # run again by the survivor
    for trial, score in done_before.items():  # no completed trial lost
        assert trials[trial]["score"] == pytest.approx(float(score), abs=1e-4)


# The chief's bookkeeping, on a real Keras Tuner oracle in this process.


@pytest.fixture
def chief(tmp_path):
    oracle = keras_tuner.oracles.RandomSearchOracle(
        objective="val_loss", max_trials=3, seed=1, max_consecutive_failed_trials=2
    )
    oracle._set_project_dir(str(tmp_path), "project")
    space = keras_tuner.HyperParameters()
    space.Int("units", 1, 1000)
    oracle.update_space(space)
    said = []
    clock = results.TrialClock(tmp_path / "times.json")
    chief = distributed.ChiefOracle(oracle, clock, said.append, worker_timeout=30)
    chief.said = said
    return chief


def _end(oracle, trial, status="COMPLETED", loss=1.0):
    if status == "COMPLETED":
        oracle.update_trial(trial.trial_id, {"val_loss": loss})
    trial.status = status
    trial.message = None if status == "COMPLETED" else "Traceback\nValueError: boom"
    oracle.end_trial(trial)


def test_a_lost_workers_trial_goes_to_a_held_worker(chief):
    oracle = chief.oracle
    first, second = oracle.create_trial("w0"), oracle.create_trial("w1")
    assert oracle.create_trial("w0").trial_id == first.trial_id  # still its trial
    _end(oracle, first)
    third = oracle.create_trial("w0")
    _end(oracle, third)
    # The budget is spent but w1 still runs a trial that may come back: w0 waits.
    assert oracle.create_trial("w0").status == "IDLE"
    assert not chief.finished()

    chief.last_heard[second.trial_id] -= 10  # w1 still beats: nothing happens
    chief.requeue_lost_trials()
    assert "w1" in oracle.ongoing_trials
    oracle.get_trial(second.trial_id)  # a heartbeat
    chief.last_heard[second.trial_id] -= 31
    chief.requeue_lost_trials()
    assert "worker w1 lost" in chief.said[-1]

    again = oracle.create_trial("w0")
    assert again.trial_id == second.trial_id and again.status == "RUNNING"
    _end(oracle, again, loss=0.5)
    _end(oracle, second, loss=9.0)  # w1 was alive after all: its late end is ignored
    assert oracle.trials[second.trial_id].score == 0.5
    assert oracle.create_trial("w0").status == "STOPPED"
    assert chief.finished()
    times = chief.clock.records()
    assert {t: times[t]["worker"] for t in times} == {
        first.trial_id: "w0",
        second.trial_id: "w0",
        third.trial_id: "w0",
    }
    assert f"trial {second.trial_id} (w0) -> val_loss 0.5000" in chief.said


def test_too_many_failures_stop_every_worker(chief):
    oracle = chief.oracle
    for tuner_id in ("w0", "w1"):
        _end(oracle, oracle.create_trial(tuner_id), status="FAILED")
    assert chief.failure is not None
    assert oracle.create_trial("w0").status == "STOPPED"
    assert oracle.create_trial("w1").status == "STOPPED"
    assert chief.finished()
    assert any("FAILED: ValueError: boom" in line for line in chief.said)


def test_a_chief_cannot_share_its_port(chief):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(CnnrnnError, match="Cannot listen on 127.0.0.1:"):
            chief.serve("127.0.0.1", taken.getsockname()[1])


def test_a_worker_without_a_chief_says_what_to_do(monkeypatch):
    monkeypatch.setattr(distributed, "ORACLE_WAIT_SECONDS", 0.5)
    role = cluster.Role("worker", "127.0.0.1", cluster.free_port(), "w0")
    said = []
    with pytest.raises(CnnrnnError, match=r"No chief answered .* start `cnnrnn tune"):
        distributed.wait_for_chief(role, said.append)
    assert said == [f"waiting for the chief at {role.address}"]


# Roles and addresses.


def test_roles_come_from_options_or_keras_tuner_variables():
    assert cluster.resolve_role(environ={}) == cluster.Role()
    chief = cluster.resolve_role(role="chief", oracle=":8000", environ={})
    assert chief == cluster.Role("chief", "127.0.0.1", 8000)  # loopback by default
    worker = cluster.resolve_role(
        role="worker", oracle="10.0.0.5:8000", worker_id="gpu-box-3", environ={}
    )
    assert (worker.host, worker.port, worker.worker_index) == ("10.0.0.5", 8000, 3)
    environ = {
        "KERASTUNER_TUNER_ID": "tuner1",
        "KERASTUNER_ORACLE_IP": "10.0.0.5",
        "KERASTUNER_ORACLE_PORT": "9000",
    }
    assert cluster.resolve_role(environ=environ) == cluster.Role(
        "worker", "10.0.0.5", 9000, "tuner1"
    )
    environ["KERASTUNER_TUNER_ID"] = "chief"
    environ[cluster.TOKEN_VARIABLE] = "s3cret"
    chief = cluster.resolve_role(environ=environ)
    assert (chief.kind, chief.token) == ("chief", "s3cret")
    assert "s3cret" not in repr(chief)  # never printed
    default = cluster.resolve_role(role="worker", oracle="h:1", environ={})
    assert default.worker_id == f"{socket.gethostname()}-{os.getpid()}"


@pytest.mark.parametrize(
    "options, message",
    [
        ({"role": "worker"}, "needs the chief's address: pass --oracle HOST:PORT"),
        ({"role": "chief", "oracle": "h:99999"}, "Cannot read the oracle address"),
        (
            {"role": "chief", "oracle": "h:1", "worker_id": "w"},
            "the chief takes neither",
        ),
        ({"role": "worker", "oracle": "h:1", "worker_id": "my-chief"}, "reserves"),
        ({"oracle": "h:1"}, "add --role chief or --role worker"),
        ({"role": "chief", "oracle": "10.0.0.5:1"}, "pass --token SECRET"),
        ({"role": "chief", "oracle": "0.0.0.0:1"}, "or --insecure"),
    ],
)
def test_role_mistakes_are_explained(options, message):
    with pytest.raises(CnnrnnError, match=re.escape(message)):
        cluster.resolve_role(environ={}, **options)


def test_certificates_are_written_once_with_a_private_key(tmp_path):
    paths = certificates.make_certificates(tmp_path, ["chief.lan", "10.0.0.5"])
    assert paths["key"].stat().st_mode & 0o777 == 0o600
    from cryptography import x509

    chief = x509.load_pem_x509_certificate(paths["cert"].read_bytes())
    names = chief.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    assert {str(name.value) for name in names.value} == {
        "localhost", "127.0.0.1", "chief.lan", "10.0.0.5"
    }  # fmt: skip
    with pytest.raises(CnnrnnError, match="never overwritten"):
        certificates.make_certificates(tmp_path, [])


def test_tls_mistakes_are_one_line_errors(tmp_path, certs):
    not_pem = tmp_path / "chief.pem"
    not_pem.write_text("hello")
    for options, message in (
        ({"cert": certs["cert"]}, "needs both --tls-cert and --tls-key"),
        ({"cert": tmp_path / "none.pem", "key": certs["key"]}, "cannot be read"),
        ({"cert": not_pem, "key": certs["key"]}, "is not a PEM file"),
        ({"ca": certs["ca"]}, "the chief takes neither"),
    ):
        with pytest.raises(CnnrnnError, match=re.escape(message)):
            cluster.resolve_role(role="chief", oracle=":1", tls=options, environ={})
    with pytest.raises(CnnrnnError, match="a worker takes --tls-ca"):
        cluster.resolve_role(
            role="worker", oracle=":1", tls={"cert": certs["cert"]}, environ={}
        )


def test_a_chief_beyond_loopback_needs_a_token_tls_or_insecure(certs):
    tls = {"cert": certs["cert"], "key": certs["key"]}
    for options in ({"token": "s3cret"}, {"insecure": True}, {"tls": tls}):
        role = cluster.resolve_role(
            role="chief", oracle="0.0.0.0:1", environ={}, **options
        )
        assert role.kind == "chief" and role.token == options.get("token")


def _report_as_a_rogue(address, certs, chief_log):
    """A holder of the token and the CA reports a made-up perfect result for
    the first trial once a worker runs it: the status codes it gets."""
    host, port = cluster.parse_address(address)
    assert cluster.wait_for_port(host, port, timeout=TIMEOUT)
    deadline = time.monotonic() + TIMEOUT
    while "trial 0 -> " not in chief_log.read_text():
        assert time.monotonic() < deadline, "no trial started"
        time.sleep(0.2)
    return _rogue_reports_for_trial_0(address, "shared-secret", certs)


def _rogue_reports_for_trial_0(address, token, certs):
    """As the token holder "rogue", reports metrics and a made-up perfect
    result (0.0 val_loss) for trial 0: the status code of each call."""
    stub = protos.get_service_grpc().OracleStub(
        distributed.token_channel(
            address, token, certs["ca"].read_bytes(), worker_id="rogue"
        )
    )
    proto, service = protos.get_proto(), protos.get_service()
    trial = proto.Trial(
        trial_id="0", status=proto.TrialStatus.COMPLETED, score={"value": 0.0}
    )
    codes = []
    for call, request in (
        (
            stub.UpdateTrial,
            service.UpdateTrialRequest(trial_id="0", metrics={"val_loss": 0.0}),
        ),
        (stub.EndTrial, service.EndTrialRequest(trial=trial)),
    ):
        try:
            call(request, timeout=10)
            codes.append(grpc.StatusCode.OK)
        except grpc.RpcError as error:
            codes.append(error.code())
    return codes


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    """A CA and a chief certificate for loopback."""
    return certificates.make_certificates(tmp_path_factory.mktemp("certs"), [])


def _tls(certs, *names):
    """The TLS options of a chief (`cert`, `key`) or a worker (`ca`)."""
    return [arg for name in names for arg in (f"--tls-{name}", str(certs[name]))]


def _start_tls_chief(job, address, certs, log_path):
    """A chief of `job` with TLS and the token "s3cret", logging to `log_path`."""
    options = ["--role", "chief", "--oracle", address, "--token", "s3cret"]
    with open(log_path, "w") as log:
        return _start(_tune(job, *options, *_tls(certs, "cert", "key")), log)


def _attack(address, certs, tmp_path, monkeypatch):
    """A rogue client on loopback, with Keras Tuner's own stub, against a
    chief from `_start_tls_chief`: asks for a trial without TLS, without the
    token, with a wrong token and with both (as "w0", which is handed trial
    0), then, as the token holder "rogue", reports a made-up perfect result
    for trial 0; a worker with the CA of another search tries to connect.

    Returns:
        The status code of each request for a trial, by what it lacked.
    """
    ca = certs["ca"].read_bytes()
    host, port = cluster.parse_address(address)
    assert cluster.wait_for_port(host, port, timeout=TIMEOUT)
    codes = {}
    for name, token, authority in (
        ("no TLS", "s3cret", None),
        ("no token", None, ca),
        ("wrong token", "guess", ca),
        ("TLS and token", "s3cret", ca),
    ):
        stub = protos.get_service_grpc().OracleStub(
            distributed.token_channel(address, token, authority)
        )
        try:
            stub.CreateTrial(
                protos.get_service().CreateTrialRequest(tuner_id="w0"), timeout=10
            )
            codes[name] = grpc.StatusCode.OK
        except grpc.RpcError as error:
            codes[name] = error.code()
    # Trial 0 is now w0's: the token holder "rogue" cannot report for it
    # (refused, and said).
    _rogue_reports_for_trial_0(address, "s3cret", certs)
    # A worker with the CA of another search cannot open its channel.
    other = certificates.make_certificates(tmp_path / "other", [])
    worker = cluster.Role(
        "worker", host, port, "w0", token="s3cret", tls_ca=str(other["ca"])
    )
    monkeypatch.setattr(distributed, "CONNECT_SECONDS", 2)
    with pytest.raises(CnnrnnError, match="check that --tls-ca is the CA"):
        distributed.prepare_worker(object(), worker)
    return codes


def test_a_chief_with_tls_and_a_token_refuses_every_call_without_both(
    reviews, tmp_path, certs, monkeypatch
):
    """No TLS, no token and a wrong token are refused (the search gets no
    trial from them); TLS with the token is accepted, but a made-up perfect
    result for a trial handed to another worker is not. The slow test below
    finishes such a search and compares it with the same search alone."""
    address = f"127.0.0.1:{cluster.free_port()}"
    log = tmp_path / "chief.log"
    chief = _start_tls_chief(_job(tmp_path, reviews), address, certs, log)
    try:
        codes = _attack(address, certs, tmp_path, monkeypatch)
        deadline = time.monotonic() + 30
        while "refused a result for trial 0" not in log.read_text():
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.1)
    finally:
        _kill_all([chief])
    said = log.read_text()
    assert codes["no TLS"] == grpc.StatusCode.UNAVAILABLE  # no handshake
    assert codes["no token"] == codes["wrong token"] == grpc.StatusCode.UNAUTHENTICATED
    assert codes["TLS and token"] == grpc.StatusCode.OK, said[-3000:]
    assert "refused metrics for trial 0 from rogue: it runs on w0" in said
    assert "refused a result for trial 0 from rogue: it runs on w0" in said
    assert f"Oracle listening on {address} (TLS, token required;" in said
    # Said once per peer (both channels may share one connection).
    assert 1 <= said.count("no or wrong token") <= 2


@pytest.mark.slow  # two 3-trial searches, one of them a chief and a worker
def test_a_search_a_rogue_attacked_ends_as_the_same_search_alone(
    reviews, tmp_path, certs, monkeypatch
):
    """After the attack of `_attack`, the real w0 takes trial 0 back and
    finishes the search: its trials and its best model are those of the
    same search run alone, in this process."""
    job = _job(tmp_path, reviews)
    address = f"127.0.0.1:{cluster.free_port()}"
    logs = {name: tmp_path / f"{name}.log" for name in ("chief", "w0")}
    processes = [_start_tls_chief(job, address, certs, logs["chief"])]
    try:
        _attack(address, certs, tmp_path, monkeypatch)
        with open(logs["w0"], "w") as log:
            worker_options = ["--role", "worker", "--oracle", address]
            command = _tune(job, *worker_options, "--worker-id", "w0")
            processes.append(
                _start([*command, "--token", "s3cret", *_tls(certs, "ca")], log)
            )
        for process in processes:
            process.wait(timeout=TIMEOUT)
    finally:
        _kill_all(processes)
    output = {name: path.read_text() for name, path in logs.items()}
    assert "refused a result for trial 0 from rogue: it runs on w0" in output["chief"]
    for name, process in zip(logs, processes, strict=True):
        assert process.returncode == 0, f"{name}:\n{output[name][-3000:]}"
    assert "worker w0: ran 3 trial(s) (0, 1, 2)" in output["w0"]

    (tmp_path / "alone").mkdir()
    alone = _job(tmp_path / "alone", reviews)
    run_search(job_module.load_job(alone), console=Console(file=io.StringIO()))
    searches = tmp_path / "search", tmp_path / "alone" / "search"
    trials = [_trials(search) for search in searches]
    assert [_outcomes(t) for t in trials[0]] == [_outcomes(t) for t in trials[1]]
    assert all(t["status"] == "COMPLETED" and t["score"] > 0 for t in trials[0])
    summaries = [runs.read_json(search / "summary.json") for search in searches]
    for key in ("best_trial", "best_score", "best_hyperparameters"):
        assert summaries[0][key] == summaries[1][key]
    best = [
        _weights(search / "tuner" / f"trial_{summary['best_trial']}")
        for search, summary in zip(searches, summaries, strict=True)
    ]
    assert best[0].keys() == best[1].keys()
    assert all(np.array_equal(best[0][name], best[1][name]) for name in best[0])


def _outcomes(trial):
    """What a rogue's report could change in a trial of `trials.json`."""
    return trial["trial_id"], trial["hyperparameters"], trial["status"], trial["score"]


def _weights(trial_folder):
    """The arrays of a trial's checkpoint, by their path in the file."""
    arrays = {}
    with h5py.File(trial_folder / "checkpoint.weights.h5") as file:
        file.visititems(
            lambda name, item: (
                arrays.update({name: item[()]})
                if isinstance(item, h5py.Dataset)
                else None
            )
        )
    return arrays


def test_a_role_sets_keras_tuner_variables_and_restores_them(monkeypatch):
    monkeypatch.setenv("KERASTUNER_TUNER_ID", "before")
    monkeypatch.delenv("KERASTUNER_ORACLE_IP", raising=False)
    with cluster.Role("worker", "10.0.0.5", 8000, "w2").environment():
        assert os.environ["KERASTUNER_TUNER_ID"] == "w2"
        assert os.environ["KERASTUNER_ORACLE_IP"] == "10.0.0.5"
        assert os.environ["KERASTUNER_ORACLE_PORT"] == "8000"
    assert os.environ["KERASTUNER_TUNER_ID"] == "before"
    assert "KERASTUNER_ORACLE_IP" not in os.environ
    with cluster.Role().environment():  # alone: no distribution at all
        assert "KERASTUNER_TUNER_ID" not in os.environ


@pytest.mark.parametrize(
    "options, message",
    [
        (["--workers", "0"], "--workers N starts a chief and N >= 1 workers"),
        (["--workers", "2", "--role", "chief"], "drop --role, --oracle"),
        (["--role", "chief", "--oracle", ":1", "--gpus", "0"], "use it with --role"),
        (
            ["--workers", "2", "--worker-timeout", "1"],
            "--worker-timeout 1 is too short",
        ),
    ],
)
def test_cli_refuses_inconsistent_distributed_options(options, message, capsys):
    assert cli.main(["tune", "job.toml", *options]) == 1
    assert message in capsys.readouterr().err


def test_a_worker_is_pinned_to_one_gpu_by_its_number(job_file, monkeypatch, capsys):
    monkeypatch.setattr(devices, "count_nvidia_gpus", lambda: 4)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    options = ["--role", "worker", "--oracle", ":1", "--worker-id", "box-6"]
    assert cli.main(["tune", str(job_file), *options, "--dry-run"]) == 0
    assert os.environ.pop("CUDA_VISIBLE_DEVICES") == "2"  # 6 % 4
    assert "GPUs for this worker: 2" in capsys.readouterr().out


def test_an_unnumbered_worker_on_several_gpus_is_warned(job_file, monkeypatch, capsys):
    monkeypatch.setattr(devices, "count_nvidia_gpus", lambda: 2)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    options = ["--role", "worker", "--oracle", ":1", "--worker-id", "box"]
    assert cli.main(["tune", str(job_file), *options, "--dry-run"]) == 0
    assert "CUDA_VISIBLE_DEVICES" not in os.environ
    assert "This worker sees every GPU" in capsys.readouterr().out


class FakeProcess:
    """Stands for a `subprocess.Popen`: exits with `code` (None: runs on)."""

    def __init__(self, code):
        self.code = code
        self.relay = threading.Thread(target=lambda: None)
        self.relay.start()

    def poll(self):
        return self.code

    def terminate(self):
        self.code = -15

    def wait(self, timeout=None):
        return self.code


def test_the_launcher_stops_the_chief_when_every_worker_died():
    group = {"chief": FakeProcess(None), "worker-0": FakeProcess(-9)}
    said = []
    assert launch._watch(group, said.append) == 1
    assert group["chief"].code == -15
    assert "worker-0 exited with code -9" in said[0]
    assert "no worker is left: stopping the chief" in said[1]


def test_the_launcher_waits_for_the_chief_once_the_workers_are_done():
    chief = FakeProcess(None)
    chief.wait = lambda timeout=None: setattr(chief, "code", 0) or 0
    group = {"chief": chief, "worker-0": FakeProcess(0), "worker-1": FakeProcess(0)}
    assert launch._watch(group, print) == 0
