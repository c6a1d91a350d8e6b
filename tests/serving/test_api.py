"""`cnnrnn serve`'s API in process, for every application: answers equal to
`cnnrnn predict` / `caption` / `generate`, and one-line errors for bad input."""

import base64
import io
import json

import av
import numpy as np
import pytest
from PIL import Image
from starlette.testclient import TestClient

from cnnrnn import cli
from cnnrnn.serving import Limits, ModelService, Settings, create_app


def client_for(run, **settings):
    return TestClient(create_app(ModelService(run), Settings(**settings)))


@pytest.fixture(scope="module")
def plant(trained_run):
    with client_for(trained_run("plant-classifier")) as client:
        yield client


@pytest.fixture(scope="module")
def images(demo_home):
    return sorted((demo_home / "demo" / "plant-classifier").glob("*/*.png"))[::7][:3]


def cli_json(capsys, *argv):
    capsys.readouterr()  # what came before (training a run)
    assert cli.main(list(argv)) == 0
    return json.loads(capsys.readouterr().out)


def same_predictions(served, expected):
    """The same classes in the same order, with the same probabilities."""
    assert [p["label"] for p in served] == [p["label"] for p in expected]
    assert [p["probability"] for p in served] == pytest.approx(
        [p["probability"] for p in expected], abs=1e-6
    )


@pytest.mark.parametrize(
    "app, task, kind",
    [
        ("plant-classifier", "classify", "image"),
        ("sentiment-rnn", "classify", "text"),
        ("char-generator", "generate", "text"),
        ("video-classifier", "classify", "video"),
        ("image-captioner", "caption", "image"),
        ("series-forecaster", "forecast", "table"),
    ],
)
def test_health_ready_and_what_the_model_is(app, task, kind, trained_run):
    run = trained_run(app)
    with client_for(run) as client:
        assert client.get("/health").json() == {"status": "ok"}
        assert client.get("/ready").json()["status"] == "ready"
        info = client.get("/v1/model").json()
    assert (info["application"], info["task"], info["input"]) == (app, task, kind)
    assert info["input_description"] and info["versions"]["keras"]
    assert info["metrics"] == json.loads((run / "metrics.json").read_text())
    if task == "classify":
        config = json.loads((run / "config.json").read_text())
        assert info["classes"] == config["data_info"]["class_names"]
    if task == "generate":
        assert info["vocabulary_size"] > 10


def test_images_as_base64_and_as_uploads_predict_as_cnnrnn_predict(
    plant, images, trained_run, capsys
):
    expected = cli_json(
        capsys, "predict", str(trained_run("plant-classifier")),
        *map(str, images), "--json", "--top-k", "2",
    )  # fmt: skip
    encoded = [base64.b64encode(path.read_bytes()).decode() for path in images]
    encoded[0] = "data:image/png;base64," + encoded[0]
    by_json = plant.post("/v1/predict", json={"inputs": encoded, "top_k": 2}).json()
    uploads = [
        ("files", (path.name, path.read_bytes(), "image/png")) for path in images
    ]
    by_form = plant.post("/v1/predict", files=uploads, data={"top_k": "2"}).json()
    for served in (by_json["predictions"], by_form["predictions"]):
        assert len(served) == len(images)
        for one, wanted in zip(served, expected, strict=True):
            same_predictions(one["predictions"], wanted["predictions"])
    assert [p["input"] for p in by_form["predictions"]] == [p.name for p in images]
    assert [p["input"] for p in by_json["predictions"]] == [
        "input 1",
        "input 2",
        "input 3",
    ]


def test_texts_predict_as_cnnrnn_predict(trained_run, capsys):
    run = trained_run("sentiment-rnn")
    texts = ["a wonderful, moving film", "dull and far too long"]
    expected = cli_json(capsys, "predict", str(run), *texts, "--json")
    with client_for(run) as client:
        served = client.post("/v1/predict", json={"inputs": texts}).json()
        form = client.post("/v1/predict", data={"inputs": texts}).json()
    for answer in (served, form):
        for one, wanted in zip(answer["predictions"], expected, strict=True):
            assert one["input"] == wanted["input"]
            same_predictions(one["predictions"], wanted["predictions"])


