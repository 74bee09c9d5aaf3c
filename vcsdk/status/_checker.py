"""The verifier's status checker: fetch, verify, cache and evaluate status lists.

:class:`StatusListChecker` implements the :class:`~vcsdk.credentials.StatusChecker` port for both
formats: an SD-JWT VC's ``status`` claim (``{"status_list": {"idx", "uri"}}``) and a W3C VC's
``BitstringStatusListEntry``. Time is always the caller's ``now``: the cache never reads a clock.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final, Literal, Protocol

from vcsdk.credentials import IssuerKeyResolver, VerificationPolicy
from vcsdk.credentials.status_list import (
    BITSTRING_STATUS_LIST_ENTRY,
    DEFAULT_MAX_INFLATED_BYTES,
    VerifiedStatusList,
    parse_bitstring_entry,
    parse_status_claim,
    peek_status_list_token,
    raise_for_status,
    verify_status_list_credential,
    verify_status_list_token,
)
from vcsdk.errors import (
    ClaimsError,
    CredentialStatusError,
    InvalidInputError,
    StatusListDigestMismatchError,
    StatusListStaleError,
    StatusListUnavailableError,
)
from vcsdk.keys import DEFAULT_POLICY, AlgorithmPolicy, Key
from vcsdk.status._fetch import FetchedStatusList, StatusListSource

__all__ = [
    "AnchoredDigest",
    "StatusDigestSource",
    "StatusListChecker",
    "StatusPolicy",
]

ACCEPT_TOKEN: Final = "application/statuslist+jwt"  # noqa: S105 (a media type)
ACCEPT_VC: Final = "application/vc+jwt"
Format = Literal["token", "bitstring"]


@dataclass(frozen=True, slots=True)
class AnchoredDigest:
    """A status list digest anchored on chain (see :class:`vcsdk.trust.TrustRegistry`)."""

    digest: bytes
    version: int
    anchored_at: datetime


class StatusDigestSource(Protocol):
    """Where the anchored digest of a status list can be read (the trusted-issuer registry)."""

    async def status_digest(self, uri: str) -> AnchoredDigest | None: ...


@dataclass(frozen=True, slots=True)
class StatusPolicy:
    """How a verifier treats status lists.

    :param max_age: refuse a list issued longer ago than this (``StatusListStaleError``), whether it
        comes fresh from the server or from the cache; the city must republish within it.
    :param default_ttl: cache lifetime when neither the list (``ttl``) nor HTTP (``max-age``) says.
    :param max_ttl: upper bound on any cache lifetime, whatever the server asks for.
    :param leeway: clock skew tolerated on ``iat``/``exp``.
    :param require_anchor: with a digest source, refuse lists that have no anchored digest.
    :param max_inflated_bytes: the decompression limit.
    """

    max_age: timedelta = timedelta(hours=24)
    default_ttl: timedelta = timedelta(minutes=5)
    max_ttl: timedelta = timedelta(hours=1)
    leeway: timedelta = timedelta(seconds=60)
    require_anchor: bool = False
    algorithms: AlgorithmPolicy = DEFAULT_POLICY
    max_inflated_bytes: int = DEFAULT_MAX_INFLATED_BYTES
    verification_policy: VerificationPolicy = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # What the status-list verifiers take: these algorithms and this leeway.
        policy = VerificationPolicy(algorithms=self.algorithms.names, leeway=self.leeway)
        object.__setattr__(self, "verification_policy", policy)


@dataclass(slots=True)
class _Entry:
    status_list: VerifiedStatusList
    fresh_until: datetime
    etag: str | None


@dataclass(slots=True)
class _Target:
    fmt: Format
    uri: str
    index: int
    purpose: Literal["token", "revocation", "suspension"]
    status_size: int = 1
    key: tuple[str, str] = field(init=False)

    def __post_init__(self) -> None:
        self.key = (self.uri, self.purpose)


def _target(status: Mapping[str, Any]) -> _Target:
    if not isinstance(status, Mapping):
        raise ClaimsError("credential status must be an object")
    if "status_list" in status:
        ref = parse_status_claim(status)
        return _Target("token", ref.uri, ref.idx, "token")
    if status.get("type") == BITSTRING_STATUS_LIST_ENTRY:
        entry = parse_bitstring_entry(status)
        if entry.purpose not in ("revocation", "suspension"):
            raise CredentialStatusError(
                "status purpose is not one this verifier evaluates", details={"statusPurpose": entry.purpose}
            )
        return _Target("bitstring", entry.url, entry.index, entry.purpose, entry.status_size)  # type: ignore[arg-type]
    raise ClaimsError("credential status is neither a status_list claim nor a BitstringStatusListEntry")


class StatusListChecker:
    """Checks credential status against fetched, verified and cached status lists.

    :param resolver: finds the list issuer's key by the token's ``kid`` (the credential's issuer DID).
    :param source: fetches list tokens (:class:`HttpStatusListFetcher` in production).
    :param policy: ages, cache lifetimes and limits.
    :param digests: anchored digests to compare each list with (on-chain), or ``None``.
    :param max_cached_lists: the cache holds at most this many lists (least recently fetched go first).
    """

    def __init__(
        self,
        *,
        resolver: IssuerKeyResolver,
        source: StatusListSource,
        policy: StatusPolicy = StatusPolicy(),
        digests: StatusDigestSource | None = None,
        max_cached_lists: int = 1024,
    ) -> None:
        self.resolver = resolver
        self.source = source
        self.policy = policy
        self.digests = digests
        # By list and issuer: a list verified as one issuer's is never the answer for another's credential.
        self._cache: dict[tuple[str, str, str], _Entry] = {}
        self._locks: dict[tuple[str, str, str], asyncio.Lock] = {}
        self.max_cached_lists = max_cached_lists

    async def check(self, status: Mapping[str, Any], *, issuer: str, now: datetime) -> None:
        """Return if the credential is valid; raise otherwise (the ``StatusChecker`` port).

        :param status: an SD-JWT VC ``status`` claim or one W3C ``credentialStatus`` entry.
        :param issuer: the credential's (verified) issuer; the list must be signed by it.
        :param now: the verification time.
        :raises CredentialRevokedError: the credential is revoked.
        :raises CredentialSuspendedError: the credential is suspended.
        :raises StatusListStaleError: the list is expired or older than the policy's ``max_age``.
        :raises StatusListUnavailableError: the list could not be fetched and no usable copy is cached.
        :raises StatusListDigestMismatchError: the list differs from the digest anchored on chain.
        :raises CredentialStatusError: the index is outside the list or the status is unknown.
        :raises ClaimsError: the status claim is malformed.
        """
        target = _target(status)
        verified = await self.status_list(target, issuer=issuer, now=now)
        try:
            value = verified.statuses.get(target.index)
        except InvalidInputError:
            raise CredentialStatusError("status index is outside the status list") from None
        raise_for_status(value, purpose=target.purpose)

    async def status_list(self, target: _Target, *, issuer: str, now: datetime) -> VerifiedStatusList:
        """The verified list for ``target``, from the cache while fresh, else fetched."""
        lock = self._locks.setdefault((*target.key, issuer), asyncio.Lock())
        async with lock:
            verified = await self._get(target, issuer=issuer, now=now, force=False)
            if self.digests is not None:
                anchored = await self.digests.status_digest(target.uri)
                if anchored is None:
                    if self.policy.require_anchor:
                        raise StatusListDigestMismatchError("no digest is anchored on chain for this status list")
                elif anchored.digest != verified.digest:
                    # The anchor may be newer than our cached copy: fetch once more before refusing.
                    verified = await self._get(target, issuer=issuer, now=now, force=True)
                    if anchored.digest != verified.digest:
                        raise StatusListDigestMismatchError(
                            "status list served differs from the digest anchored on chain; "
                            "the status server may be serving an old or forked list",
                            details={"anchored_version": anchored.version},
                        )
            return verified

    def _too_old(self, verified: VerifiedStatusList, now: datetime) -> bool:
        if verified.expires_at is not None and now > verified.expires_at + self.policy.leeway:
            return True
        return now - verified.issued_at > self.policy.max_age + self.policy.leeway

    async def _get(self, target: _Target, *, issuer: str, now: datetime, force: bool) -> VerifiedStatusList:
        cache_key = (*target.key, issuer)
        entry = self._cache.get(cache_key)
        if entry is not None and not force and now < entry.fresh_until and not self._too_old(entry.status_list, now):
            return entry.status_list
        accept = ACCEPT_TOKEN if target.fmt == "token" else ACCEPT_VC
        try:
            fetched = await self.source.fetch(target.uri, accept=accept, etag=entry.etag if entry else None)
        except StatusListUnavailableError:
            if entry is None:
                raise
            if self._too_old(entry.status_list, now):
                raise StatusListStaleError(
                    "status server is unavailable and the cached list is older than the policy's max age"
                ) from None
            # Stale-if-error, bounded by max_age: the cached list is still within policy.
            return entry.status_list
        if fetched.not_modified:
            if entry is None:
                raise StatusListUnavailableError("status server answered 304 to a request without a cached copy")
            if self._too_old(entry.status_list, now):
                raise StatusListStaleError(
                    "status server keeps serving a list older than the policy's max age; refusing it"
                )
            entry.fresh_until = self._fresh_until(entry.status_list, fetched, now)
            entry.etag = fetched.etag or entry.etag
            return entry.status_list
        verified = await self._verify(target, fetched.body or b"", issuer=issuer, now=now)
        self._cache.pop(cache_key, None)
        while len(self._cache) >= self.max_cached_lists:
            evicted = next(iter(self._cache))  # dicts keep insertion order: the oldest fetch
            del self._cache[evicted]
            lock = self._locks.get(evicted)
            if lock is not None and not lock.locked():
                del self._locks[evicted]
        self._cache[cache_key] = _Entry(verified, self._fresh_until(verified, fetched, now), fetched.etag)
        return verified

    def _fresh_until(self, verified: VerifiedStatusList, fetched: FetchedStatusList, now: datetime) -> datetime:
        candidates = [self.policy.max_ttl]
        if verified.ttl is not None:
            candidates.append(timedelta(seconds=verified.ttl))
        if fetched.max_age is not None:
            candidates.append(timedelta(seconds=fetched.max_age))
        if verified.ttl is None and fetched.max_age is None:
            candidates.append(self.policy.default_ttl)
        until = now + min(candidates)
        if verified.expires_at is not None:
            until = min(until, verified.expires_at)
        return until

    async def _verify(self, target: _Target, body: bytes, *, issuer: str, now: datetime) -> VerifiedStatusList:
        try:
            header = peek_status_list_token(body)["header"]
        except InvalidInputError:
            raise StatusListUnavailableError("status server returned something that is not a signed list") from None
        kid = header.get("kid")
        key = await self.resolver.resolve_key(issuer, kid if isinstance(kid, str) else None)
        try:
            return self._verify_with(target, body, key, issuer=issuer, now=now)
        except InvalidInputError as exc:
            # A list that cannot be decoded (bad base64, corrupt or oversized deflate) is unusable.
            raise StatusListUnavailableError(f"status list cannot be used: {exc.message}") from None

    def _verify_with(
        self, target: _Target, body: bytes, key: Key, *, issuer: str, now: datetime
    ) -> VerifiedStatusList:
        p = self.policy
        policy = p.verification_policy
        if target.fmt == "token":
            verified = verify_status_list_token(
                body, key, uri=target.uri, now=now, policy=policy, max_age=p.max_age,
                max_inflated_bytes=p.max_inflated_bytes, expected_issuer=issuer,
            )
            return verified
        return verify_status_list_credential(
            body, key, url=target.uri, purpose=target.purpose, now=now, status_size=target.status_size,
            policy=policy, max_age=p.max_age, expected_issuer=issuer,
            max_inflated_bytes=p.max_inflated_bytes,
        )

    def clear(self) -> None:
        """Forget every cached list."""
        self._cache.clear()
