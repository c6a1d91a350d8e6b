"""The page of `cnnrnn serve`, driven in a real headless Chromium.

Each application is served by a real `cnnrnn serve` process on a free
loopback port; the page's results are checked against what `POST
/v1/predict` answers for the same input. Debian's chromium is used as it is
installed (never a downloaded browser); without it, or without the
`playwright` module, the tests skip.
"""

import pathlib

import pytest
from servers import Server

CHROMIUM = pathlib.Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    pytest.skip(
        f"{CHROMIUM} is missing: install Debian's chromium package.",
        allow_module_level=True,
    )
sync_api = pytest.importorskip(
    "playwright.sync_api", reason="the playwright module is not installed."
)
expect = sync_api.expect

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
READY_SECONDS = 120
TOKEN = "page-test-token"
# The sentiment server needs a token, so the page's token field is tested too.
SERVED = {"plant-classifier": None, "sentiment-rnn": TOKEN}


@pytest.fixture(scope="module")
def browser():
    expect.set_options(timeout=20_000)  # waits for a prediction too
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def servers(trained_run, tmp_path_factory):
    """A `cnnrnn serve` process per application, started together once all
    are trained (training beside a starting server slows both)."""
    logs = tmp_path_factory.mktemp("page-servers")
    runs = {app: trained_run(app) for app in SERVED}
    started = {}
    try:
        for app, token in SERVED.items():
            started[app] = Server(runs[app], log=logs / f"{app}.log", token=token)
        for server in started.values():
            server.wait_ready(READY_SECONDS)
        yield started
    finally:
        for server in started.values():
            server.stop()


@pytest.fixture
def page(browser):
    """A fresh page; at the end, no script error and no request off the server."""
    context = browser.new_context(viewport={"width": 900, "height": 700})
    context.set_default_timeout(20_000)
    page = context.new_page()
    problems = []

    def check_request(request):
        if not request.url.startswith(("http://127.0.0.1:", "blob:", "data:")):
            problems.append(f"request off the server: {request.url}")

    page.on("pageerror", lambda error: problems.append(f"script error: {error}"))
    page.on("request", check_request)
    yield page
    context.close()
    assert not problems


def test_plant_page_classifies_an_uploaded_image(servers, page, demo_home, tmp_path):
    server = servers["plant-classifier"]
    image = sorted((demo_home / "demo" / "plant-classifier").glob("*/*.png"))[0]
    status, answer = server.predict(
        files={"files": (image.name, image.read_bytes(), "image/png")}
    )
    assert status == 200
    expected = answer["predictions"][0]["predictions"][0]

    page.goto(server.url)
    expect(page.locator("h1")).to_have_text("plant-classifier")
    expect(page.locator("#token-form")).to_be_hidden()
    page.get_by_label("Choose an image").set_input_files(image)
    expect(page.locator("#preview")).to_be_visible()
    page.locator("#submit").click()
    top = page.locator("#results .prediction").first
    expect(top.locator(".label")).to_have_text(expected["label"])
    _check_percentage(top.locator(".probability"), expected["probability"])
    assert top.locator(".label").inner_text() in server.model()["classes"]
    expect(page.locator("#error")).to_be_hidden()
    _screenshot(page, tmp_path)


def test_sentiment_page_asks_for_the_token_and_classifies_a_text(
    servers, page, tmp_path
):
    server = servers["sentiment-rnn"]
    review = "A wonderful film: the acting was superb and I loved the ending."
    status, answer = server.predict(json={"inputs": [review]})
    assert status == 200
    expected = answer["predictions"][0]["predictions"][0]

    page.goto(server.url)
    expect(page.get_by_role("alert")).to_contain_text("Missing or wrong token")
    page.get_by_label("API token").fill(TOKEN)
    page.get_by_role("button", name="Use token").click()
    expect(page.locator("h1")).to_have_text("sentiment-rnn")
    expect(page.locator("#error")).to_be_hidden()
    page.get_by_label("Text to classify").fill(review)
    page.locator("#submit").click()
    top = page.locator("#results .prediction").first
    expect(top.locator(".label")).to_have_text(expected["label"])
    _check_percentage(top.locator(".probability"), expected["probability"])
    assert top.locator(".label").inner_text() in server.model()["classes"]
    _screenshot(page, tmp_path)


def test_page_shows_the_api_error_in_its_alert(servers, page):
    server = servers["plant-classifier"]
    upload = ("notes.jpg", b"not an image, just text\n", "image/jpeg")
    status, answer = server.predict(files={"files": upload})
    assert status == 400

    page.goto(server.url)
    page.locator("#file").set_input_files(
        files=[{"name": upload[0], "mimeType": upload[2], "buffer": upload[1]}]
    )
    page.locator("#submit").click()
    expect(page.get_by_role("alert")).to_have_text(answer["error"])
    assert "notes.jpg" in answer["error"] and "\n" not in answer["error"]
    expect(page.locator("#results .prediction")).to_have_count(0)
    expect(page.locator("#preview")).to_be_hidden()  # the browser cannot show it
    expect(page.locator("#submit")).to_be_enabled()


def _check_percentage(shown, probability):
    text = shown.inner_text()
    assert text.endswith("%") and float(text[:-1]) == pytest.approx(
        probability * 100, abs=0.051
    ), (text, probability)


def _screenshot(page, folder):
    path = folder / "page.png"
    page.screenshot(path=path, full_page=True)
    assert path.stat().st_size > 1000
