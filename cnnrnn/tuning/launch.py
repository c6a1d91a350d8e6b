"""`cnnrnn tune JOB --workers N`: a chief and N workers on this machine.

Each is a `cnnrnn tune` process of its own (as on several machines); their
output is shown line by line with a `[chief]` or `[worker-i]` prefix.
"""

import os
import secrets
import subprocess
import sys
import threading
import time

from cnnrnn.tuning import cluster

STOP_SECONDS = 10  # how long a process has to exit after SIGTERM
WORKERS_EXIT_SECONDS = 60  # how long workers have to leave once the chief is done


def launch_local(job_path, *, workers, options=(), say=print):
    """Runs a search with a chief and `workers` worker processes on this machine.

    The chief listens on a free loopback port, and requires a token made
    for this search, which only its own processes get. A worker that dies is
    reported and the others go on (its trial returns to the queue once the
    chief stops hearing from it). When the chief ends, the workers are given
    `WORKERS_EXIT_SECONDS` to leave and are then stopped. When every worker
    died, the chief is stopped (the search resumes when run again).

    Args:
        job_path: path-like. The job file.
        workers: int. How many workers to start.
        options: list of str. More `cnnrnn tune` options for every process
            (e.g. `["--output", DIR]`).
        say: callable. Prints one line.

    Returns:
        The chief's exit status (0 when the search finished).
    """
    port = cluster.free_port()
    address = f"{cluster.LOOPBACK}:{port}"
    token = secrets.token_urlsafe(32)  # no other process on this machine joins
    command = [sys.executable, "-m", "cnnrnn.cli", "tune", str(job_path), *options]
    chief_command = [*command, "--role", "chief", "--oracle", address]
    chief = _start("chief", chief_command, say, token)
    group = {"chief": chief}
    try:
        if not cluster.wait_for_port(
            cluster.LOOPBACK,
            port,
            timeout=cluster.ORACLE_WAIT_SECONDS,
            alive=lambda: chief.poll() is None,
        ):
            return _finish(group, chief.wait())
        for index in range(workers):
            name = f"worker-{index}"
            worker = [*command, "--role", "worker", "--oracle", address]
            group[name] = _start(name, [*worker, "--worker-id", name], say, token)
        return _watch(group, say)
    finally:
        _stop_all(group)


def _start(name, command, say, token):
    environment = {**os.environ, "COLUMNS": "200", "PYTHONUNBUFFERED": "1"}
    environment[cluster.TOKEN_VARIABLE] = token  # not in the command: ps shows it
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        env=environment,
    )
    process.relay = threading.Thread(
        target=_relay, args=(process, name, say), daemon=True
    )
    process.relay.start()
    say(f"[launch] {name}: pid {process.pid}")
    return process


def _relay(process, name, say):
    for line in process.stdout:
        if line.strip():
            say(f"[{name}] {line.rstrip()}")


def _watch(group, say):
    """Waits for the chief, reporting workers that die on the way."""
    chief = group["chief"]
    reported = set()
    while chief.poll() is None:
        time.sleep(0.2)
        workers = {name: p for name, p in group.items() if name != "chief"}
        for name, process in workers.items():
            code = process.poll()
            if code not in (None, 0) and name not in reported:
                reported.add(name)
                say(
                    f"[launch] {name} exited with code {code}; the others go on "
                    "(a trial it was running goes back to the queue)."
                )
        codes = [p.poll() for p in workers.values()]
        if 0 in codes and None not in codes:
            chief.wait()  # the search is over: the chief writes the results
        elif None not in codes:
            say(
                "[launch] no worker is left: stopping the chief. Run the same "
                "command again to resume the search."
            )
            _stop(chief)
            return _finish(group, 1)
    deadline = time.monotonic() + WORKERS_EXIT_SECONDS
    while time.monotonic() < deadline and any(p.poll() is None for p in group.values()):
        time.sleep(0.2)
    return _finish(group, chief.poll())


def _finish(group, code):
    _stop_all(group)
    for process in group.values():
        process.relay.join(timeout=5)
    return code


def _stop_all(group):
    for process in group.values():
        _stop(process)


def _stop(process):
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=STOP_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
