"""Shared pieces of the OpenID4VCI / OpenID4VP state machines: HTTP message values, randomness,
the short-lived state store port and its in-memory implementation, QR codes.

Nothing here performs I/O: a flow *describes* the HTTP request it needs (:class:`HttpRequest`) and
is handed the answer (:class:`HttpResponse`), the way httpx's auth flows work.
"""

from __future__ import annotations

import io
import re
import string
from collections.abc import Generator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol, TypeVar

from vcsdk._json import parse_json
from vcsdk._random import Randomness as Randomness  # re-exported: one protocol for every package
from vcsdk._random import SystemRandomness as SystemRandomness
from vcsdk._url import is_https_url as is_https_url  # re-exported for the protocol modules
from vcsdk.errors import ConflictError, InvalidInputError, ProtocolError

__all__ = [
    "HttpRequest",
    "HttpResponse",
    "InMemoryStateStore",
    "Randomness",
    "StateStore",
    "SystemRandomness",
    "render_qr",
]

T = TypeVar("T")

#: What ``application/x-www-form-urlencoded`` escapes: every byte but the unreserved ones (and the
#: space, which becomes ``+``), as :func:`urllib.parse.urlencode` does.
_FORM_ESCAPED = re.compile(rb"[^A-Za-z0-9_.\-~ ]")


def _form_byte(match: re.Match[bytes]) -> bytes:
    return b"%%%02X" % match.group()[0]


def form_urlencode(fields: Mapping[str, str]) -> bytes:
    """``fields`` as an ``application/x-www-form-urlencoded`` UTF-8 body: the bytes
    :func:`urllib.parse.urlencode` makes, with the few bytes to escape found by one regular
    expression instead of a Python step per byte (a presentation in a form is kilobytes long)."""
    return b"&".join(
        _FORM_ESCAPED.sub(_form_byte, name.encode("utf-8")).replace(b" ", b"+")
        + b"="
        + _FORM_ESCAPED.sub(_form_byte, value.encode("utf-8")).replace(b" ", b"+")
        for name, value in fields.items()
    )


#: RFC 6749 / OpenID4VP §5.2: nonce and state use only URL-safe ASCII.
URL_SAFE = re.compile(r"[A-Za-z0-9\-._~]{1,512}")


@dataclass(frozen=True, slots=True)
class HttpRequest:
    """An HTTP request a protocol flow needs sent; the caller performs it (I/O stays outside)."""

    method: Literal["GET", "POST", "DELETE"]
    url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes | None = None

    @classmethod
    def form(cls, url: str, fields: Mapping[str, str], *, headers: Mapping[str, str] | None = None) -> HttpRequest:
        """A POST with an ``application/x-www-form-urlencoded`` UTF-8 body."""
        merged = {"Content-Type": "application/x-www-form-urlencoded"}
        merged.update(headers or {})
        return cls("POST", url, merged, form_urlencode(fields))

    @classmethod
    def json(cls, url: str, value: Any, *, headers: Mapping[str, str] | None = None) -> HttpRequest:
        """A POST with an ``application/json`` body."""
        import json as _json

        merged = {"Content-Type": "application/json"}
        merged.update(headers or {})
        return cls("POST", url, merged, _json.dumps(value, separators=(",", ":")).encode("utf-8"))


@dataclass(frozen=True, slots=True)
class HttpResponse:
    """The answer to an :class:`HttpRequest`, as the caller received it."""

    status: int
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)

    def header(self, name: str) -> str | None:
        """A header's value, the name compared case-insensitively (RFC 9110 §5.1)."""
        wanted = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == wanted), None)

    @property
    def error_code(self) -> str | None:
        """The OAuth error of a refusal: the JSON body's ``error`` (RFC 6749 §5.2), or the
        ``WWW-Authenticate`` header's (RFC 6750 §3, RFC 9449 §7.1)."""
        if 200 <= self.status < 300:
            return None
        challenge = self.header("WWW-Authenticate") or ""
        found = re.search(r'error="([A-Za-z0-9_\-.~]{1,64})"', challenge)
        if found:
            return found.group(1)
        try:
            body = parse_json(self.body, what="error response")
        except InvalidInputError:
            return None
        code = body.get("error") if isinstance(body, dict) else None
        return code if isinstance(code, str) and URL_SAFE.fullmatch(code) else None

    def json_object(self, *, what: str) -> dict[str, Any]:
        """The body as a JSON object.

        :raises ProtocolError: (``invalid_response``) if it is not one.
        """
        try:
            value = parse_json(self.body, what=what)
        except InvalidInputError as exc:
            raise ProtocolError(f"{what} is not valid JSON", code="invalid_response") from exc
        if not isinstance(value, dict):
            raise ProtocolError(f"{what} is not a JSON object", code="invalid_response")
        return value

    def raise_for_error(self, *, what: str) -> None:
        """Unless the status is 2xx, raise the peer's OAuth-style error (``{"error": …}``, RFC 6749
        §5.2) as a :class:`ProtocolError` with that code (``server_error`` if the body has none).

        :param what: the request, for the message (``"token request"``).
        """
        if 200 <= self.status < 300:
            return
        code = self.error_code or "server_error"
        description = ""
        try:
            body = parse_json(self.body, what=what)
        except InvalidInputError:
            body = None
        if isinstance(body, dict) and isinstance(body.get("error_description"), str):
            description = f": {body['error_description'][:200]}"
        raise ProtocolError(f"{what} failed with HTTP {self.status} ({code[:64]}){description}", code=code[:64])


