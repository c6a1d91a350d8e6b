"""Who is who in a distributed search: roles, addresses, ports.

Light on purpose (no Keras import): the `--workers N` launcher and the
command line read it before any backend starts.
"""

import contextlib
import dataclasses
import ipaddress
import os
import re
import socket
import time

from cnnrnn.errors import CnnrnnError
from cnnrnn.tuning.certificates import read_pem

ROLES = ("alone", "chief", "worker")
ENVIRONMENT = ("KERASTUNER_TUNER_ID", "KERASTUNER_ORACLE_IP", "KERASTUNER_ORACLE_PORT")
HEARTBEAT_SECONDS = 2.0  # how often a worker tells the chief its trial is alive
WORKER_TIMEOUT_SECONDS = 60.0
ORACLE_WAIT_SECONDS = 600  # how long a worker waits for an absent chief
LOOPBACK = "127.0.0.1"
TOKEN_VARIABLE = "CNNRNN_TUNE_TOKEN"  # the shared secret of a chief and its workers
_TLS_FILES = {"cert": "Certificate", "key": "Key", "ca": "CA"}


@dataclasses.dataclass(frozen=True)
class Role:
    """Where this process stands in a search.

    Args:
        kind: str. `"alone"` (a single-machine search), `"chief"` (serves the
            oracle, runs no trial) or `"worker"` (runs trials).
        host: str or None. The chief's address: where it listens, or where
            workers reach it.
        port: int or None. The chief's port.
        worker_id: str or None. A worker's name, unique in the search.
        token: str or None. The secret the chief requires on every call and
            the workers send (see `cnnrnn.tuning.distributed`).
        tls_cert, tls_key: path-like or None. The chief's TLS certificate
            and key (see `cnnrnn.tuning.certificates`).
        tls_ca: path-like or None. The CA a worker checks the chief with.
    """

    kind: str = "alone"
    host: str | None = None
    port: int | None = None
    worker_id: str | None = None
    token: str | None = dataclasses.field(default=None, repr=False)
    tls_cert: str | None = None
    tls_key: str | None = None
    tls_ca: str | None = None

    @property
    def address(self):
        return f"{self.host}:{self.port}"

    @property
    def worker_index(self):
        """The number that ends the worker's name (`worker-3` -> 3), or None."""
        found = re.search(r"(\d+)$", self.worker_id or "")
        return int(found.group(1)) if found else None

    @contextlib.contextmanager
    def environment(self):
        """Sets Keras Tuner's variables for this role; restores them after."""
        saved = {name: os.environ.get(name) for name in ENVIRONMENT}
        values = dict.fromkeys(ENVIRONMENT)
        if self.kind != "alone":
            values = {
                "KERASTUNER_TUNER_ID": "chief"
                if self.kind == "chief"
                else self.worker_id,
                "KERASTUNER_ORACLE_IP": self.host,
                "KERASTUNER_ORACLE_PORT": str(self.port),
            }
        _set_environment(values)
        try:
            yield
        finally:
            _set_environment(saved)


def _set_environment(values):
    for name, value in values.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def parse_address(text, *, default_host=LOOPBACK):
    """Reads `HOST:PORT` (or `:PORT`, or `PORT`) into `(host, port)`.

    Raises:
        CnnrnnError: when the port is not a number from 1 to 65535.
    """
    host, _, port = str(text).rpartition(":")
    host = host.strip("[]") or default_host
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise CnnrnnError(
            f"Cannot read the oracle address {text!r}: write HOST:PORT, for "
            "example --oracle 10.0.0.5:8000 (or :8000 for this machine)."
        )
    return host, int(port)


