"""The human-readable API page: every operation of an OpenAPI document as one HTML table."""

from __future__ import annotations

import html
from typing import Any

__all__ = ["render_docs"]


def render_docs(doc: dict[str, Any]) -> str:
    """A self-contained HTML page listing every operation (no scripts, no outside assets)."""
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
        "<!doctype html><html lang=en><meta charset=utf-8><title>vcsdk wallet API</title>"
        "<style>body{font-family:system-ui;margin:2em}td,th{padding:.3em .8em;text-align:left}"
        "tr:nth-child(even){background:#f4f4f4}</style>"
        f"<h1>{html.escape(doc['info']['title'])} {html.escape(doc['info']['version'])}</h1>"
        f"<p>{html.escape(doc['info']['description'])}</p>"
        "<p>Machine-readable: <a href=/openapi.json>/openapi.json</a> (OpenAPI 3.1).</p>"
        "<table><tr><th>method</th><th>path</th><th>what</th><th>auth</th><th>answers</th></tr>"
        + "".join(rows)
        + "</table></html>"
    )