#: A protocol flow: yields the requests it needs, is sent the responses, returns its result.
Flow = Generator[HttpRequest, HttpResponse, T]


def raise_for_error(response: HttpResponse, *, what: str) -> None:
    """Turn an OAuth-style error answer (``{"error": …}``) into a :class:`ProtocolError` with that code."""
    response.raise_for_error(what=what)




SYSTEM_RANDOMNESS = SystemRandomness()


def random_token(randomness: Randomness, nbytes: int = 32) -> str:
    """A base64url token with ``nbytes`` of entropy (OpenID4VP §13.3: at least 128 bits)."""
    from vcsdk._b64 import b64url_encode

    return b64url_encode(randomness.token_bytes(nbytes))


def random_code(randomness: Randomness, length: int, *, alphabet: str = string.digits) -> str:
    """A uniformly random code of ``length`` characters from ``alphabet`` (rejection sampling)."""
    out: list[str] = []
    n = len(alphabet)
    limit = 256 - (256 % n)
    # Bounded: each byte is accepted with probability >= 1/2, and we ask for 4x the length per round.
    for _ in range(64):
        for byte in randomness.token_bytes(4 * length):
            if byte < limit:
                out.append(alphabet[byte % n])
                if len(out) == length:
                    return "".join(out)
    raise ProtocolError("randomness source did not produce usable bytes", code="server_error")


class StateStore(Protocol):
    """Short-lived protocol state: offers, pre-authorized codes, access tokens, nonces, requests.

    Values are JSON-compatible mappings. ``namespace`` separates kinds of state; every entry
    expires at ``expires_at`` and is then treated as absent. ``take`` must be atomic (read and
    delete as one step): it is what makes codes, nonces and responses single use. A SQL or Redis
    implementation lives with the server; :class:`InMemoryStateStore` serves tests and one process.
    """

    async def put(self, namespace: str, key: str, value: Mapping[str, Any], *, expires_at: datetime) -> None:
        """Store a new entry. :raises ConflictError: if the key already exists (and has not expired)."""
        ...

    async def get(self, namespace: str, key: str, *, now: datetime) -> dict[str, Any] | None: ...

    async def take(self, namespace: str, key: str, *, now: datetime) -> dict[str, Any] | None:
        """Atomically remove and return the entry, or ``None`` if absent or expired."""
        ...

    async def incr(self, namespace: str, key: str, *, expires_at: datetime, now: datetime) -> int:
        """Atomically add one to a counter (created at 0) and return the new value."""
        ...


class InMemoryStateStore:
    """A :class:`StateStore` in a dict, for tests and single-process deployments."""

    def __init__(self) -> None:
        self._data: dict[tuple[str, str], tuple[dict[str, Any], datetime]] = {}

    def _live(self, namespace: str, key: str, now: datetime) -> dict[str, Any] | None:
        entry = self._data.get((namespace, key))
        if entry is None:
            return None
        if entry[1] <= now:
            del self._data[(namespace, key)]
            return None
        return entry[0]

    async def put(self, namespace: str, key: str, value: Mapping[str, Any], *, expires_at: datetime) -> None:
        # Keys are random: any collision (even with an expired entry not yet swept) means a broken
        # randomness source or a replay, so it is refused rather than overwritten.
        if (namespace, key) in self._data:
            raise ConflictError(f"a {namespace} entry with this key already exists")
        self._data[(namespace, key)] = (dict(value), expires_at)

    async def get(self, namespace: str, key: str, *, now: datetime) -> dict[str, Any] | None:
        value = self._live(namespace, key, now)
        return None if value is None else dict(value)

    async def take(self, namespace: str, key: str, *, now: datetime) -> dict[str, Any] | None:
        value = self._live(namespace, key, now)
        if value is None:
            return None
        del self._data[(namespace, key)]
        return dict(value)

    async def incr(self, namespace: str, key: str, *, expires_at: datetime, now: datetime) -> int:
        value = self._live(namespace, key, now)
        count = (value or {}).get("count", 0) + 1
        self._data[(namespace, key)] = ({"count": count}, expires_at)
        return int(count)

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return f"InMemoryStateStore(entries={len(self._data)})"


def render_qr(data: str, *, kind: Literal["svg", "png"] = "svg", scale: int = 4) -> bytes:
    """Render ``data`` (an ``openid4vp://`` or ``openid-credential-offer://`` URI) as a QR code.

    :param kind: ``svg`` (UTF-8 XML) or ``png``.
    :param scale: module size in pixels.
    :raises InvalidInputError: if the data does not fit in a QR code.
    :return: the image bytes.
    """
    import segno

    try:
        qr = segno.make(data, error="m", micro=False)
    except Exception as exc:  # segno raises DataOverflowError (a ValueError) for too much data
        raise InvalidInputError("the URI is too long for a QR code; pass the request by reference") from exc
    buf = io.BytesIO()
    qr.save(buf, kind=kind, scale=scale)
    return buf.getvalue()