def test_video_uploads_predict_as_cnnrnn_predict(trained_run, demo_home, capsys):
    run = trained_run("video-classifier")
    clips = sorted((demo_home / "demo" / "video-classifier").glob("*/*.mp4"))[:2]
    expected = cli_json(capsys, "predict", str(run), *map(str, clips), "--json")
    uploads = [("files", (clip.name, clip.read_bytes(), "video/mp4")) for clip in clips]
    with client_for(run) as client:
        served = client.post("/v1/predict", files=uploads).json()["predictions"]
        silent = client.post(
            "/v1/predict",
            files=[("files", ("sound.mp4", audio_only_mp4(), "video/mp4"))],
        )
    with client_for(run, limits=Limits(max_clip_seconds=0.1)) as client:
        too_long = client.post("/v1/predict", files=uploads[:1])
    for one, wanted in zip(served, expected, strict=True):
        same_predictions(one["predictions"], wanted["predictions"])
    assert too_long.status_code == 413
    assert f"{clips[0].name} lasts" in too_long.json()["error"]
    assert "over the limit of 0.1 s: cut it" in too_long.json()["error"]
    assert silent.status_code == 400
    assert silent.json() == {
        "error": "sound.mp4 has no video stream: send a video file."
    }


def test_captions_with_options_as_cnnrnn_caption(trained_run, demo_home, capsys):
    run = trained_run("image-captioner")
    image = sorted((demo_home / "demo" / "image-captioner" / "images").glob("*"))[0]
    expected = cli_json(capsys, "predict", str(run), str(image), "--json")
    upload = [("files", (image.name, image.read_bytes(), "image/png"))]
    with client_for(run) as client:
        served = client.post("/v1/predict", files=upload).json()["predictions"]
        one_word = client.post(
            "/v1/predict", files=upload, data={"beam_width": "1", "max_length": "1"}
        ).json()["predictions"]
        refused = client.post(
            "/v1/predict", files=upload, data={"temperature": "0.5"}
        ).json()
    same_predictions(served[0]["predictions"], expected[0]["predictions"])
    assert len(one_word[0]["predictions"][0]["label"].split()) <= 1
    assert refused == {
        "error": "Option(s) temperature do not apply to this model: it takes "
        "beam_width, max_length."
    }


def test_generated_text_as_cnnrnn_generate_and_streamed(trained_run, capsys):
    run = trained_run("char-generator")
    expected = cli_json(
        capsys, "generate", str(run), "--seed", "the ", "--length", "40",
        "--random-seed", "3", "--json",
    )["samples"][0]  # fmt: skip
    body = {"inputs": ["the "], "length": 40, "seed": 3}
    with client_for(run) as client:
        served = client.post("/v1/predict", json=body).json()["predictions"]
        with client.stream("POST", "/v1/predict", json={**body, "stream": True}) as r:
            assert r.headers["content-type"].startswith("text/event-stream")
            events = [line for line in r.iter_lines() if line]
        unknown = client.post("/v1/predict", json={"inputs": ["\u00a7\u00a7"]})
        too_long = client.post("/v1/predict", json={"inputs": ["a"], "length": 9999})
    assert served == [{"input": "the ", "text": expected}]
    chars = [json.loads(e[len("data: ") :])["text"] for e in events[:-2]]
    assert "".join(chars) == expected and len(chars) == 40
    assert events[-2:] == ["event: end", "data: {}"]
    assert unknown.status_code == 400 and "never saw in training" in unknown.text
    assert too_long.status_code == 413 and "limit of 2000" in too_long.text


def test_series_csv_forecasts_as_cnnrnn_predict(trained_run, demo_home, capsys):
    run = trained_run("series-forecaster")
    table = demo_home / "demo" / "series-forecaster" / "load.csv"
    expected = cli_json(capsys, "predict", str(run), str(table), "--json")
    with client_for(run) as client:
        uploaded = client.post(
            "/v1/predict", files=[("files", ("load.csv", table.read_bytes()))]
        ).json()["predictions"]
        as_text = client.post(
            "/v1/predict", json={"inputs": [table.read_text()]}
        ).json()["predictions"]
    for served in (uploaded, as_text):
        steps = served[0]["predictions"]
        assert len(steps) == len(expected[0]["predictions"])
        for step, wanted in zip(steps, expected[0]["predictions"], strict=True):
            assert step == pytest.approx(wanted, abs=1e-5)


def audio_only_mp4():
    out = io.BytesIO()
    with av.open(out, "w", format="mp4") as container:
        stream = container.add_stream("aac", rate=8000)
        frame = av.AudioFrame.from_ndarray(
            np.zeros((1, 1024), np.float32), format="fltp", layout="mono"
        )
        frame.sample_rate = 8000
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            container.mux(packet)
    return out.getvalue()


def png(size=(8, 8)):
    out = io.BytesIO()
    Image.new("RGB", size).save(out, format="PNG")
    return out.getvalue()


def truncated_jpeg():
    noise = np.random.default_rng(0).integers(0, 255, (64, 64, 3), np.uint8)
    out = io.BytesIO()
    Image.fromarray(noise).save(out, format="JPEG")
    return out.getvalue()[:1500]


def image_json(*blobs):
    return {"json": {"inputs": [base64.b64encode(b).decode() for b in blobs]}}


