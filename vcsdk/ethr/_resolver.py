"""One resolver for did:ethr, did:key and did:jwk; also the credential verifiers' issuer-key port.

did:key and did:jwk resolve without I/O (:func:`vcsdk.did.resolve_did_key`, :func:`vcsdk.did.resolve_did_jwk`);
did:ethr reads the ERC-1056 registry through :mod:`vcsdk.registry`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Literal, Self

from vcsdk.did import (
    DidResolutionResult,
    DidUrl,
    EthrNetwork,
    NetworkTable,
    key_from_document,
    parse_did_url,
    parse_ethr_did,
    resolve_did_jwk,
    resolve_did_key,
)
from vcsdk.errors import DidDeactivatedError, InvalidDidError, InvalidInputError, UnsupportedDidMethodError
from vcsdk.ethr._history import EthrResolver
from vcsdk.keys import Key

__all__ = ["Resolver"]

Method = Literal["ethr", "key", "jwk"]
_ALL_METHODS: tuple[Method, ...] = ("ethr", "jwk", "key")


def _system_clock() -> datetime:
    return datetime.now(UTC)


class Resolver:
    """Resolves DIDs by method (``ethr``, ``key``, ``jwk``) and finds issuer keys in them.

    Implements ``vcsdk.credentials.IssuerKeyResolver``. Close it (or use ``async with``) to release
    the chain connections it opened.

    :param networks: did:ethr networks (chain id / name → RPC URLs, registry address).
    :param clock: the current time for judging delegate and attribute ``validTo``; the system clock
        by default.
    :param cache_ttl: how long a resolved did:ethr document is served from memory without asking the
        chain again (default 1 s; 0 revalidates with one ``changed`` call on every resolve).
    :param max_history: the most changed blocks one identity may have before resolution gives up.
    :param methods: the DID methods to accept.
    """

    def __init__(
        self,
        networks: Iterable[EthrNetwork] = (),
        *,
        clock: Callable[[], datetime] | None = None,
        cache_ttl: timedelta = timedelta(seconds=1),
        max_history: int = 10_000,
        methods: Iterable[Method] = _ALL_METHODS,
    ) -> None:
        if cache_ttl < timedelta(0):
            raise InvalidInputError("cache_ttl must not be negative")
        self._table = NetworkTable(networks)
        self._clock = clock or _system_clock
        self._ttl = cache_ttl.total_seconds()
        self._max_history = max_history
        self._methods = frozenset(methods)
        self._ethr: EthrResolver | None = None
        self._parsed: dict[str, DidUrl] = {}
        self._static: dict[str, DidResolutionResult] = {}
        # Parsed keys by (DID or DID?versionTime, kid, relationship), each with the resolution result
        # it was read from: reused only while resolving gives that same result object again.
        self._keys: dict[tuple[str, str | None, str], tuple[DidResolutionResult, Key]] = {}

    @property
    def networks(self) -> tuple[EthrNetwork, ...]:
        """The configured did:ethr networks."""
        return tuple(self._table.networks)

    @property
    def rpc_calls(self) -> int:
        """JSON-RPC requests made for did:ethr so far (a concurrent pair counts as two)."""
        return self._ethr.rpc_calls if self._ethr is not None else 0

    def _ethr_resolver(self) -> EthrResolver:
        if self._ethr is None:
            self._ethr = EthrResolver(clock=self._clock, cache_ttl=self._ttl, max_history=self._max_history)
        return self._ethr

    def _parse(self, did_url: str) -> DidUrl:
        url = self._parsed.get(did_url)
        if url is None:
            url = parse_did_url(did_url)
            if len(self._parsed) > 10_000:
                self._parsed.clear()
            self._parsed[did_url] = url
        return url

    async def resolve(self, did_url: str) -> DidResolutionResult:
        """Resolve a DID (a fragment is ignored; ``?versionId=<block>`` / ``?versionTime=<UTC time>``
        select a past did:ethr version).

        A deactivated DID resolves normally with ``didDocumentMetadata.deactivated`` set. Results
        may be served from the cache and shared between callers: treat them as read-only.

        :raises InvalidDidError: malformed DID, or a DID URL with a path.
        :raises UnsupportedDidMethodError: a method other than the configured ones.
        :raises DidResolutionError: ``code="unknown_network"`` for a did:ethr network not configured;
            ``history_unavailable`` if the node lacks the identity's logs.
        :raises DidNotFoundError: ``versionId`` beyond the chain head.
        :raises ChainUnavailableError: no RPC endpoint answers.
        :raises ChainIdMismatchError: the endpoint serves another chain than configured.
        :return: the W3C DID resolution result.
        """
        url = self._parse(did_url)
        if url.path:
            raise InvalidDidError("DID URL paths are not supported; resolve the DID itself")
        if url.method not in self._methods:
            raise UnsupportedDidMethodError(
                f"DID method {url.method!r} is not supported; use one of {sorted(self._methods)}"
            )
        if url.method in ("key", "jwk"):
            # These documents are a pure function of the DID: expand each once.
            static = self._static.get(url.did)
            if static is None:
                static = resolve_did_key(url) if url.method == "key" else resolve_did_jwk(url)
                if len(self._static) > 10_000:
                    self._static.clear()
                self._static[url.did] = static
            return static
        ethr = self._ethr_resolver()
        key = str(url.did) + (f"?{url.query}" if url.query else "")
        cached = ethr.cached(key)
        if cached is not None:
            return cached
        did = parse_ethr_did(url)
        return await ethr.resolve(url, did, self._table.for_did(did))

    async def resolve_key(
        self,
        issuer: str,
        kid: str | None,
        *,
        relationship: Literal["assertionMethod", "authentication"] = "assertionMethod",
        at: datetime | None = None,
    ) -> Key:
        """The issuer's public key named by ``kid``, from its DID document (now or at time ``at``).

        :param issuer: the issuer's DID.
        :param kid: the token's ``kid`` (DID URL, ``#fragment``), or ``None`` when the document has
            exactly one usable key for ``relationship``.
        :param relationship: ``assertionMethod`` for credentials, ``authentication`` for holders.
        :param at: resolve the did:ethr document as it was at this time (``versionTime``).
        :raises KeyNotFoundError: no such key for that relationship, or only a blockchain account
            (ES256K-R recovery is not supported).
        :raises DidDeactivatedError: the DID is deactivated.
        :raises DidResolutionError: and the other errors of :meth:`resolve`.
        :return: the key, its ``kid`` set to the verification method id.
        """
        url = self._parse(issuer)
        if url.query is not None or url.fragment is not None or url.path:
            raise InvalidDidError("issuer must be a plain DID")
        target = issuer
        if at is not None and url.method == "ethr":
            moment = at.astimezone(UTC) if at.tzinfo is not None else at.replace(tzinfo=UTC)
            target = f"{issuer}?versionTime={moment.strftime('%Y-%m-%dT%H:%M:%SZ')}"
        result = await self.resolve(target)
        if result.deactivated:
            raise DidDeactivatedError(f"{issuer} is deactivated; its keys can no longer be used")
        # A service signing many receipts (or an issuer many credentials) is looked up once per
        # document: the key is parsed again only when resolution yields another document.
        memo = (target, kid, relationship)
        hit = self._keys.get(memo)
        if hit is not None and hit[0] is result:
            return hit[1]
        key = key_from_document(result.did_document, kid, relationship=relationship)
        if len(self._keys) > 10_000:
            self._keys.clear()
        self._keys[memo] = (result, key)
        return key

    def invalidate(self, did: str | None = None) -> None:
        """Drop cached did:ethr documents (of one DID, or all), e.g. right after updating it."""
        if self._ethr is not None:
            self._ethr.invalidate(did)
        for memo in [m for m in self._keys if did is None or m[0].split("?", 1)[0] == did]:
            del self._keys[memo]

    async def close(self) -> None:
        """Close the chain connections this resolver opened."""
        if self._ethr is not None:
            await self._ethr.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()
