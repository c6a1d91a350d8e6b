"""`cnnrnn serve` as people start it: a real server process on a loopback port."""

import concurrent.futures
import json
import socket

import httpx
import pytest
from servers import Server

from cnnrnn import cli, serving


def test_a_real_server_batches_concurrent_clients_and_stops_on_ctrl_c(
    trained_run, tmp_path, capsys
):
    run = trained_run("sentiment-rnn")
    texts = [f"review {n}: {'great' if n % 2 else 'awful'} film" for n in range(24)]
    capsys.readouterr()  # what training the run printed
    assert cli.main(["predict", str(run), *texts, "--json"]) == 0
    expected = json.loads(capsys.readouterr().out)
    server = Server(run, "--max-batch-size", "8", "--batch-timeout-ms", "20",
                    log=tmp_path / "serve.log")  # fmt: skip
    try:
        server.wait_ready()
        with httpx.Client(base_url=server.url, timeout=30) as client:

            def ask(text):
                return client.post("/v1/predict", json={"inputs": [text]})

            with concurrent.futures.ThreadPoolExecutor(12) as pool:
                answers = list(pool.map(ask, texts))
            batches = client.get("/v1/model").json()["batching"]["batches_by_size"]
    finally:
        code = server.stop()
    assert [answer.status_code for answer in answers] == [200] * len(texts)
    for answer, wanted in zip(answers, expected, strict=True):
        (served,) = answer.json()["predictions"]
        assert served["input"] == wanted["input"]
        assert [p["label"] for p in served["predictions"]] == [
            p["label"] for p in wanted["predictions"]
        ]
    assert max(int(size) for size in batches) > 1  # requests shared model calls
    assert code in (0, 130), server.output()
    output = server.output()
    assert f"Serving the sentiment-rnn run {run} at http://127.0.0.1:" in output
    assert "Traceback" not in output


@pytest.mark.slow  # fast: the --workers options reach uvicorn (app_from_environment)
def test_two_worker_processes_serve_the_same_answers(trained_run, tmp_path):
    run = trained_run("sentiment-rnn")
    server = Server(run, "--workers", "2", log=tmp_path / "serve.log")
    try:
        server.wait_ready(seconds=240)
        answers = [
            httpx.post(f"{server.url}/v1/predict", json={"inputs": ["a fine film"]})
            for _ in range(6)
        ]
    finally:
        server.stop()
    assert [answer.status_code for answer in answers] == [200] * 6
    assert len({json.dumps(answer.json()) for answer in answers}) == 1


def test_worker_processes_rebuild_the_same_settings(trained_run, monkeypatch):
    run = trained_run("sentiment-rnn")
    settings = serving.Settings(
        max_batch_size=4, token="t", limits=serving.Limits(max_inputs=3)
    )
    started = {}
    monkeypatch.setenv(serving._ENVIRONMENT, "")  # restored after the test
    monkeypatch.setattr("uvicorn.run", lambda target, **options: started.update(
        target=target, **options))  # fmt: skip
    monkeypatch.setattr(serving, "_check_port_free", lambda host, port: None)
    serving.serve(run, workers=2, settings=settings, say=lambda line: None)
    assert started["target"] == "cnnrnn.serving:app_from_environment"
    assert started["factory"] and started["workers"] == 2
    app = serving.app_from_environment()
    assert app.state.batcher.max_batch_size == 4


def test_a_taken_port_is_a_one_line_error(trained_run, capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        run = str(trained_run("sentiment-rnn"))
        code = cli.main(["serve", run, "--port", str(port)])
    err = capsys.readouterr().err
    assert code == 1
    assert f"Cannot listen on 127.0.0.1:{port}" in err and "--port" in err


def test_another_host_than_loopback_is_warned_of(trained_run, monkeypatch, capsys):
    monkeypatch.setattr("uvicorn.run", lambda app, **options: None)
    monkeypatch.setattr(serving, "_check_port_free", lambda host, port: None)
    run = str(trained_run("sentiment-rnn"))
    assert cli.main(["serve", run, "--host", "0.0.0.0"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "Warning: serving on 0.0.0.0" in out and "pass --token" in out
    assert cli.main(["serve", run, "--host", "localhost"]) == 0
    assert "Warning" not in capsys.readouterr().out


def test_a_folder_that_is_not_a_run_is_a_one_line_error(tmp_path, capsys):
    assert cli.main(["serve", str(tmp_path)]) == 1
    assert "not a finished cnnrnn run" in capsys.readouterr().err
