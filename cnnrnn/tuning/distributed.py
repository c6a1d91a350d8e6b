"""Distributed searches on Keras Tuner's own engine: a chief oracle and workers.

The chief holds the oracle and serves it over gRPC with Keras Tuner's
`OracleServicer`; workers are ordinary tuners whose oracle is Keras Tuner's
`OracleClient`, configured by `KERASTUNER_TUNER_ID`, `KERASTUNER_ORACLE_IP`
and `KERASTUNER_ORACLE_PORT`. This module adds what a long search on many
machines needs around that engine: a serving loop that ends when the search
does, heartbeats so that a trial of a worker that died goes back to the
queue, workers held (not dismissed) while such a trial may still come back,
and one line per event on the chief.

With a token (`--token`, `CNNRNN_TUNE_TOKEN`; `--workers N` makes one), every
call must carry `authorization: Bearer TOKEN` metadata: the chief refuses any
other with `UNAUTHENTICATED` (said once per peer) and the search is left as
it was; workers send it on every call. With TLS (`--tls-cert`/`--tls-key` on
the chief, `--tls-ca` on workers; see `cnnrnn.tuning.certificates`) the
channel is encrypted and workers check the chief's certificate. Workers
also name themselves on every call, and the chief takes results (metrics and
ends of trials) for a trial only from the worker it handed that trial to.
"""

import collections
import contextlib
import functools
import hmac
import threading
import time
from concurrent import futures

import grpc
import keras_tuner
from keras_tuner.src import protos
from keras_tuner.src.distribute import oracle_chief, oracle_client
from keras_tuner.src.engine.trial import Trial, TrialStatus

from cnnrnn import private_api
from cnnrnn.errors import CnnrnnError
from cnnrnn.tuning import certificates, results
from cnnrnn.tuning.cluster import (
    HEARTBEAT_SECONDS,
    ORACLE_WAIT_SECONDS,
    WORKER_TIMEOUT_SECONDS,
    wait_for_port,
)

IDLE_SECONDS = 1.0  # how long a held worker waits before asking again
WORKER_KEY = "x-cnnrnn-worker"  # the call metadata that names a worker
_caller = threading.local()  # the worker of the call a gRPC thread serves
CONNECT_SECONDS = 30  # how long a worker tries to open its channel to a listening chief


private_api.check("keras-tuner", "The distributed search")


def wait_for_chief(role, say):
    """Waits up to `ORACLE_WAIT_SECONDS` for the chief to listen.

    Raises:
        CnnrnnError: when it does not.
    """
    oracle_client.TIMEOUT = ORACLE_WAIT_SECONDS  # not Keras Tuner's hour
    if wait_for_port(role.host, role.port, timeout=1):
        return
    say(f"waiting for the chief at {role.address}")
    if not wait_for_port(role.host, role.port, timeout=ORACLE_WAIT_SECONDS):
        raise CnnrnnError(
            f"No chief answered at {role.address} for {ORACLE_WAIT_SECONDS} s: "
            "start `cnnrnn tune JOB --role chief --oracle HOST:PORT` first, and "
            "check the address and that the port is open between the machines."
        )


