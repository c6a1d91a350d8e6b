"""A real `cnnrnn serve` process for the serving tests."""

import os
import signal
import subprocess
import sys
import time

import httpx
import pytest

from cnnrnn import serving
from cnnrnn.tuning.cluster import free_port


class Server:
    """`cnnrnn serve RUN ...` in a process of its own, on a free loopback port.

    Args:
        run: path. The run directory.
        *options: more `cnnrnn serve` options.
        log: path. Where its output goes.
        token: str or None. Its `--token` (none from the environment).
    """

    def __init__(self, run, *options, log, token=None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log, self.token = log, token
        command = [sys.executable, "-m", "cnnrnn.cli", "serve", str(run)]
        command += ["--port", str(self.port), *options]
        command += ["--token", token] if token else []
        env = {k: v for k, v in os.environ.items() if k != serving.TOKEN_VARIABLE}
        with open(log, "w") as output:
            self.process = subprocess.Popen(
                command,
                stdout=output,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,  # its workers are stopped with it
            )

    @property
    def headers(self):
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def wait_ready(self, seconds=120):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.output()[-3000:]
            try:
                ready = httpx.get(f"{self.url}/ready", headers=self.headers, timeout=5)
                if ready.status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        self.stop()
        pytest.fail(f"the server was not ready in {seconds} s\n{self.output()}")

    def stop(self):
        """Ctrl-C, as a person stops it; killed if it does not stop."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        return self.process.returncode

    def output(self):
        return self.log.read_text()

    def model(self):
        """What `GET /v1/model` answers."""
        return httpx.get(f"{self.url}/v1/model", headers=self.headers).json()

    def predict(self, **request):
        """What the API answers: `(status, JSON)`."""
        response = httpx.post(
            f"{self.url}/v1/predict", headers=self.headers, timeout=60, **request
        )
        return response.status_code, response.json()
