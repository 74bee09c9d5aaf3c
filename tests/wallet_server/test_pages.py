"""The web pages' HTTP side: where they are, their headers, and that every file they load exists.
(What they do is tested in a real browser: tests/browser.)"""

from __future__ import annotations

import json
import re

import pytest

from wallet_server.pages import WEB_DIR, page_csp


@pytest.mark.parametrize("path", ["/app/", "/console/"])
async def test_pages_are_served_with_a_strict_policy(client, path: str) -> None:
    resp = await client.get(path)
    assert resp.status == 200 and resp.content_type == "text/html"
    csp = resp.headers["Content-Security-Policy"]
    assert csp == page_csp()
    for directive in ("script-src 'self'", "connect-src 'self';", "frame-ancestors 'none'", "object-src 'none'"):
        assert directive in csp
    assert "unsafe" not in csp
    assert resp.headers["Permissions-Policy"].startswith("camera=(self)")
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    html = await resp.text()
    assert "<script>" not in html and "style=" not in html  # nothing inline: the policy allows none
    for source in re.findall(r'(?:src|href)="([^"#]+)"', html):
        assert source.startswith("/"), source
        asset = await client.get(source)
        assert asset.status == 200, source


async def test_bare_paths_redirect_to_the_pages(client) -> None:
    for bare, page in (("/app", "/app/"), ("/console", "/console/")):
        resp = await client.get(bare, allow_redirects=False)
        assert resp.status == 301 and resp.headers["Location"] == page


async def test_the_wallet_is_an_installable_pwa(client) -> None:
    manifest = await client.get("/app/manifest.webmanifest")
    assert manifest.content_type == "application/manifest+json"
    body = json.loads(await manifest.text())
    assert (body["start_url"], body["scope"], body["display"]) == ("/app/", "/app/", "standalone")
    for icon in body["icons"]:
        assert (await client.get(icon["src"])).status == 200
    worker = await client.get("/app/sw.js")
    assert worker.status == 200 and worker.content_type == "text/javascript"
    # Every file the worker keeps for offline use exists (a missing one would break its install).
    shell = re.findall(r"'(/[^']*)'", (await worker.text()).split("const SHELL = [", 1)[1].split("]", 1)[0])
    assert shell
    for path in shell:
        assert (await client.get(path)).status == 200, path


def test_every_module_import_resolves() -> None:
    """Each relative ``import … from './x.js'`` in the pages' modules names a file that exists."""
    modules = [p for p in WEB_DIR.rglob("*.js") if "vendor" not in p.parts]
    assert modules
    for module in modules:
        for target in re.findall(r"""from '(\.{1,2}/[^']+)'""", module.read_text("utf-8")):
            assert (module.parent / target).resolve().is_file(), f"{module.name} imports {target}"


def test_no_page_script_writes_html() -> None:
    """Text from servers, services and QR codes goes into the page as text only."""
    for module in WEB_DIR.rglob("*.js"):
        if "vendor" in module.parts:
            continue
        source = module.read_text("utf-8")
        for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"):
            assert sink not in source, f"{module.name} uses {sink}"


def _tables(path: str) -> dict[str, set[str]]:
    text = (WEB_DIR / path).read_text("utf-8")
    en, ja = text.split("\n  en: {", 1)[1].split("\n  ja: {", 1)
    keys = re.compile(r"^\s+'([A-Za-z0-9_.]+)':", re.M)
    return {"en": set(keys.findall(en)), "ja": set(keys.findall(ja))}


def test_every_text_is_in_english_and_japanese() -> None:
    known: set[str] = set()
    for path in ("shared/i18n.js", "console/strings.js"):
        tables = _tables(path)
        assert tables["en"] and tables["en"] == tables["ja"], (path, tables["en"] ^ tables["ja"])
        known |= tables["en"]
    for module in WEB_DIR.rglob("*.js"):
        if "vendor" in module.parts:
            continue
        for key in re.findall(r"\bt\('([A-Za-z0-9_.]+)'", module.read_text("utf-8")):
            assert key in known, f"{module.name}: t('{key}') has no text"


async def test_the_ballot_pages_outside_origins_are_configured(aiohttp_client, database, clock) -> None:
    from tests.wallet_server.conftest import make_settings
    from wallet_server import create_app

    origins = ("https://vote.city.example", "https://rpc.city.example")
    client = await aiohttp_client(create_app(make_settings(database, web_connect_origins=origins), clock=clock))
    csp = (await client.get("/app/")).headers["Content-Security-Policy"]
    assert "connect-src 'self' https://vote.city.example https://rpc.city.example;" in csp
    assert "script-src 'self';" in csp  # scripts still come from this server only