class ChiefOracle:
    """The oracle's side of a search: on the chief, or in a search alone.

    It wraps the oracle's `create_trial`, `end_trial` and `get_trial` (the
    calls workers make over gRPC) to time each trial, say which worker ran
    it, take heartbeats, hold idle workers while other trials run, and stop
    handing out trials after too many consecutive failures. The wrappers
    hold the oracle's own lock (`keras_tuner.synchronized` locks on the
    first argument, hence the oracle first), so gRPC threads and the
    serving loop never change the oracle at the same time.

    Args:
        oracle: `keras_tuner.Oracle`. The search's oracle (on the chief).
        clock: `cnnrnn.tuning.results.TrialClock`.
        say: callable or None. Prints one line per event; None for a search
            on one machine, where the tuner reports its own trials and the
            trials are recorded without a worker name.
        worker_timeout: float. Seconds without a heartbeat after which a
            worker is taken for lost and its trial goes back to the queue.
    """

    def __init__(
        self, oracle, clock, say=None, *, worker_timeout=WORKER_TIMEOUT_SECONDS
    ):
        self.oracle = oracle
        self.clock = clock
        self.distributed = say is not None
        self.say = say or (lambda line: None)
        self.worker_timeout = worker_timeout
        self.workers = set()
        self.assigned = {}  # trial id -> the worker running it
        self.last_heard = {}
        self.stopped = False
        self.failure = None
        self._create_trial = oracle.create_trial
        self._end_trial = oracle.end_trial
        self._get_trial = oracle.get_trial
        self._update_trial = oracle.update_trial
        for name in ("create_trial", "end_trial", "get_trial", "update_trial"):
            locked = keras_tuner.synchronized(getattr(type(self), f"_{name}_wrapped"))
            setattr(oracle, name, functools.partial(locked, oracle, self))

    @staticmethod
    def _create_trial_wrapped(oracle, self, tuner_id):
        if tuner_id not in self.workers:
            self.workers.add(tuner_id)
            self.say(f"worker {tuner_id} joined")
        if self.failure is not None:
            return self._stop(tuner_id)
        trial = self._create_trial(tuner_id)
        if trial.status == TrialStatus.STOPPED:
            others = [t for t in oracle.ongoing_trials if t != tuner_id]
            if not others:
                self.stopped = True
                return trial
            # A trial still running elsewhere may come back to the queue if
            # its worker is lost, so this worker waits instead of leaving.
            oracle.tuner_ids.add(tuner_id)
            return Trial(oracle.hyperparameters.copy(), status=TrialStatus.IDLE)
        if trial.status == TrialStatus.RUNNING:
            self.last_heard[trial.trial_id] = time.monotonic()
            if self.assigned.get(trial.trial_id) != tuner_id:
                self.assigned[trial.trial_id] = tuner_id
                worker = tuner_id if self.distributed else None
                self.clock.start(trial.trial_id, worker=worker)
                self.say(f"trial {trial.trial_id} -> {tuner_id}")
        return trial

    def _stop(self, tuner_id):
        self.stopped = True
        oracle = self.oracle
        oracle.tuner_ids.discard(tuner_id)
        return Trial(oracle.hyperparameters.copy(), status=TrialStatus.STOPPED)

    def _from_holder(self, trial_id, what):
        """Whether a report on a trial comes from the worker that holds it;
        says so when not. (It is ignored, not raised: Keras Tuner's lock
        would stay held.)"""
        caller = getattr(_caller, "worker", None)
        if not self.distributed or caller is None:  # not a gRPC call
            return True
        holder = self.assigned.get(trial_id)
        if holder == caller:
            return True
        runs_on = f"it runs on {holder}" if holder else "it is not running"
        self.say(f"refused {what} for trial {trial_id} from {caller}: {runs_on}")
        return False

    @staticmethod
    def _update_trial_wrapped(oracle, self, trial_id, metrics, step=0):
        if not self._from_holder(trial_id, "metrics"):
            return oracle.trials.get(trial_id)
        return self._update_trial(trial_id, metrics, step=step)

    @staticmethod
    def _end_trial_wrapped(oracle, self, trial):
        if trial.trial_id in oracle.end_order:  # ended by a worker taken for lost
            _forget_ongoing(oracle, trial.trial_id)
            return
        if not self._from_holder(trial.trial_id, "a result"):
            return
        self.last_heard.pop(trial.trial_id, None)
        worker = self.assigned.pop(trial.trial_id, None)
        if trial.trial_id in oracle._retry_queue:  # queued by a restarted chief
            oracle._retry_queue.remove(trial.trial_id)
        try:
            self._end_trial(trial)
        except RuntimeError as error:  # Keras Tuner's consecutive-failures limit
            self.failure = error
            _forget_ongoing(oracle, trial.trial_id)
        self.clock.stop(trial.trial_id)
        ended = oracle.trials[trial.trial_id]
        if ended.status == TrialStatus.COMPLETED:
            outcome = f"{oracle.objective.name} {ended.score:.4f}"
        else:
            outcome = f"{ended.status}: {results.last_line(ended.message)}"
        self.say(f"trial {trial.trial_id} ({worker}) -> {outcome}")

    @staticmethod
    def _get_trial_wrapped(oracle, self, trial_id):
        if trial_id in self.last_heard:  # a worker's heartbeat
            self.last_heard[trial_id] = time.monotonic()
        return self._get_trial(trial_id)

    def requeue_lost_trials(self):
        """Sends the trials of workers not heard of for `worker_timeout` back."""
        with _oracle_lock(self.oracle):
            now = time.monotonic()
            for tuner_id, trial in list(self.oracle.ongoing_trials.items()):
                silent = now - self.last_heard.get(trial.trial_id, now)
                if silent < self.worker_timeout:
                    continue
                self.oracle.ongoing_trials.pop(tuner_id)
                self.oracle.tuner_ids.discard(tuner_id)
                self.last_heard.pop(trial.trial_id)
                self.assigned.pop(trial.trial_id, None)
                self.clock.cancel(trial.trial_id)
                self.oracle._retry_queue.append(trial.trial_id)
                self.oracle.save()
                self.say(
                    f"worker {tuner_id} lost (silent for {silent:.0f} s): trial "
                    f"{trial.trial_id} goes back to the queue"
                )

    def finished(self):
        """Whether the search is over and every worker has been told so."""
        with _oracle_lock(self.oracle):
            return (
                self.stopped
                and not self.oracle.ongoing_trials
                and not self.oracle.tuner_ids
            )

    def serve(self, host, port, token=None, tls=None):
        """Serves the oracle on `host:port` until the search is over.

        Args:
            host: str. Address to listen on.
            port: int.
            token: str or None. Required on every call when given.
            tls: tuple or None. `(certificate, key)` PEM bytes: serve TLS.

        Raises:
            CnnrnnError: when the port cannot be bound.
        """
        server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=8),
            options=[("grpc.so_reuseport", 0)],  # a second chief must not share it
            interceptors=[_Guard(token, self.say)],
        )
        protos.get_service_grpc().add_OracleServicer_to_server(
            oracle_chief.OracleServicer(self.oracle), server
        )
        try:
            if tls:
                certificate, key = tls
                credentials = grpc.ssl_server_credentials([(key, certificate)])
                bound = server.add_secure_port(f"{host}:{port}", credentials)
            else:
                bound = server.add_insecure_port(f"{host}:{port}")
        except RuntimeError:
            bound = 0
        if not bound:
            raise CnnrnnError(
                f"Cannot listen on {host}:{port} (in use, or not an address of "
                "this machine): choose another --oracle HOST:PORT."
            )
        server.start()
        try:
            while not self.finished():
                time.sleep(0.5)
                self.requeue_lost_trials()
        finally:
            server.stop(grace=2)