# (request, expected status, words the one-line error holds)
BAD_REQUESTS = {
    "wrong content type": (
        {"content": b"inputs", "headers": {"content-type": "text/plain"}},
        415, ["'text/plain'", "application/json"],
    ),
    "empty body": (
        {"content": b"", "headers": {"content-type": "application/json"}},
        400, ["empty"],
    ),
    "invalid JSON": (
        {"content": b'{"inputs": [', "headers": {"content-type": "application/json"}},
        400, ["not valid JSON"],
    ),
    "a JSON list": ({"json": ["x"]}, 400, ["JSON object"]),
    "unknown field": (
        {"json": {"inputs": [], "wings": 2}}, 400, ["Unknown field 'wings'"],
    ),
    "no inputs": ({"json": {"inputs": []}}, 400, ["no inputs"]),
    "not base64": ({"json": {"inputs": ["%%%"]}}, 400, ["not base64"]),
    "corrupt image": (image_json(truncated_jpeg()), 400, ["input 1", "corrupt"]),
    "a text file named .jpg": (
        {"files": [("files", ("notes.jpg", b"just text", "image/jpeg"))]},
        400, ["notes.jpg", "not an image"],
    ),
    "a 0-byte file": ({"files": [("files", ("a.png", b""))]}, 400, ["0 bytes"]),
    "oversize upload": (
        {"files": [("files", ("big.png", b"x" * 300_000))]}, 413, ["over the limit"],
    ),
    "too many inputs": (image_json(*[png()] * 5), 413, ["5 inputs", "limit of 4"]),
    "too many pixels": (image_json(png((120, 100))), 413, ["120x100", "resize"]),
    "top_k 0": ({"json": {"inputs": ["x"], "top_k": 0}}, 400, ["top_k"]),
    "top_k not a number": (
        {"json": {"inputs": ["x"], "top_k": "many"}}, 400, ["top_k"],
    ),
    "an option of another model": (
        {"json": {"inputs": ["x"], "beam_width": 2}}, 400, ["beam_width", "top_k"],
    ),
}  # fmt: skip


@pytest.fixture(scope="module")
def limited_plant(trained_run):
    limits = Limits(max_request_bytes=200_000, max_inputs=4, max_image_pixels=10_000)
    with client_for(trained_run("plant-classifier"), limits=limits) as client:
        yield client


@pytest.mark.parametrize("case", BAD_REQUESTS)
def test_a_bad_request_gets_a_4xx_one_line_error_and_the_server_goes_on(
    case, limited_plant
):
    request, status, words = BAD_REQUESTS[case]
    answer = limited_plant.post("/v1/predict", **request)
    assert answer.status_code == status, answer.text
    error = answer.json()["error"]
    assert list(answer.json()) == ["error"] and "\n" not in error
    for word in words:
        assert word in error, error
    assert limited_plant.post("/v1/predict", **image_json(png())).status_code == 200


def test_empty_or_too_long_text_and_unknown_routes(trained_run):
    limits = Limits(max_text_chars=20)
    with client_for(trained_run("sentiment-rnn"), limits=limits) as client:
        empty = client.post("/v1/predict", json={"inputs": ["fine", "  "]})
        assert (empty.status_code, empty.json()) == (
            400,
            {"error": "input 2 is empty: send some text."},
        )
        long = client.post("/v1/predict", json={"inputs": ["a long review " * 2]})
        assert (long.status_code, long.json()) == (
            413,
            {"error": "input 1 has 28 characters, over the limit of 20: shorten it."},
        )
        missing = client.get("/v2/predict")
        assert missing.status_code == 404 and "/docs" in missing.json()["error"]
        assert client.get("/v1/predict").status_code == 405


def test_a_token_guards_every_route_but_health_the_page_and_the_docs(trained_run):
    with client_for(trained_run("sentiment-rnn"), token="s3cret") as client:
        for path in ("/v1/model", "/ready"):
            refused = client.get(path)
            assert refused.status_code == 401 and "Bearer" in refused.json()["error"]
        wrong = client.get("/v1/model", headers={"Authorization": "Bearer guess"})
        assert wrong.status_code == 401
        for path in ("/health", "/", "/docs", "/openapi.json"):
            assert client.get(path).status_code == 200, path
        allowed = client.post(
            "/v1/predict",
            json={"inputs": ["fine"]},
            headers={"Authorization": "Bearer s3cret"},
        )
        assert allowed.status_code == 200


def test_docs_are_served_without_a_cdn(plant):
    page = plant.get("/docs").text
    assert "/docs-assets/swagger-ui-bundle.js" in page and "cdn" not in page.lower()
    assert plant.get("/docs-assets/swagger-ui-bundle.js").status_code == 200
    schema = plant.get("/openapi.json").json()
    body = schema["paths"]["/v1/predict"]["post"]["requestBody"]["content"]
    assert set(body) == {"application/json", "multipart/form-data"}
