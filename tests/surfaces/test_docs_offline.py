"""/docs and /redoc work offline: a real Chromium with every non-local request blocked renders the
Swagger UI operations and the ReDoc reference, and every asset the pages name is keyplane's own."""

from __future__ import annotations

import glob
import re
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx
import pytest

import keyplane
from keyplane.config import Settings
from keyplane.surfaces.docs import ASSETS_DIR
from tests import backends
from tests.browser import LOCAL_HOSTS
from tests.harness import ServedApp

RENDER_TIMEOUT_MS = 60_000  # a bound for a hang on a loaded machine, not a speed expectation
PYPROJECT = Path(keyplane.__file__).resolve().parents[2] / "pyproject.toml"


@pytest.fixture(scope="module")
def docs_server(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedApp]:
    directory = tmp_path_factory.mktemp("docs")
    settings = Settings(
        data_dir=directory / "data",
        database_url=backends.sqlite_copy(sqlite_template, directory),
        secret_key="test-secret-key-for-keyplane-tests",
        redis_url=None,
    )
    served = ServedApp(settings).start()
    yield served
    served.stop()


@dataclass
class Visit:
    """What a page asked for: `blocked` went for another host (aborted by the test), `refused` was
    stopped by the page's own Content-Security-Policy before leaving, `failed` is a local error."""

    blocked: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    loaded: list[str] = field(default_factory=list)

    def request_failed(self, url: str) -> None:
        (self.failed if urlsplit(url).hostname in LOCAL_HOSTS else self.refused).append(url)


def open_offline(browser: Any, url: str) -> tuple[Any, Visit]:
    """A page at `url` where any request that leaves the machine is aborted and remembered."""
    visit = Visit()
    context = browser.new_context()

    def route(request_route: Any) -> None:
        target = request_route.request.url
        if urlsplit(target).hostname in LOCAL_HOSTS:
            request_route.continue_()
        else:
            visit.blocked.append(target)
            request_route.abort()

    context.route("**/*", route)
    page = context.new_page()
    page.on("requestfailed", lambda request: visit.request_failed(request.url))
    page.on(
        "response",
        lambda response: (visit.loaded if response.ok else visit.failed).append(response.url),
    )
    page.goto(url)
    return page, visit


def test_swagger_ui_renders_the_operations_with_the_network_blocked(
    browser: Any, docs_server: ServedApp
) -> None:
    page, visit = open_offline(browser, docs_server.base_url + "/docs")
    page.wait_for_selector(".opblock-summary", timeout=RENDER_TIMEOUT_MS)
    assert page.locator(".opblock").count() > 20  # the operations list, from /openapi.json
    assert (visit.blocked, visit.failed) == ([], [])
    assert any(url.endswith("/static/docs/swagger-ui-bundle.js") for url in visit.loaded)
    assert any(url.endswith("/static/docs/swagger-ui.css") for url in visit.loaded)
    page.context.close()


def test_redoc_renders_the_reference_with_the_network_blocked(browser: Any, docs_server: ServedApp) -> None:
    page, visit = open_offline(browser, docs_server.base_url + "/redoc")
    page.wait_for_selector("[data-section-id^='operation/']", state="attached", timeout=RENDER_TIMEOUT_MS)
    assert page.locator("[data-section-id^='operation/']").count() > 20
    assert (visit.blocked, visit.failed) == ([], [])  # its hard-coded CDN logo is `refused` by the CSP
    assert any(url.endswith("/static/docs/redoc.standalone.js") for url in visit.loaded)
    page.context.close()


ASSET_REFERENCE = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']|url:\s*['"]([^'"]+)['"]""")


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_every_asset_a_docs_page_names_is_served_by_keyplane(docs_server: ServedApp, page: str) -> None:
    answer = httpx.get(docs_server.base_url + page)
    assert "default-src 'self'" in answer.headers["content-security-policy"]
    html = answer.text
    references = [a or b for a, b in ASSET_REFERENCE.findall(html)]
    assert references and "http" not in " ".join(references)  # only paths on this server
    for reference in references:
        response = httpx.get(urljoin(docs_server.base_url + page, reference))
        assert response.status_code == 200, reference


def test_the_wheel_ships_every_docs_asset() -> None:
    patterns = tomllib.loads(PYPROJECT.read_text())["tool"]["setuptools"]["package-data"]["keyplane"]
    root = Path(keyplane.__file__).parent
    shipped = [path.relative_to(root).as_posix() for path in ASSETS_DIR.rglob("*") if path.is_file()]
    assert {"static/docs/swagger-ui-bundle.js", "static/docs/redoc.standalone.js"} <= set(shipped)
    packaged = {name for pattern in patterns for name in glob.glob(pattern, root_dir=root, recursive=True)}
    assert sorted(set(shipped) - packaged) == []
