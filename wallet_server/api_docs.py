"""The API reference page at ``/docs``: Swagger UI over ``/openapi.json``, served from this server.

Swagger UI comes from the pinned npm package ``swagger-ui-dist`` (copied into ``web/vendor/`` by
``make setup``); nothing is loaded from another origin. Every operation is also listed as a plain
HTML table for readers without JavaScript.
"""

from __future__ import annotations

import html
from typing import Any

__all__ = ["DOCS_CSP", "render_docs"]

#: Swagger UI sets inline styles on its own elements; scripts and everything else come from here.
DOCS_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)


def _operations_table(doc: dict[str, Any]) -> str:
    rows = []
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            auth = ", ".join(next(iter(s)) for s in op.get("security", [])) or "none"
            statuses = ", ".join(op["responses"])
            rows.append(
                f"<tr><td><code>{html.escape(method.upper())}</code></td><td><code>{html.escape(path)}</code></td>"
                f"<td>{html.escape(op['summary'])}</td><td>{html.escape(auth)}</td><td>{html.escape(statuses)}</td></tr>"
            )
    return (
        "<table><caption>Every operation</caption>"
        "<tr><th scope=col>method</th><th scope=col>path</th><th scope=col>what</th><th scope=col>auth</th>"
        "<th scope=col>answers</th></tr>" + "".join(rows) + "</table>"
    )


def render_docs(doc: dict[str, Any]) -> str:
    """The ``/docs`` page: Swagger UI, with every operation as an HTML table inside ``<noscript>``."""
    title = f"{doc['info']['title']} {doc['info']['version']}"
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        "<meta name=viewport content='width=device-width, initial-scale=1'>"
        f"<title>{html.escape(title)} — API reference</title>"
        "<link rel=stylesheet href=/static/vendor/swagger-ui/swagger-ui.css>"
        "<link rel=stylesheet href=/static/docs/docs.css>"
        "</head><body>"
        "<header class=docs-header><h1>API reference</h1>"
        f"<p>{html.escape(title)}. Machine-readable: <a href=/openapi.json>/openapi.json</a> (OpenAPI 3.1). "
        "Guides: <code>docs/wallet-api.md</code>.</p></header>"
        "<main id=swagger-ui aria-label='API operations'></main>"
        "<noscript>" + _operations_table(doc) + "</noscript>"
        "<script src=/static/vendor/swagger-ui/swagger-ui-bundle.js></script>"
        "<script src=/static/docs/docs.js></script>"
        "</body></html>"
    )
