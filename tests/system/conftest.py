"""Fixtures of the system tests that more than one file uses."""

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, sync_playwright

from system_programs import require

ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


@pytest.fixture(name="browser", scope="session")
def _browser() -> Iterator[Browser]:
    """Debian's Chromium, headless, driven by Playwright."""
    chromium = require("chromium")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=ARGS)
        yield browser
        browser.close()
