"""Fetching status lists over HTTP (aiohttp), with the SSRF rules a verifier needs.

* only ``https`` URLs, except ``http`` to a loopback address when the caller allows it (development);
* no private, loopback or link-local host: address literals are refused before a request, host
  names where they are resolved (unless listed in ``private_hosts``);
* redirects are followed by hand, only to the same origin (scheme, host, port), at most a few hops;
* the body is read with a size limit and a timeout; transport failures become
  :class:`~vcsdk.errors.StatusListUnavailableError`.
"""

from __future__ import annotations

import asyncio
import re
import ssl
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Final, Protocol
from urllib.parse import urljoin, urlsplit

import aiohttp

from vcsdk._body import read_capped
from vcsdk._egress import PrivateAddressError, PublicAddressResolver, client_host, egress_refusal, normal_host
from vcsdk.errors import InvalidInputError, StatusListUnavailableError

__all__ = [
    "FetchedStatusList",
    "HttpStatusListFetcher",
    "PublicAddressResolver",
    "StaticStatusListSource",
    "StatusListSource",
    "check_status_url",
    "parse_max_age",
]

DEFAULT_MAX_RESPONSE_BYTES: Final = 4 * 1024 * 1024
_REDIRECTS: Final = frozenset({301, 302, 303, 307, 308})
_MAX_AGE = re.compile(r"(?:^|,)\s*(?:s-)?max-age\s*=\s*\"?(\d{1,10})\"?\s*(?:,|$)", re.IGNORECASE)
_NO_CACHE = re.compile(r"(?:^|,)\s*(no-store|no-cache)\s*(?:,|$)", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class FetchedStatusList:
    """What a status server answered.

    :ivar body: the token bytes (``None`` when ``not_modified``).
    :ivar not_modified: the server answered 304 to our ``If-None-Match``.
    :ivar etag: the ``ETag`` to send next time.
    :ivar max_age: ``Cache-Control: max-age`` in seconds (0 for ``no-cache``/``no-store``).
    """

    body: bytes | None
    not_modified: bool = False
    etag: str | None = None
    max_age: int | None = None


class StatusListSource(Protocol):
    """Where a checker gets status list tokens: HTTP in production, files or memory in tools and tests."""

    async def fetch(self, uri: str, *, accept: str, etag: str | None = None) -> FetchedStatusList: ...


def parse_max_age(cache_control: str | None) -> int | None:
    """``max-age`` from a ``Cache-Control`` header; 0 for ``no-cache``/``no-store``; ``None`` if absent."""
    if not cache_control:
        return None
    if _NO_CACHE.search(cache_control):
        return 0
    m = _MAX_AGE.search(cache_control)
    return int(m.group(1)) if m else None


def check_status_url(url: str, *, allow_loopback_http: bool = False, private_hosts: Iterable[str] = ()) -> None:
    """Refuse URLs a verifier must not fetch (the shared egress rule, :func:`vcsdk._egress.egress_refusal`).

    :param allow_loopback_http: accept ``http://127.0.0.1``/``[::1]``/``localhost`` (development only).
    :param private_hosts: private hosts (names or addresses) the verifier may fetch from anyway.
    :raises StatusListUnavailableError: for anything but ``https`` (or allowed loopback ``http``),
        a host that is not plain ASCII, a private, loopback or link-local address after the HTTP
        client's IDNA/NFKC normalisation (unless allowed), URLs with credentials, or without a host.
    """
    reason = egress_refusal(url, allow_loopback_http=allow_loopback_http, private_hosts=private_hosts)
    if reason is not None:
        scheme = url.split(":", 1)[0][:16] if isinstance(url, str) else ""
        raise StatusListUnavailableError(
            f"status list URL refused: {reason}", details={"scheme": scheme} if "https" in reason else None
        )


def _origin(url: str) -> tuple[str, str, int | None]:
    p = urlsplit(url)
    default = {"https": 443, "http": 80}.get(p.scheme)
    return (p.scheme, client_host(url), p.port or default)


class HttpStatusListFetcher:
    """Fetch status lists with aiohttp.

    :param session: an existing ``aiohttp.ClientSession`` (the caller closes it); one is made if omitted.
    :param allow_loopback_http: allow ``http`` to loopback (development and tests).
    :param timeout: seconds for the whole request.
    :param max_bytes: the largest body accepted.
    :param max_redirects: same-origin redirects followed at most.
    :param allowed_hosts: if given, the only host names status lists may be fetched from (the
        city's status servers); any other host is refused before a request is made.
    :param private_hosts: host names or addresses of the city's status servers on a private
        network; every other host that is, or resolves to, a private, loopback or link-local address
        is refused (with a ``session`` of your own, give its connector a ``PublicAddressResolver``).
    :param ssl_context: TLS settings for the session this fetcher makes, e.g.
        ``ssl.create_default_context(cafile="city-ca.pem")`` for a status server whose certificate
        comes from the city's private CA; default: the system's trust store.
    :raises InvalidInputError: both ``session`` and ``ssl_context`` were given (configure TLS on
        your own session instead).
    """

    def __init__(
        self,
        session: aiohttp.ClientSession | None = None,
        *,
        allow_loopback_http: bool = False,
        timeout: float = 10.0,
        max_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        max_redirects: int = 3,
        allowed_hosts: frozenset[str] | set[str] | None = None,
        ssl_context: ssl.SSLContext | None = None,
        private_hosts: Iterable[str] = (),
    ) -> None:
        if session is not None and ssl_context is not None:
            raise InvalidInputError("pass either session or ssl_context, not both; set TLS on your own session")
        self._ssl_context = ssl_context
        self._session = session
        self._resolver: PublicAddressResolver | None = None
        self.allowed_hosts = frozenset(h.lower() for h in allowed_hosts) if allowed_hosts is not None else None
        self._own_session = session is None
        self.allow_loopback_http = allow_loopback_http
        self.private_hosts = frozenset(normal_host(h) for h in private_hosts)
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.max_redirects = max_redirects

    async def __aenter__(self) -> HttpStatusListFetcher:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the session if this fetcher made it."""
        if self._own_session and self._session is not None:
            await self._session.close()
            self._session = None
        if self._resolver is not None:
            await self._resolver.close()
            self._resolver = None

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._resolver = PublicAddressResolver(
                allow_loopback=self.allow_loopback_http, private_hosts=self.private_hosts
            )
            ssl_setting: ssl.SSLContext | bool = self._ssl_context if self._ssl_context is not None else True
            connector = aiohttp.TCPConnector(ssl=ssl_setting, resolver=self._resolver)
            self._session = aiohttp.ClientSession(connector=connector)
        return self._session

    async def fetch(self, uri: str, *, accept: str, etag: str | None = None) -> FetchedStatusList:
        """GET ``uri`` under the rules above.

        :raises StatusListUnavailableError: refused URL, cross-origin or too many redirects, a non-2xx
            answer, a body over the limit, a timeout or a transport error.
        """
        check_status_url(uri, allow_loopback_http=self.allow_loopback_http, private_hosts=self.private_hosts)
        origin = _origin(uri)
        if self.allowed_hosts is not None and origin[1] not in self.allowed_hosts:
            raise StatusListUnavailableError("status list host is not one this verifier fetches from")
        headers: dict[str, str] = {"Accept": accept}
        if etag is not None:
            headers["If-None-Match"] = etag
        url = uri
        try:
            async with asyncio.timeout(self.timeout):
                for _ in range(self.max_redirects + 1):
                    result = await self._once(url, headers)
                    if isinstance(result, FetchedStatusList):
                        return result
                    target = urljoin(url, result)
                    check_status_url(
                        target, allow_loopback_http=self.allow_loopback_http, private_hosts=self.private_hosts
                    )
                    if _origin(target) != origin:
                        # SSRF: a status server must not bounce the verifier to another host.
                        raise StatusListUnavailableError("status server redirected to another host; refused")
                    url = target
        except TimeoutError:
            raise StatusListUnavailableError("status server did not answer in time") from None
        except aiohttp.ClientConnectorError as exc:
            if isinstance(exc.os_error, PrivateAddressError):
                raise StatusListUnavailableError("status list host resolves to a private address; refused") from None
            raise StatusListUnavailableError(
                "status server could not be reached", details={"reason": type(exc).__name__}
            ) from None
        except aiohttp.ClientError as exc:
            raise StatusListUnavailableError(
                "status server could not be reached", details={"reason": type(exc).__name__}
            ) from None
        raise StatusListUnavailableError("status server redirected too many times")

    async def _once(self, url: str, headers: Mapping[str, str]) -> FetchedStatusList | str:
        session = self._get_session()
        async with session.get(url, headers=headers, allow_redirects=False) as resp:
            if resp.status in _REDIRECTS:
                location = resp.headers.get("Location")
                if not location:
                    raise StatusListUnavailableError("status server sent a redirect without Location")
                return location
            etag = resp.headers.get("ETag")
            max_age = parse_max_age(resp.headers.get("Cache-Control"))
            if resp.status == 304:
                return FetchedStatusList(None, not_modified=True, etag=etag, max_age=max_age)
            if resp.status != 200:
                raise StatusListUnavailableError(
                    f"status server answered HTTP {resp.status}", details={"http_status": resp.status}
                )
            if resp.content_length is not None and resp.content_length > self.max_bytes:
                raise StatusListUnavailableError("status list response is larger than this verifier accepts")
            body = await read_capped(resp.content, self.max_bytes)
            if len(body) > self.max_bytes:
                raise StatusListUnavailableError("status list response is larger than this verifier accepts")
            return FetchedStatusList(body, etag=etag, max_age=max_age)


class StaticStatusListSource:
    """Status list tokens held in memory (``uri`` → token), e.g. read from files by the CLI.

    The credential's status URI goes through the same URL rule as :class:`HttpStatusListFetcher`
    (:func:`check_status_url`): swapping the source never widens what a credential may name.

    :param allow_loopback_http: accept ``http://127.0.0.1``/``localhost`` URIs (development only).
    :param private_hosts: private hosts the verifier accepts anyway.
    """

    def __init__(
        self,
        tokens: Mapping[str, str | bytes],
        *,
        allow_loopback_http: bool = False,
        private_hosts: Iterable[str] = (),
    ) -> None:
        self._tokens = {k: v.encode("ascii") if isinstance(v, str) else v for k, v in tokens.items()}
        self.allow_loopback_http = allow_loopback_http
        self.private_hosts = frozenset(private_hosts)

    async def fetch(self, uri: str, *, accept: str, etag: str | None = None) -> FetchedStatusList:
        """:raises StatusListUnavailableError: a URI the HTTP fetcher would refuse, or no token held for it."""
        check_status_url(uri, allow_loopback_http=self.allow_loopback_http, private_hosts=self.private_hosts)
        try:
            return FetchedStatusList(self._tokens[uri])
        except KeyError:
            raise StatusListUnavailableError(
                "no status list was given for this URI", details={"uri": uri[:300], "source": "static"}
            ) from None
