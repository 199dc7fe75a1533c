"""The dashboard in a real Chromium against a real server: sign in, keys and the gateway, usage and
its CSV, a provider credential, an invitation, the operator suspending an org; nothing leaves the
server's origin and the console stays clean. Screenshots of every page go to build/screenshots/."""

from __future__ import annotations

import asyncio
import csv
import io
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from keyplane.config import Settings
from keyplane.db import create_engine, create_sessionmaker, session_scope
from keyplane.orgs.bootstrap import bootstrap
from tests import backends
from tests.browser import LOCAL_HOSTS
from tests.factories import DEFAULT_PASSWORD
from tests.fakes.upstream import RunningUpstream
from tests.harness import ServedApp

ROOT = Path(__file__).resolve().parents[3]
SCREENSHOTS = ROOT / "build" / "screenshots"
EMAIL = "owner@operator.test"
UPSTREAM_SECRET = "sk-upstream-browser-secret"
WAIT_MS = 60_000  # a bound for a hang on a loaded machine, not a speed expectation
GATEWAY_WAIT_SECONDS = 20.0
PAGES = {
    "overview": "/dashboard/",
    "keys": "/dashboard/keys",
    "usage": "/dashboard/usage",
    "usage-by-model": "/dashboard/usage?group=model",
    "providers": "/dashboard/providers",
    "budgets": "/dashboard/budgets",
    "members": "/dashboard/members",
    "workspaces": "/dashboard/workspaces",
    "audit-log": "/dashboard/audit",
    "organizations": "/dashboard/organizations",
    "prices": "/dashboard/prices",
}


@dataclass
class Watch:
    """What the pages did that they must not: leave the origin, fail a request, log an error."""

    origin: str
    left: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    console: list[str] = field(default_factory=list)

    def route(self, request_route: Any) -> None:
        url = request_route.request.url
        if urlsplit(url).hostname in LOCAL_HOSTS and url.startswith(self.origin):
            request_route.continue_()
        else:
            self.left.append(url)
            request_route.abort()

    def response(self, response: Any) -> None:
        if response.status >= 500:
            self.failed.append(f"{response.status} {response.url}")


@pytest.fixture(scope="module")
def dashboard_server(
    sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory, upstream: RunningUpstream
) -> Iterator[ServedApp]:
    directory = tmp_path_factory.mktemp("dashboard")
    settings = Settings(
        data_dir=directory / "data",
        database_url=backends.sqlite_copy(sqlite_template, directory),
        secret_key="test-secret-key-for-keyplane-tests",
        redis_url=None,
        model_discovery_on_write=False,
        model_discovery_interval_seconds=0,
        usage_flush_interval_seconds=0.05,
        allowed_upstream_hosts="127.0.0.1",
    )

    async def initialize() -> None:
        engine = create_engine(settings.resolved_database_url)
        async with session_scope(create_sessionmaker(engine)) as session:
            await bootstrap(session=session, org_name="Operator", email=EMAIL, password=DEFAULT_PASSWORD)
        await engine.dispose()

    with ThreadPoolExecutor(1) as pool:  # Playwright's sync API holds this thread's event loop
        pool.submit(asyncio.run, initialize()).result()
    served = ServedApp(settings).start()
    yield served
    served.stop()


def chat(base_url: str, key: str) -> int:
    body = {"model": "fake-model", "messages": [{"role": "user", "content": "hi"}]}
    headers = {"Authorization": f"Bearer {key}"}
    return httpx.post(base_url + "/v1/chat/completions", json=body, headers=headers, timeout=30).status_code


def until_status(base_url: str, key: str, wanted: int) -> None:
    """The gateway's key cache is invalidated on change; poll within a generous bound."""
    deadline = time.monotonic() + GATEWAY_WAIT_SECONDS
    while (status := chat(base_url, key)) != wanted:
        assert time.monotonic() < deadline, f"gateway kept answering {status}, wanted {wanted}"
        time.sleep(0.05)


