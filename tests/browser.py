"""The one real browser the suite drives: Debian's Chromium through Playwright (no `playwright
install`). In CI a missing browser fails the run; elsewhere the tests that need it skip."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests import backends

CHROMIUM = os.environ.get("KEYPLANE_TEST_CHROMIUM", "/usr/bin/chromium")
LOCAL_HOSTS = {"127.0.0.1", "localhost"}


def browser_unavailable(what: str) -> None:
    """In CI a missing browser fails the run; elsewhere the test skips and says what to install."""
    message = f"{what} (apt-get install chromium; pip install playwright)"
    if backends.IN_CI:
        pytest.fail(f"CI=true and {message}", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """A headless Chromium for the module (its own Playwright driver, closed after the module)."""
    try:
        from playwright.sync_api import Error, sync_playwright
    except ImportError:
        browser_unavailable("the playwright package is not installed")
    if not Path(CHROMIUM).exists():
        browser_unavailable(f"no Chromium at {CHROMIUM} (KEYPLANE_TEST_CHROMIUM)")
    with sync_playwright() as playwright:
        try:
            chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        except Error as exc:
            browser_unavailable(f"Chromium at {CHROMIUM} does not start: {exc}")
        yield chromium
        chromium.close()
