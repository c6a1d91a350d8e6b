"""`cnnrnn serve` under concurrent clients: dynamic batching against none.

For the plant classifier (one PNG image per request, a multipart upload) and
the sentiment classifier (one text per request, JSON), in one run, starts a
server on 127.0.0.1 with `--max-batch-size 32` (`batched`: concurrent
requests share a model call) and then one with `--max-batch-size 1`
(`unbatched`: one model call per request), and loads each from this process
(`aiohttp`, one connection per client) with 1, 8 and 32 concurrent
clients. Each client sends one request, waits for its answer and sends the
next. (With `httpx`'s client, tried first, the load generator itself was
the limit: about 400 sentiment requests/s at 32 clients against 2,770 with
`aiohttp`, on the same server.)

Per server and concurrency: a warm-up phase (`--warm-up-seconds`, not
counted), then `--repeats` measured phases, each bounded by `--seconds` and
by `--max-requests`. Reported: requests/s (answers with status 200 per
second; the median of the repeats), p50 and p99 latency of those answers
(the latencies of all repeats pooled), failed requests (a status other than
200, or no answer) and wrong ones (a 200 whose probability for the expected
class is more than 0.001 away from what the same server answered for that
input alone, before the load: an answer of another input of the batch).
Also the throughput ratio batched/unbatched; for the batched server, the
sizes of the model calls made while measuring (`GET /v1/model`); the load
generator's own CPU per request (it shares the machine's cores with the
server); and the model call alone, in batches of 1 and 32 in a fresh
process (`model_only`): the most batching can give where nothing else
costs. The done-when check: at 32 clients, a ratio of at least 3 for both
applications and a batched p99 under 1000 ms; no failed or wrong request in
the whole run (warm-ups included).

The clients share the machine with the server, so figures from a busy or
small machine mean little.

Usage:
    python benchmarks/serving.py [--plant-run RUN_DIR] [--sentiment-run RUN_DIR]
        [--concurrency 1,8,32] [--seconds 10] [--max-requests 30000]
        [--warm-up-seconds 2] [--repeats 3]
        [--output benchmarks/results/serving.json]

Without `--plant-run` / `--sentiment-run`, trains that application's demo
run for one epoch first (in a temporary folder, as is the demo data).
"""

import argparse
import asyncio
import collections
import contextlib
import csv
import dataclasses
import itertools
import json
import math
import os
import pathlib
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

import aiohttp
from timing import machine

SERVERS = {"batched": 32, "unbatched": 1}
SAMPLES = 16  # distinct inputs per application, sent in turn
TOLERANCE = 0.001  # on a probability, against the input's answer alone
READY_SECONDS = 180
STOP_SECONDS = 30


@dataclasses.dataclass
class Sample:
    """One request's body (an image file's bytes, or a text), and the
    expected top class and probability once known."""

    name: str
    body: bytes | str
    expected: tuple | None = None

    def request(self):
        """The `aiohttp` arguments of a POST: a multipart upload of the image,
        or JSON holding the text."""
        if isinstance(self.body, str):
            return {"json": {"inputs": [self.body]}}
        form = aiohttp.FormData()
        form.add_field("files", self.body, filename=self.name, content_type="image/png")
        return {"data": form}


@dataclasses.dataclass
class Phase:
    """What one load phase got."""

    seconds: float
    latencies: list
    failed: collections.Counter
    wrong: int
    client_cpu_seconds: float = 0.0


def cnnrnn(env, *argv):
    """Runs `cnnrnn ARGV` in a fresh process."""
    result = subprocess.run(
        [sys.executable, "-m", "cnnrnn.cli", *argv],
        capture_output=True,
        text=True,
        env=env,
    )
    if result.returncode:
        sys.exit(f"cnnrnn {' '.join(argv)} failed:\n{result.stderr[-2000:]}")