def test_the_dashboard_works_end_to_end_in_chromium(
    browser: Any, dashboard_server: ServedApp, upstream: RunningUpstream
) -> None:
    base = dashboard_server.base_url
    watch = Watch(origin=base)
    context = browser.new_context(
        viewport={"width": 1280, "height": 800},
        accept_downloads=True,
        permissions=["clipboard-read", "clipboard-write"],
    )
    context.route("**/*", watch.route)
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    page.on(
        "console", lambda message: watch.console.append(message.text) if message.type == "error" else None
    )
    page.on("pageerror", lambda error: watch.console.append(str(error)))
    page.on("response", watch.response)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    # signed out: the sign-in page; a wrong password is an alert
    page.goto(base + "/dashboard/keys")
    assert page.url.startswith(base + "/dashboard/login")
    page.screenshot(path=SCREENSHOTS / "sign-in.png")
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password").fill("wrong password")
    page.get_by_role("button", name="Sign in").click()
    assert "Invalid email or password" in page.get_by_role("alert").inner_text()
    page.screenshot(path=SCREENSHOTS / "sign-in-error.png")
    # the refused sign-in is answered 401, which Chromium logs; that one line is expected, no other
    assert watch.console == [
        "Failed to load resource: the server responded with a status of 401 (Unauthorized)"
    ]
    watch.console.clear()
    page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(base + "/dashboard/keys")  # back where the user was going
    nav = page.get_by_role("navigation", name="Main")
    for name in (
        "Overview",
        "Keys",
        "Usage",
        "Providers",
        "Budgets",
        "Members",
        "Workspaces",
        "Audit log",
        "Organizations",
        "Prices",
    ):
        assert nav.get_by_role("link", name=name, exact=True).count() == 1, name

    # the operator credits its own org, then adds a provider credential; the secret never comes back
    nav.get_by_role("link", name="Organizations").click()
    page.get_by_label("Credit for Operator (USD)").fill("25")
    page.get_by_role("button", name="Add credit").first.click()
    assert "Credit added." in page.get_by_role("status").inner_text()
    nav.get_by_role("link", name="Prices").click()
    page.get_by_label("Model", exact=True).fill("fake-model")
    page.get_by_label("Input (USD per 1M tokens)", exact=True).fill("2000")
    page.get_by_label("Output (USD per 1M tokens)").fill("8000")
    page.get_by_role("button", name="Save price").click()
    assert "Price saved." in page.get_by_role("status").inner_text()
    nav.get_by_role("link", name="Providers").click()
    page.get_by_label("Provider", exact=True).select_option("vllm")
    page.get_by_label("Name", exact=True).fill("loopback")
    page.get_by_label("API key").fill(UPSTREAM_SECRET)
    page.get_by_label("Server URL").fill(f"http://127.0.0.1:{upstream.port}")
    page.get_by_label("Models").fill("fake-model")
    page.get_by_label("Platform credential (serves every org; cost draws on their balance)").check()
    page.get_by_role("button", name="Add credential").click()
    assert "Credential saved." in page.get_by_role("status").inner_text()
    assert page.get_by_role("cell", name="loopback").count() == 1
    assert UPSTREAM_SECRET not in page.content()

    # a key: created, its secret read from the `New key` field, used at the gateway
    nav.get_by_role("link", name="Keys").click()
    page.get_by_label("Name", exact=True).fill("browser key")
    page.get_by_label("Limit (USD)").fill("5")
    page.get_by_role("button", name="Create key").click()
    new_key = page.get_by_label("New key")
    assert new_key.get_attribute("readonly") is not None
    secret = new_key.input_value()
    assert secret.startswith("sk-kp-v1-")
    page.get_by_role("button", name="Copy").click()
    assert page.evaluate("navigator.clipboard.readText()") == secret
    page.screenshot(path=SCREENSHOTS / "keys-created.png")
    assert chat(base, secret) == 200

    # disabled, the gateway refuses it; enabled, it answers again
    row = page.get_by_role("row").filter(has_text="browser key")
    row.get_by_role("button", name="Disable").click()
    assert "Key updated." in page.get_by_role("status").inner_text()
    until_status(base, secret, 401)
    page.get_by_role("row").filter(has_text="browser key").get_by_role("button", name="Enable").click()
    until_status(base, secret, 200)
    assert chat(base, secret) == 200

    # usage appears after the traffic; the CSV export holds the same rows as the table
    nav.get_by_role("link", name="Usage").click()
    deadline = time.monotonic() + GATEWAY_WAIT_SECONDS
    while page.get_by_role("cell", name="fake-model").count() < 3:
        assert time.monotonic() < deadline, "usage did not appear"
        page.reload()
    rows = page.locator("table tbody tr")
    table = [rows.nth(index).locator("td").nth(2).inner_text() for index in range(rows.count())]
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Export CSV").click()
    exported = list(csv.DictReader(io.StringIO(Path(download_info.value.path()).read_text())))
    assert len(exported) == len(table) >= 3
    assert [row["model"] for row in exported] == table
    page.get_by_label("Group by").select_option("model")
    page.get_by_role("button", name="Apply filters").click()
    assert page.get_by_role("row").filter(has_text="fake-model").locator("td").nth(1).inner_text() == str(
        len(table)
    )

    # an invitation: the token shown once
    nav.get_by_role("link", name="Members").click()
    page.get_by_label("Email").fill("new.person@operator.test")
    page.get_by_role("button", name="Invite").click()
    assert page.get_by_label("Invitation token").input_value().startswith("kp_inv_")
    assert page.get_by_role("cell", name="new.person@operator.test").count() == 1

    # the operator creates an org (with its owner's invitation) and suspends it
    nav.get_by_role("link", name="Organizations").click()
    page.get_by_label("Name", exact=True).fill("Globex")
    page.get_by_label("Owner email").fill("boss@globex.test")
    page.get_by_role("button", name="Create organization").click()
    assert page.get_by_label("Invitation token").input_value().startswith("kp_inv_")
    page.get_by_role("button", name="Suspend Globex").click()
    assert page.get_by_role("row").filter(has_text="Globex").get_by_text("suspended").count() == 1
    assert page.get_by_role("button", name="Resume Globex").count() == 1

    # every page at 1280x800, the overview at phone width too; each has a chart or tables with headers
    for name, path in PAGES.items():
        page.goto(base + path)
        assert page.get_by_role("heading", level=1).count() == 1, name
        page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=True)
    page.goto(base + "/dashboard/")
    chart = page.get_by_role("img", name="Spend per day")
    assert chart.count() == 1 and "$" in (chart.get_attribute("aria-label") or "")
    page.emulate_media(color_scheme="dark")  # the system's dark setting: the dark theme
    page.screenshot(path=SCREENSHOTS / "overview-dark.png", full_page=True)
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(20, 23, 29)"
    page.emulate_media(color_scheme="light")
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=SCREENSHOTS / "overview-phone.png", full_page=True)
    page.goto(base + "/dashboard/keys")
    page.screenshot(path=SCREENSHOTS / "keys-phone.png", full_page=True)

    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(base + "/dashboard/login")
    context.close()
    assert watch.left == [], "requests left the server's origin"
    assert watch.failed == [] and watch.console == []