class _Guard(grpc.ServerInterceptor):
    """Refuses every call without the search's token (when it has one),
    saying so once per peer; names the calling worker to the oracle's
    wrappers (`_caller`) for the length of the call."""

    def __init__(self, token, say):
        self.expected = token and f"Bearer {token}".encode()
        self.say = say
        self.refused = collections.Counter()
        self.refusal = grpc.unary_unary_rpc_method_handler(self._refuse)

    def intercept_service(self, continuation, details):
        metadata = dict(details.invocation_metadata)
        given = metadata.get("authorization", "").encode()
        if self.expected and not hmac.compare_digest(given, self.expected):
            return self.refusal
        handler = continuation(details)
        if handler is None or handler.unary_unary is None:
            return handler
        serve, worker = handler.unary_unary, metadata.get(WORKER_KEY)

        def serve_as_worker(request, context):
            _caller.worker = worker or "(unnamed)"
            try:
                return serve(request, context)
            finally:
                _caller.worker = None

        return handler._replace(unary_unary=serve_as_worker)

    def _refuse(self, request, context):
        peer = context.peer()
        self.refused[peer] += 1
        if self.refused[peer] == 1:
            self.say(f"refused a call from {peer}: no or wrong token")
        context.abort(
            grpc.StatusCode.UNAUTHENTICATED,
            "This search needs its token: pass the chief's --token (or set "
            "CNNRNN_TUNE_TOKEN).",
        )


class _SendIdentity(grpc.UnaryUnaryClientInterceptor):
    """Adds the worker's name, and the search's token, to every call."""

    def __init__(self, token, worker_id):
        self.metadata = ((WORKER_KEY, worker_id),) if worker_id else ()
        if token:
            self.metadata += (("authorization", f"Bearer {token}"),)

    def intercept_unary_unary(self, continuation, details, request):
        details = _CallDetails(
            details.method,
            details.timeout,
            (*(details.metadata or ()), *self.metadata),
            details.credentials,
            details.wait_for_ready,
            details.compression,
        )
        return continuation(details, request)


