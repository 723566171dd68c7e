"""A real browser: Playwright drives Debian's chromium against the built site.

Every chart on the essay page and on every point page must render as SVG, also after
an instant-navigation click and after switching to dark mode, with no console error
and no request to another host.
"""

from __future__ import annotations

import functools
import os
import shutil
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse

import pytest
from conftest import POINTS

pytestmark = pytest.mark.browser
CHROMIUM = (
    os.environ.get("ESSAY_BROWSER") or shutil.which("chromium") or "/usr/bin/chromium"
)
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the stdlib's signature
        pass


@pytest.fixture(scope="module")
def site_url(built_site, site_port):
    handler = functools.partial(QuietHandler, directory=str(built_site))
    server = ThreadingHTTPServer(("127.0.0.1", site_port), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/"
    server.shutdown()


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    if not shutil.which(CHROMIUM):
        pytest.fail(f"{CHROMIUM} not found: apt-get install -y chromium")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser, site_url):
    """A fresh page that records console errors and requests off the loopback host."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.problems = []
    page.on("pageerror", lambda error: page.problems.append(f"page error: {error}"))
    page.on(
        "console",
        lambda msg: (
            msg.type == "error" and page.problems.append(f"console: {msg.text}")
        ),
    )

    def check_host(request):
        url = urlparse(request.url)
        if url.scheme in ("http", "https") and url.hostname not in ("127.0.0.1",):
            page.problems.append(f"request to another host: {request.url}")

    page.on("request", check_host)
    yield page
    context.close()


def expect_charts_rendered(page, scheme: str) -> int:
    """Wait until every chart figure holds a vega SVG in the given scheme."""
    figures = page.locator("figure.essay-chart")
    count = figures.count()
    if count:
        page.wait_for_function(
            """scheme => [...document.querySelectorAll('figure.essay-chart')].every(
                f => f.dataset.scheme === scheme
                  && f.querySelector('.vega-target svg.marks'))""",
            arg=scheme,
            timeout=20_000,
        )
    return count


def test_every_chart_renders_light_and_dark_after_instant_navigation(page, site_url):
    page.goto(site_url)
    expect_charts_rendered(page, "light")
    page.evaluate("window.__notReloaded = true")
    for point in POINTS:
        page.locator(f'.verdict-table a[href$="points/{point.slug}/"]').first.click()
        page.wait_for_url(f"**/points/{point.slug}/")
        assert page.evaluate("window.__notReloaded === true"), "not instant navigation"
        assert expect_charts_rendered(page, "light") >= 1
        page.go_back()
        page.wait_for_url(site_url)

    page.locator("label[title='Switch to dark mode']").first.click()
    page.wait_for_function(
        "document.body.getAttribute('data-md-color-scheme') === 'slate'"
    )
    expect_charts_rendered(page, "dark")
    for point in POINTS:
        page.goto(f"{site_url}points/{point.slug}/")
        assert expect_charts_rendered(page, "dark") >= 1
    assert page.problems == []


def test_point_pages_render_directly_without_errors(page, site_url):
    for point in POINTS:
        page.goto(f"{site_url}points/{point.slug}/")
        assert expect_charts_rendered(page, "light") >= 1
        # The verdict badge and the provenance table made it to the page.
        assert page.locator(".verdict-badge").count() >= 1
    assert page.problems == []
