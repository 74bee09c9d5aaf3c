"""/docs in a real browser: Swagger UI renders every operation from /openapi.json, nothing leaves
127.0.0.1, and the page passes axe-core."""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import expect

from tests._net import serve
from tests.browser._chromium import open_screen
from tests.wallet_server.conftest import make_settings
from wallet_server import create_app


async def test_swagger_ui_renders_the_whole_document_from_this_server(browser, shots: Path, tmp_path: Path) -> None:
    app = create_app(make_settings((f"sqlite:///{tmp_path / 'wallet.db'}", None)))
    async with serve(app) as base:
        screen = await open_screen(browser, shots)
        await screen.page.goto(f"{base}/docs")
        operations = screen.page.locator(".opblock")
        # Swagger UI renders a few hundred operations in script: allow a loaded machine its time.
        await expect(operations.first).to_be_visible(timeout=30_000)
        paths = await screen.page.locator(".opblock-summary-path").all_inner_texts()
        normalized = {p.replace("\u200b", "").strip() for p in paths}
        for path in ("/v1/enrolment", "/issuer/token", "/status/{list_id}", "/1.0/identifiers/{did}",
                     "/.well-known/openid-credential-issuer/issuer", "/admin/v1/issuances"):
            assert path in normalized, path
        await screen.check("api-docs")
        # An operation opens with the keyboard alone.
        await screen.page.locator(".opblock-summary-control").first.focus()
        await screen.page.keyboard.press("Enter")
        await expect(screen.page.locator(".opblock.is-open").first).to_be_visible()
        await screen.check("api-docs-operation")