def samples(app, folder):
    """The requests of `app`, from its demo data in `folder`."""
    if app == "plant-classifier":
        paths = sorted(folder.glob("*/*.png"))
        chosen = paths[:: max(1, len(paths) // SAMPLES)][:SAMPLES]
        return [Sample(path.name, path.read_bytes()) for path in chosen]
    with open(folder / "reviews.csv", newline="") as file:
        texts = [row["text"] for row in csv.DictReader(file)][:SAMPLES]
    return [Sample(f"text {number}", text) for number, text in enumerate(texts)]


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def server(run, max_batch_size, env, log):
    """Serves `run` on a free loopback port until the block ends: its URL."""
    port = free_port()
    command = [sys.executable, "-m", "cnnrnn.cli", "serve", str(run)]
    command += ["--host", "127.0.0.1", "--port", str(port)]
    command += ["--max-batch-size", str(max_batch_size)]
    with open(log, "w") as output:
        process = subprocess.Popen(
            command, env=env, stdout=output, stderr=subprocess.STDOUT
        )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_ready(url, process, log)
        yield url
    finally:
        stop(process)


def wait_ready(url, process, log):
    """Waits for `GET /ready` to answer 200, or exits with the server's log."""
    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline and process.poll() is None:
        with contextlib.suppress(OSError):
            with urllib.request.urlopen(f"{url}/ready", timeout=5) as answer:
                if answer.status == 200:
                    return
        time.sleep(0.2)
    sys.exit(f"The server at {url} never got ready:\n{log.read_text()[-2000:]}")


def stop(process):
    """Ctrl-C, then a kill if the server has not stopped in time."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGINT)
    try:
        process.wait(STOP_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


async def send(client, sample):
    """Sends one request: `(probability by class, None)` or `(None, why it
    failed)`."""
    try:
        async with client.post("/v1/predict", **sample.request()) as response:
            if response.status != 200:
                return None, f"status {response.status}"
            (answer,) = (await response.json())["predictions"]
    except (aiohttp.ClientError, asyncio.TimeoutError) as error:
        return None, type(error).__name__
    ranked = answer["predictions"]
    return {found["label"]: found["probability"] for found in ranked}, None


def is_wrong(sample, ranked):
    label, probability = sample.expected
    return abs(ranked.get(label, -1.0) - probability) > TOLERANCE


async def expect(client, samples):
    """Sets each sample's expected answer: the server's top class and its
    probability for that input alone."""
    for sample in samples:
        ranked, problem = await send(client, sample)
        if problem:
            sys.exit(f"A lone request failed ({problem}): the server is broken.")
        sample.expected = next(iter(ranked.items()))


async def load(client, samples, concurrency, seconds, max_requests):
    """`concurrency` clients send requests in a loop until `seconds` pass or
    `max_requests` are sent: a `Phase`."""
    started, cpu = time.perf_counter(), time.process_time()
    deadline = started + seconds
    numbers = itertools.count()
    phase = Phase(0.0, [], collections.Counter(), 0)

    async def client_loop():
        for number in numbers:
            if number >= max_requests or time.perf_counter() >= deadline:
                return
            sample = samples[number % len(samples)]
            sent = time.perf_counter()
            ranked, problem = await send(client, sample)
            if problem:
                phase.failed[problem] += 1
                continue
            phase.latencies.append(time.perf_counter() - sent)
            phase.wrong += is_wrong(sample, ranked)

    await asyncio.gather(*(client_loop() for _ in range(concurrency)))
    phase.seconds = time.perf_counter() - started
    phase.client_cpu_seconds = time.process_time() - cpu
    return phase


def summary(phases):
    """Requests/s (median of the phases), p50 and p99 (pooled), failures."""
    latencies = [value for phase in phases for value in phase.latencies]
    cuts = [None] * 99  # too few answers
    if len(latencies) > 1:
        cuts = [
            round(cut * 1000, 1)
            for cut in statistics.quantiles(latencies, n=100, method="inclusive")
        ]
    failed = sum((phase.failed for phase in phases), collections.Counter())
    return {
        "requests_per_s": round(
            statistics.median(len(p.latencies) / p.seconds for p in phases), 1
        ),
        "p50_ms": cuts[49],
        "p99_ms": cuts[98],
        "failed": failed.total(),
        "wrong": sum(phase.wrong for phase in phases),
        "requests": len(latencies) + failed.total(),
        "failures": dict(failed),
        # The load generator's own CPU: what it leaves the server on 2 cores.
        "client_cpu_ms_per_request": round(
            1000
            * sum(phase.client_cpu_seconds for phase in phases)
            / max(1, len(latencies) + failed.total()),
            2,
        ),
    }


async def batch_sizes(client):
    """The server's count of model calls by batch size."""
    async with client.get("/v1/model") as response:
        counts = (await response.json())["batching"]["batches_by_size"]
    return collections.Counter({int(size): count for size, count in counts.items()})


def batching(before, after):
    """The model calls made between two counts, and their mean size."""
    made = after - before
    inputs = sum(size * calls for size, calls in made.items())
    return {
        "mean_batch_size": round(inputs / made.total(), 2) if made else None,
        "batches_by_size": {str(size): made[size] for size in sorted(made)},
    }


async def measure(url, samples, args):
    """Loads one server at each concurrency: results by concurrency."""
    results = {}
    async with aiohttp.ClientSession(
        base_url=url,
        timeout=aiohttp.ClientTimeout(total=60),
        connector=aiohttp.TCPConnector(limit=max(args.concurrency)),
    ) as client:
        await expect(client, samples)
        for concurrency in args.concurrency:
            warm_up = await load(
                client, samples, concurrency, args.warm_up_seconds, args.max_requests
            )
            before = await batch_sizes(client)
            phases = [
                await load(
                    client, samples, concurrency, args.seconds, args.max_requests
                )
                for _ in range(args.repeats)
            ]
            results[concurrency] = {
                **summary(phases),
                "warm_up_failed": warm_up.failed.total(),
                "warm_up_wrong": warm_up.wrong,
                **batching(before, await batch_sizes(client)),
            }
            print(f"  {concurrency} clients: {results[concurrency]}", flush=True)
    return results


def compare(app, run, env, folder, args):
    """Both servers of one application: results by concurrency."""
    inputs = samples(app, pathlib.Path(env["CNNRNN_HOME"]) / "demo" / app)
    found = {}
    for name, max_batch_size in SERVERS.items():
        print(f"{app}, {name} (--max-batch-size {max_batch_size}):", flush=True)
        log = folder / f"{app}-{name}.log"
        with server(run, max_batch_size, env, log) as url:
            found[name] = asyncio.run(measure(url, inputs, args))
    report = {"model_only": model_only(run, app, env), "clients": {}}
    for concurrency in args.concurrency:
        batched, unbatched = (found[name][concurrency] for name in SERVERS)
        report["clients"][str(concurrency)] = {
            "batched": batched,
            "unbatched": unbatched,
            "throughput_ratio": ratio(batched, unbatched),
        }
    return report


MODEL_ONLY = """
import json, pathlib, statistics, sys, time
from cnnrnn.serving.service import ModelService
run, folder, app = sys.argv[1:4]
service = ModelService(run)
if app == "plant-classifier":
    paths = sorted(pathlib.Path(folder).glob("*/*.png"))[:32]
    values = [service.prepare(str(path)) for path in paths]
else:
    values = ["a review of a film that was long but good"] * 32
found = {}
for size in (1, 32):
    service.run(values[:size], None)
    times = []
    for _ in range(20):
        started = time.perf_counter()
        service.run(values[:size], None)
        times.append((time.perf_counter() - started) / size)
    found[size] = statistics.median(times) * 1000
print(json.dumps(found))
"""


def model_only(run, app, env):
    """The model call alone, in a fresh process: ms per input in batches of
    1 and of 32, and their ratio, the most batching can give when serving
    costs nothing else (images decoded beforehand)."""
    folder = pathlib.Path(env["CNNRNN_HOME"]) / "demo" / app
    result = subprocess.run(
        [sys.executable, "-c", MODEL_ONLY, str(run), str(folder), app],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    times = json.loads(result.stdout.strip().splitlines()[-1])
    return {
        "ms_per_input_batch_1": round(times["1"], 3),
        "ms_per_input_batch_32": round(times["32"], 3),
        "ratio": round(times["1"] / times["32"], 2),
    }


def ratio(batched, unbatched):
    if not unbatched["requests_per_s"]:
        return None
    return round(batched["requests_per_s"] / unbatched["requests_per_s"], 2)


def done_when(apps):
    """At 32 clients (false where not measured): ratio >= 3, batched p99 <
    1000 ms; no failed or wrong request in the whole run."""
    results = [server for app in apps.values() for row in app["clients"].values()
               for server in (row["batched"], row["unbatched"])]  # fmt: skip
    keys = ("failed", "wrong", "warm_up_failed", "warm_up_wrong")
    problems = sum(server[key] for server in results for key in keys)
    checks = {"no_failed_or_wrong_requests": problems == 0}
    for app, found in apps.items():
        missing = {"throughput_ratio": None, "batched": {"p99_ms": None}}
        row = found["clients"].get("32", missing)
        checks[f"{app}_ratio_at_least_3"] = (row["throughput_ratio"] or 0) >= 3
        checks[f"{app}_batched_p99_under_1000_ms"] = (
            row["batched"]["p99_ms"] or math.inf
        ) < 1000
    return {"checks": checks, "passed": all(checks.values())}


def markdown_table(report):
    lines = [
        "| application | clients | batched req/s | unbatched req/s | ratio "
        "| batched p50 / p99 ms | unbatched p50 / p99 ms | mean batch | failed |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for app, found in report["apps"].items():
        for concurrency, row in found["clients"].items():
            batched, unbatched = row["batched"], row["unbatched"]
            lines.append(
                f"| {app} | {concurrency} | {batched['requests_per_s']} "
                f"| {unbatched['requests_per_s']} | {row['throughput_ratio']} "
                f"| {batched['p50_ms']} / {batched['p99_ms']} "
                f"| {unbatched['p50_ms']} / {unbatched['p99_ms']} "
                f"| {batched['mean_batch_size']} "
                f"| {batched['failed'] + unbatched['failed']} |"
            )
    lines.append("\n| application | model call alone, ms per input: batch of 1 "
                 "| batch of 32 | ratio |\n| --- | --- | --- | --- |")  # fmt: skip
    for app, found in report["apps"].items():
        alone = found["model_only"]
        lines.append(
            f"| {app} | {alone['ms_per_input_batch_1']} "
            f"| {alone['ms_per_input_batch_32']} | {alone['ratio']} |"
        )
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plant-run", type=pathlib.Path)
    parser.add_argument("--sentiment-run", type=pathlib.Path)
    parser.add_argument(
        "--concurrency",
        default=[1, 8, 32],
        type=lambda text: [int(value) for value in text.split(",")],
        help="concurrent clients, comma-separated (1,8,32)",
    )
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--max-requests", type=int, default=30000)
    parser.add_argument("--warm-up-seconds", type=float, default=2.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--output",
        type=pathlib.Path,
        default=pathlib.Path("benchmarks/results/serving.json"),
    )
    args = parser.parse_args()
    given = {"plant-classifier": args.plant_run, "sentiment-rnn": args.sentiment_run}
    report = {
        "benchmark": "serving",
        "machine": machine(),
        "settings": {
            "concurrency": args.concurrency,
            "seconds": args.seconds,
            "max_requests": args.max_requests,
            "warm_up_seconds": args.warm_up_seconds,
            "repeats": args.repeats,
            "max_batch_size": SERVERS,
            "samples_per_application": SAMPLES,
        },
        "runs": {},
        "apps": {},
    }
    with tempfile.TemporaryDirectory(prefix="cnnrnn-serving-") as tmp:
        folder = pathlib.Path(tmp)
        home = folder / "home"
        env = {**os.environ, "CNNRNN_HOME": str(home), "TF_CPP_MIN_LOG_LEVEL": "2"}
        for app, run in given.items():
            cnnrnn(env, "demo-data", app, str(home / "demo" / app))
            if run is None:
                run = folder / app
                cnnrnn(env, "train", app, "--output", str(run), "--epochs", "1")
            report["runs"][app] = str(given[app] or "trained for 1 epoch")
            report["apps"][app] = compare(app, run, env, folder, args)
    report["done_when"] = done_when(report["apps"])
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    print(markdown_table(report))
    print(f"Done when: {'passed' if report['done_when']['passed'] else 'not met'}")


if __name__ == "__main__":
    main()
