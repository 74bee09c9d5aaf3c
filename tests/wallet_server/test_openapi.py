"""The OpenAPI document covers every route the server answers; /docs and its assets come from here."""

from __future__ import annotations

import hashlib
import json
import re

from wallet_server.openapi import build_openapi
from wallet_server.pages import PAGE_PREFIXES, STATIC_PREFIX, WEB_DIR

# Not API operations: the web pages and their files (their own tests are in tests/browser).
_NOT_API = PAGE_PREFIXES


def _template(canonical: str) -> str:
    """aiohttp's ``{name:regex}`` placeholders as OpenAPI's ``{name}``."""
    return re.sub(r"\{(\w+)(:[^}]*)?\}", r"{\1}", canonical)


async def test_every_route_the_server_answers_is_documented(client) -> None:
    doc = await (await client.get("/openapi.json")).json()
    answered = {
        (route.method.lower(), _template(route.resource.canonical))
        for route in client.server.app.router.routes()
        if route.resource is not None and route.method not in ("HEAD", "OPTIONS", "*")
        and not route.resource.canonical.startswith(_NOT_API)
    }
    documented = {(method, path) for path, ops in doc["paths"].items() for method in ops}
    assert answered - documented == set(), "routes missing from /openapi.json"
    assert documented - answered == set(), "documented operations the server does not answer"


async def test_public_endpoints_are_in_the_document(client) -> None:
    paths = (await (await client.get("/openapi.json")).json())["paths"]
    for path in (
        "/.well-known/openid-credential-issuer/issuer",
        "/.well-known/oauth-authorization-server/issuer",
        "/issuer/credential-offer/{offer_id}",
        "/issuer/token",
        "/issuer/nonce",
        "/issuer/credential",
        "/issuer/notification",
        "/status/{list_id}",
        "/1.0/identifiers/{did}",
    ):
        assert path in paths, path
    token = paths["/issuer/token"]["post"]
    assert "application/x-www-form-urlencoded" in token["requestBody"]["content"]
    assert "application/statuslist+jwt" in paths["/status/{list_id}"]["get"]["responses"]["200"]["content"]


def test_every_schema_reference_resolves() -> None:
    doc = build_openapi()
    refs = set(re.findall(r'"#/components/schemas/([^"]+)"', json.dumps(doc)))
    assert refs, "the document references schemas"
    assert refs - set(doc["components"]["schemas"]) == set()
    schemes = {name for op in _operations(doc) for req in op.get("security", []) for name in req}
    assert schemes <= set(doc["components"]["securitySchemes"])


def _operations(doc: dict) -> list[dict]:
    return [op for ops in doc["paths"].values() for op in ops.values()]


def test_operation_ids_are_unique() -> None:
    ids = [op["operationId"] for op in _operations(build_openapi())]
    assert len(ids) == len(set(ids))


async def test_docs_page_loads_swagger_ui_from_this_server_only(client) -> None:
    page = await client.get("/docs")
    assert page.status == 200 and page.content_type == "text/html"
    html = await page.text()
    csp = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-eval" not in csp
    sources = re.findall(r"(?:src|href)=([^\s>]+)", html)
    assert sources and all(s.startswith("/") for s in sources), sources  # nothing from another origin
    assert "<noscript>" in html and "/v1/credentials" in html  # every operation, readable without scripts
    for source in sources:
        if source.startswith(STATIC_PREFIX):
            asset = await client.get(source)
            assert asset.status == 200, source
            assert asset.headers["X-Content-Type-Options"] == "nosniff"


async def test_vendored_assets_are_the_pinned_npm_files(client) -> None:
    """``make setup`` copies the pinned packages' own files; each served byte is what VERSIONS.json names."""
    versions = json.loads((WEB_DIR / "vendor" / "VERSIONS.json").read_text())
    lock = json.loads((WEB_DIR.parents[1] / "tools" / "package-lock.json").read_text())["packages"]
    for package, entry in versions.items():
        assert entry["version"] == lock[f"node_modules/{package}"]["version"], package
        for relative, digest in entry["files"].items():
            resp = await client.get(f"{STATIC_PREFIX}vendor/{relative}")
            if relative.endswith((".js", ".css")):
                assert resp.status == 200, relative
                assert hashlib.sha256(await resp.read()).hexdigest() == digest, relative


async def test_static_files_refuse_traversal_and_unknown_kinds(client) -> None:
    for path in (
        "/static/../pages.py",
        "/static/%2e%2e/pages.py",
        "/static/docs/../../pages.py",
        "/static/.hidden",
        "/static/docs/",
        "/static/vendor/VERSIONS.json/x",
        "/static/nope.js",
        "/static/docs/docs.js%00.py",
    ):
        resp = await client.get(path)
        assert resp.status == 404, path
        assert resp.content_type == "application/problem+json", path
    ok = await client.get("/static/docs/docs.js")
    assert ok.status == 200 and ok.content_type == "text/javascript"
    again = await client.get("/static/docs/docs.js", headers={"If-None-Match": ok.headers["ETag"]})
    assert again.status == 304