class _CallDetails(
    collections.namedtuple(
        "_CallDetails",
        "method timeout metadata credentials wait_for_ready compression",
    ),
    grpc.ClientCallDetails,
):
    """A call's details, with other metadata (gRPC's own class is private)."""


def token_channel(address, token, ca=None, worker_id=None):
    """A channel to `address` whose every call carries `token` and the
    worker's name; over TLS, checking the chief's certificate against `ca`
    (PEM bytes), when given."""
    if ca:
        credentials = grpc.ssl_channel_credentials(root_certificates=ca)
        channel = grpc.secure_channel(address, credentials)
    else:
        channel = grpc.insecure_channel(address)
    return grpc.intercept_channel(channel, _SendIdentity(token, worker_id))


def _oracle_lock(oracle):
    """The lock Keras Tuner's `synchronized` holds for `oracle`."""
    return keras_tuner.src.engine.oracle.LOCKS[oracle]


def _forget_ongoing(oracle, trial_id):
    for tuner_id, trial in list(oracle.ongoing_trials.items()):
        if trial.trial_id == trial_id:
            oracle.ongoing_trials.pop(tuner_id)


def prepare_worker(oracle, role):
    """Sends the token on every call; checks a worker's search space against
    the chief's; paces idle requests.

    Keras Tuner's worker loop asks again at once when the chief answers
    "idle"; this waits `IDLE_SECONDS` first.

    Args:
        oracle: the worker's `OracleClient`.
        role: the worker's `cnnrnn.tuning.cluster.Role`.

    Raises:
        CnnrnnError: when the chief refuses the token, or searches another
            space (another job).
    """
    ca = role.tls_ca and certificates.read_pem(role.tls_ca, "CA", "--tls-ca")
    channel = token_channel(role.address, role.token, ca, role.worker_id)
    try:
        grpc.channel_ready_future(channel).result(timeout=CONNECT_SECONDS)
    except grpc.FutureTimeoutError:
        raise CnnrnnError(
            f"No channel to the chief at {role.address} in {CONNECT_SECONDS} s: "
            + (
                "check that --tls-ca is the CA that signed the chief's certificate "
                "and that it names this address (`cnnrnn tune-certs --hosts`)."
                if ca
                else "if the chief uses TLS, pass its CA with --tls-ca."
            )
        ) from None
    oracle.stub = protos.get_service_grpc().OracleStub(channel)
    try:
        space = oracle.get_space()
    except grpc.RpcError as error:
        if error.code() != grpc.StatusCode.UNAUTHENTICATED:
            raise
        raise CnnrnnError(
            f"The chief at {role.address} refused this worker: pass the chief's "
            "--token (or set CNNRNN_TUNE_TOKEN)."
        ) from None
    if _space(space) != _space(oracle._oracle.get_space()):
        raise CnnrnnError(
            "The chief searches a different space than this worker's job: run "
            "every worker with the chief's job file."
        )
    create_trial = oracle.create_trial

    def create_trial_politely(tuner_id):
        trial = create_trial(tuner_id)
        if trial.status == TrialStatus.IDLE:
            time.sleep(IDLE_SECONDS)
        return trial

    oracle.create_trial = create_trial_politely


def _space(hyperparameters):
    """A space as sent over gRPC, by name (the protocol groups them by type)."""
    sent = keras_tuner.HyperParameters.from_proto(hyperparameters.to_proto())
    return {hp["config"]["name"]: hp for hp in sent.get_config()["space"]}


class Heartbeat:
    """Tells the chief every `HEARTBEAT_SECONDS` that a worker's trial is alive.

    Args:
        oracle: the worker's `OracleClient`.
        trial_id: str. The trial being run.
    """

    def __init__(self, oracle, trial_id):
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._beat, args=(oracle, trial_id), daemon=True
        )
        self._thread.start()

    def _beat(self, oracle, trial_id):
        while not self._stop.wait(HEARTBEAT_SECONDS):
            with contextlib.suppress(grpc.RpcError):
                oracle.get_trial(trial_id)

    def stop(self):
        self._stop.set()  # not joined: a beat may be waiting for an absent chief
