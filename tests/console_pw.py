"""Playwright helpers shared by the console's browser tests: tests/unit/test_console_browser.py
(a control plane with a seeded store, no platform) and tests/e2e/test_console.py (the live
platform). Debian's Chromium, launched by its path (nothing is downloaded), a fresh profile per
context, sign-in through the URL fragment as `sentinel console` does, full-page screenshots."""
from __future__ import annotations

import tempfile
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync"]


@contextmanager
def fresh_context(pw, width: int = 1280, height: int = 900, scale: float = 1, timeout_ms: int = 15000):
    """A persistent Chromium context on a temporary profile: no cookie or storage carried over.
    `ctx.errors` collects the pages' uncaught script errors."""
    assert Path(CHROMIUM).exists(), "chromium is not installed: run `apt-get install -y chromium`"
    with tempfile.TemporaryDirectory(prefix="sentinel-chromium-") as profile:
        ctx = pw.chromium.launch_persistent_context(profile, executable_path=CHROMIUM, headless=True, args=ARGS,
                                                    viewport={"width": width, "height": height},
                                                    device_scale_factor=scale)
        ctx.set_default_timeout(timeout_ms)
        ctx.errors = []
        ctx.on("weberror", lambda e: ctx.errors.append(str(e.error)))
        try:
            yield ctx
        finally:
            ctx.close()


@pytest.fixture(scope="module")
def pw():
    # Missing Playwright is a failure, not a skip: the console is only tested in a real browser.
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("playwright is not installed: `pip install -e '.[test]'` (scripts/install.sh) installs it.")
    with sync_playwright() as p:
        yield p


def screenshot(page, folder: Path, name: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    page.screenshot(path=str(path), full_page=True)
    return path


def signed_in(ctx, base: str, token: str, route: str = "#/apps"):
    """The context's page, signed in with `token` (once) and showing `route`."""
    page = ctx.pages[0] if ctx.pages else ctx.new_page()
    if page.url.startswith(f"{base}/console#/"):  # signed in already: just go there
        page.evaluate("r => { location.hash = r; }", route)
        page.wait_for_function("r => location.hash === r", arg=route)
        page.wait_for_selector("#page h1")
        return page
    page.requests = []
    page.on("request", lambda r: page.requests.append(r))
    app = route.split("/")[2] if route.startswith("#/apps/") else None
    page.goto(f"{base}/console#token={token}" + (f"&app={app}" if app else ""))
    page.wait_for_selector("#page h1")
    if route not in ("#/apps", f"#/apps/{app}"):
        page.evaluate("r => { location.hash = r; }", route)
    page.wait_for_function("r => location.hash === r", arg=route)
    return page
