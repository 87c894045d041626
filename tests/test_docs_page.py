"""GET /api/v1/docs: Swagger UI from the pinned package, offline, public, under a strict CSP.

The browser test runs Debian's Chromium through playwright against a real gunicorn server. It
skips where no browser is installed, except under CI, where a missing browser is a failure.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from league_api import docs_page

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
# Set to a path (e.g. docs/docs-page.png) to keep the browser test's screenshot there.
SCREENSHOT_ENV = "LEAGUE_API_SCREENSHOT"


# -- the page and its assets, through the test client -------------------------------------------


def test_the_page_is_public_and_points_at_the_document_with_a_strict_csp(client):
    response = client.get("/api/v1/docs")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    assert response.headers["Content-Security-Policy"] == "default-src 'self'; img-src 'self' data:"
    html = response.get_data(as_text=True)
    assert 'data-openapi-url="/api/v1/openapi.json"' in html
    assert "<script>" not in html  # no inline script: script-src stays 'self'
    assert "http" not in html  # every asset is root-relative, on this server


@pytest.mark.parametrize("name", sorted(docs_page.ASSETS))
def test_each_asset_is_the_pinned_packages_file(client, name):
    with client.get(f"/api/v1/docs/{name}") as response:  # closes the file it streams
        assert response.status_code == 200
        assert response.data == (docs_page.DIST / name).read_bytes()


def test_the_start_script_disables_the_outside_validator(client):
    response = client.get("/api/v1/docs/docs-init.js")
    assert response.status_code == 200
    assert response.mimetype == "text/javascript"
    assert "validatorUrl: null" in response.get_data(as_text=True)


@pytest.mark.parametrize("name", ["LICENSE", "VERSION", "oauth2-redirect.html", "..%2fREADME.md"])
def test_files_outside_the_page_are_not_served(client, name):
    response = client.get(f"/api/v1/docs/{name}")
    assert (response.status_code, response.get_json()["error"]) == (404, "error_not_found")


def test_the_pinned_swagger_ui_has_no_outside_font_or_stylesheet():
    css = (docs_page.DIST / "swagger-ui.css").read_text()
    assert "@import" not in css
    assert "url(http" not in css.replace('"', "").replace("'", "")
    assert "@font-face" not in css


# -- a real browser --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium under playwright; never a browser that playwright downloads."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover - the test extra installs it
        sync_playwright = None
    if sync_playwright is None or not os.access(CHROMIUM, os.X_OK):
        reason = f"needs playwright and {CHROMIUM} (Debian package chromium)"
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the browser test: {reason}")
        pytest.skip(reason)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def document_operations(spec: dict) -> set[tuple[str, str]]:
    return {
        (method.upper(), path)
        for path, item in spec["paths"].items()
        for method in item
        if method in HTTP_METHODS
    }


class RecordedPage:
    """A browser page whose every request is recorded; one to another host is refused.

    Refused inside the browser, before any lookup: even a bug sends nothing off this machine.
    """

    def __init__(self, browser, origin: str) -> None:
        self.host = urlsplit(origin).netloc
        self.seen: list[str] = []
        self.outside: list[str] = []
        self.console_errors: list[str] = []
        self.page_errors: list[str] = []
        self.context = browser.new_context(
            viewport={"width": 1280, "height": 900}, service_workers="block"
        )
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.page.on("request", lambda request: self.seen.append(request.url))
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.page_errors.append(str(error)))
        self.page.add_init_script(
            "window.cspViolations = [];"
            "document.addEventListener('securitypolicyviolation', (e) =>"
            " window.cspViolations.push(e.violatedDirective + ' ' + e.blockedURI));"
        )

    def _route(self, route) -> None:
        if urlsplit(route.request.url).netloc == self.host:
            route.continue_()
        else:
            self.outside.append(route.request.url)
            route.abort()

    def _console(self, message) -> None:
        if message.type == "error":
            self.console_errors.append(message.text)

    def off_host(self) -> list[str]:
        return [
            url
            for url in self.seen
            if not url.startswith("data:") and urlsplit(url).netloc != self.host
        ]


def test_the_recorder_catches_a_request_to_another_host(browser, live_server):
    """The control for the test below: an outside request is seen, refused and reported."""
    server = live_server(workers=1)
    recorded = RecordedPage(browser, f"http://127.0.0.1:{server.port}")
    recorded.page.goto(server.url + "/openapi.json")
    recorded.page.evaluate("() => fetch('http://outside.invalid/font.woff2').catch(() => null)")
    recorded.context.close()
    assert recorded.outside == ["http://outside.invalid/font.woff2"]
    assert recorded.off_host() == ["http://outside.invalid/font.woff2"]


def test_the_page_renders_every_operation_offline(browser, live_server, tmp_path):
    server = live_server(workers=1)
    origin = f"http://127.0.0.1:{server.port}"
    spec = requests.get(server.url + "/openapi.json", timeout=10).json()
    expected = document_operations(spec)
    assert len(expected) > 30

    recorded = RecordedPage(browser, origin)
    page = recorded.page
    response = page.goto(origin + "/api/v1/docs", wait_until="networkidle")
    assert response is not None and response.status == 200
    page.wait_for_function(
        "n => document.querySelectorAll('.opblock').length >= n", arg=len(expected), timeout=30000
    )
    rendered = page.eval_on_selector_all(
        ".opblock",
        """blocks => blocks.map(block => [
            block.querySelector('.opblock-summary-method').textContent.trim(),
            block.querySelector('.opblock-summary-path').dataset.path,
        ])""",
    )
    assert len(rendered) == len(expected)
    assert {(method, path) for method, path in rendered} == expected
    page.wait_for_load_state("networkidle")
    screenshot = tmp_path / "docs-page.png"
    page.screenshot(path=str(screenshot))
    if os.environ.get(SCREENSHOT_ENV):
        Path(os.environ[SCREENSHOT_ENV]).write_bytes(screenshot.read_bytes())
    csp_violations = page.evaluate("window.cspViolations")
    recorded.context.close()

    assert csp_violations == []
    assert recorded.outside == []
    assert recorded.off_host() == []
    assert origin + "/api/v1/docs/swagger-ui-bundle.js" in recorded.seen
    assert origin + "/api/v1/openapi.json" in recorded.seen
    assert recorded.console_errors == []
    assert recorded.page_errors == []
