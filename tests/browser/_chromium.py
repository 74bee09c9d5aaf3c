"""Headless Chromium for the browser tests: Debian's /usr/bin/chromium driven by Playwright.

Nothing downloads a browser: Playwright is told the executable. Every page a test opens records
console errors, uncaught exceptions, Content-Security-Policy violations and any request that is not
to 127.0.0.1; :meth:`Screen.check` fails on each of them, runs axe-core (pinned in tools/, injected
by the DevTools protocol, so the pages' CSP stays as strict as in production) and saves a
screenshot at phone size.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from playwright.async_api import Browser, BrowserContext, ConsoleMessage, Page, Request, Response, async_playwright

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
PHONE = {"width": 390, "height": 844}
AXE = ROOT / "tools" / "node_modules" / "axe-core" / "axe.min.js"
# Where screenshots go: docs/screenshots with `make screenshots`, else the test's temporary folder.
SCREENSHOTS_ENV = "VCSDK_SCREENSHOTS"
_BLOCKING = ("serious", "critical")
_UNSTICK = """() => { window.scrollTo(0, 0); for (const el of document.querySelectorAll('nav, .statusbar')) {
  if (getComputedStyle(el).position === 'sticky') { el.dataset.sticky = '1'; el.style.position = 'static' } } }"""
_RESTICK = """() => { for (const el of document.querySelectorAll('[data-sticky]')) {
  el.style.position = ''; delete el.dataset.sticky } }"""


@asynccontextmanager
async def chromium(*extra_args: str) -> AsyncIterator[Browser]:
    """Debian's Chromium, headless. Playwright starts each launch with a fresh, empty
    ``--user-data-dir`` of its own and removes it when the browser closes."""
    if not Path(CHROMIUM).exists():
        raise RuntimeError(f"{CHROMIUM} is missing: install Debian's chromium and chromium-driver (.ci/run does)")
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=[*CHROMIUM_ARGS, *extra_args]
        )
        try:
            yield browser
        finally:
            await browser.close()


def _is_local(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("data", "blob", "about") or parts.hostname in ("127.0.0.1", "localhost")


@dataclass
class Screen:
    """One page at phone size, and everything it did wrong."""

    page: Page
    shots: Path
    problems: list[str] = field(default_factory=list)
    outside: list[str] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)

    async def check(self, name: str, *, full_page: bool = False) -> None:
        """Assert the screen is clean (no errors, nothing from outside, no serious or critical axe
        violation) and save ``<name>.png``."""
        assert not self.problems, f"{name}: {self.problems}"
        assert not self.outside, f"{name}: requests left 127.0.0.1: {self.outside}"
        violations = await self.page.evaluate(
            """async () => {
                const result = await axe.run(document, {resultTypes: ['violations']});
                return result.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                    nodes: v.nodes.slice(0, 5).map(n => n.target.join(' '))}));
            }"""
        )
        blocking = [v for v in violations if v["impact"] in _BLOCKING]
        assert not blocking, f"{name}: axe-core found\n" + json.dumps(blocking, indent=1, ensure_ascii=False)
        self.shots.mkdir(parents=True, exist_ok=True)
        if full_page:  # sticky bars would be drawn where the viewport ended; lay them out in place
            await self.page.evaluate(_UNSTICK)
        await self.page.screenshot(path=str(self.shots / f"{name}.png"), full_page=full_page)
        if full_page:
            await self.page.evaluate(_RESTICK)
        self.checked.append(name)


def screenshots_dir(default: Path) -> Path:
    configured = os.environ.get(SCREENSHOTS_ENV)
    return (ROOT / configured) if configured else default


async def open_screen(browser: Browser, shots: Path, *, locale: str = "en-GB", **context: Any) -> Screen:
    """A new browser context (its own storage) at 390x844 with one page, watched."""
    ctx: BrowserContext = await browser.new_context(viewport=PHONE, locale=locale, **context)
    await ctx.add_init_script(path=str(AXE))
    page = await ctx.new_page()
    screen = Screen(page, shots)

    def on_console(message: ConsoleMessage) -> None:
        # An API's 4xx answer (a wrong PIN) is part of the journey; responses are judged below.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            screen.problems.append(f"console: {message.text}")

    def on_response(response: Response) -> None:
        path = urlsplit(response.url).path
        api = path.startswith(("/v1/", "/admin/", "/issuer/"))
        if response.status >= 500 or (response.status >= 400 and not api):
            screen.problems.append(f"{response.status} for {response.request.method} {path}")

    def on_request(request: Request) -> None:
        if not _is_local(request.url):
            screen.outside.append(request.url)

    page.on("console", on_console)
    page.on("pageerror", lambda exc: screen.problems.append(f"uncaught: {exc}"))
    page.on("request", on_request)
    page.on("response", on_response)

    async def refuse_outside(route: Any) -> None:
        await (route.continue_() if _is_local(route.request.url) else route.abort())

    await ctx.route("**/*", refuse_outside)
    return screen


def qr_video(text: str, path: Path, *, width: int = 640, height: int = 480) -> Path:
    """A one-frame Y4M video of ``text`` as a QR code, for Chromium's fake camera
    (``--use-file-for-fake-video-capture``): the wallet's scanner reads it as a phone camera would."""
    import segno

    qr = segno.make(text, error="m")
    rows = list(qr.matrix_iter(scale=1, border=4))
    scale = min(width, height) * 9 // 10 // len(rows)
    size = len(rows) * scale
    left, top = (width - size) // 2, (height - size) // 2
    luma = bytearray(b"\xeb" * (width * height))  # white (Y'=235)
    for y, row in enumerate(rows):
        for x, dark in enumerate(row):
            if dark:
                for dy in range(scale):
                    start = (top + y * scale + dy) * width + left + x * scale
                    luma[start : start + scale] = b"\x10" * scale  # black (Y'=16)
    chroma = b"\x80" * (width // 2 * height // 2)
    header = f"YUV4MPEG2 W{width} H{height} F10:1 Ip A1:1 C420jpeg\n".encode()
    path.write_bytes(header + b"FRAME\n" + bytes(luma) + chroma + chroma)
    return path
