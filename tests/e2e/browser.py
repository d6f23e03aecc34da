"""Fixtures of the browser tests: a real headless Chromium (Debian's, installed by
scripts/system-deps) driven by Playwright.

Playwright's own browser download is not used (this network has no route to it): the browser
is the system's, named by ``NEWSWIRE_CHROMIUM`` or found on PATH. Flags: no sandbox (tests
run as root here), and none of Chromium's background calls home, which a closed network
refuses many at a time.
"""

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Browser, Page, async_playwright

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


def chromium_path() -> str:
    given = os.environ.get("NEWSWIRE_CHROMIUM")
    found = given or shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        pytest.fail(
            "no Chromium: scripts/system-deps installs Debian's chromium package "
            "(or set NEWSWIRE_CHROMIUM to a Chromium binary)"
        )
    return found


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as p:
        b = await p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_FLAGS)
        try:
            yield b
        finally:
            await b.close()


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[Page]:
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    pg = await context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        yield pg
    finally:
        await context.close()
    assert not errors, f"JavaScript errors in the console: {errors}"


async def accessibility_problems(page: Page) -> list[str]:
    """axe-core's violations on the page as it is (WCAG 2.1 A and AA rules: labels, names,
    contrast, landmarks, ARIA use), one line each; axe-core ships inside the
    axe-playwright-python package, so nothing is fetched."""
    results = await Axe().run(
        page, options={"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21aa"]}}
    )
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in results.response["violations"]
    ]