def resolve_role(
    *,
    role=None,
    oracle=None,
    worker_id=None,
    token=None,
    tls=None,
    insecure=False,
    environ=None,
):
    """The role of this process, from the command line or Keras Tuner's variables.

    Options win over the environment: `--role`, `--oracle` and `--worker-id`
    stand for `KERASTUNER_TUNER_ID` (`chief`, or a worker's name),
    `KERASTUNER_ORACLE_IP` and `KERASTUNER_ORACLE_PORT`.

    Args:
        role: str or None. `"chief"` or `"worker"`; None reads the environment.
        oracle: str or None. `HOST:PORT` of the chief.
        worker_id: str or None. A worker's unique name. Defaults to
            `<hostname>-<process id>`.
        token: str or None. The search's shared secret; None reads
            `CNNRNN_TUNE_TOKEN`.
        tls: dict or None. `cert` and `key` (a chief) or `ca` (a worker):
            paths of PEM files.
        insecure: bool. Let a chief listen beyond loopback with neither a
            token nor TLS.
        environ: mapping or None. Defaults to `os.environ`.

    Returns:
        A `Role`.

    Raises:
        CnnrnnError: for an unknown role, a missing or malformed address,
            options that only make sense for another role, or a chief that
            would listen beyond loopback with neither a token nor `insecure`.
    """
    environ = os.environ if environ is None else environ
    tuner_id = environ.get("KERASTUNER_TUNER_ID")
    if role is None and tuner_id:
        role = "chief" if "chief" in tuner_id else "worker"
        worker_id = worker_id or (None if role == "chief" else tuner_id)
    if role is None:
        if oracle or worker_id:
            raise CnnrnnError(
                "--oracle and --worker-id are for distributed searches: add "
                "--role chief or --role worker (or use --workers N on one machine)."
            )
        return Role()
    if role not in ROLES[1:]:
        raise CnnrnnError(f"Unknown role {role!r}. Expected 'chief' or 'worker'.")
    if oracle is None and environ.get("KERASTUNER_ORACLE_PORT"):
        host = environ.get("KERASTUNER_ORACLE_IP") or LOOPBACK
        oracle = f"{host}:{environ['KERASTUNER_ORACLE_PORT']}"
    if oracle is None:
        raise CnnrnnError(
            f"--role {role} needs the chief's address: pass --oracle HOST:PORT "
            "(the same on the chief and every worker)."
        )
    host, port = parse_address(oracle)
    token = token or environ.get(TOKEN_VARIABLE) or None
    tls = {name: str(path) for name, path in (tls or {}).items() if path}
    for name, path in tls.items():  # a missing or broken file: said now
        read_pem(path, _TLS_FILES[name], f"--tls-{name}")
    if role == "chief":
        if worker_id or "ca" in tls:
            raise CnnrnnError(
                "--worker-id and --tls-ca are a worker's: the chief takes neither."
            )
        if len(tls) == 1:
            raise CnnrnnError(
                "TLS on the chief needs both --tls-cert and --tls-key (`cnnrnn "
                "tune-certs DIR` writes them)."
            )
        if not (token or tls or insecure or is_loopback(host)):
            raise CnnrnnError(
                f"A chief listening on {host} would let anyone who reaches the "
                f"port join the search: pass --token SECRET (or set "
                f"{TOKEN_VARIABLE}) on the chief and every worker, and TLS "
                "(--tls-cert/--tls-key), or --insecure on a network you trust."
            )
        return Role(
            "chief", host, port, token=token, tls_cert=tls.get("cert"),
            tls_key=tls.get("key"),
        )  # fmt: skip
    if "cert" in tls or "key" in tls:
        raise CnnrnnError(
            "--tls-cert and --tls-key are the chief's: a worker takes --tls-ca."
        )
    worker_id = worker_id or f"{socket.gethostname()}-{os.getpid()}"
    if "chief" in worker_id:
        raise CnnrnnError(
            f"Worker id {worker_id!r} contains 'chief', which Keras Tuner reserves "
            "for the chief: choose another --worker-id."
        )
    return Role("worker", host, port, worker_id, token=token, tls_ca=tls.get("ca"))


def is_loopback(host):
    """Whether `host` is this machine's loopback (`localhost`, 127.x, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def free_port(host=LOOPBACK):
    """A TCP port on `host` that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def wait_for_port(host, port, *, timeout, alive=lambda: True):
    """Waits until something listens on `host:port`.

    Returns:
        True once it does; False when `alive()` turns False or after `timeout`.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and alive():
        with contextlib.suppress(OSError), socket.create_connection((host, port), 1):
            return True
        time.sleep(0.2)
    return False
