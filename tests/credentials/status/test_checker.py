"""The verifier's status checker against a real aiohttp status server on 127.0.0.1."""

from __future__ import annotations

import zlib
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest
from aiohttp import web

from tests.credentials.status.conftest import ISSUER, KID, FixedResolver, StatusServer
from vcsdk._b64 import b64url_encode
from vcsdk.credentials._status_list import (
    BitstringStatusListIssuer,
    StatusListIssuer,
    parse_status_claim,
    status_claim,
)
from vcsdk.errors import (
    ClaimsError,
    CredentialRevokedError,
    CredentialStatusError,
    CredentialSuspendedError,
    KeyNotFoundError,
    SignatureInvalidError,
    StatusListDigestMismatchError,
    StatusListStaleError,
    StatusListUnavailableError,
)
from vcsdk.keys import Key, sign_jws
from vcsdk.status import (
    AnchoredDigest,
    HttpStatusListFetcher,
    StaticStatusListSource,
    StatusListChecker,
    StatusPolicy,
    check_status_url,
)

NOW = datetime(2026, 4, 1, 12, tzinfo=UTC)
KEY = Key.generate("P-256").with_kid(KID)


class Digests:
    def __init__(self) -> None:
        self.by_uri: dict[str, AnchoredDigest] = {}

    async def status_digest(self, uri: str) -> AnchoredDigest | None:
        return self.by_uri.get(uri)


@pytest.fixture
async def fetcher():  # type: ignore[no-untyped-def]
    async with HttpStatusListFetcher(allow_loopback_http=True) as f:
        yield f


def _publish(
    srv: StatusServer,
    issuer: StatusListIssuer,
    path: str,
    *,
    now: datetime,
    ttl: int = 300,
    max_age: int | None = None,
    key: Key = KEY,
) -> None:
    token = issuer.publish(key, now=now, ttl=timedelta(seconds=ttl), iss=ISSUER)
    srv.store.publish(path, token, max_age=ttl if max_age is None else max_age)


def _checker(fetcher: HttpStatusListFetcher, **kw: object) -> StatusListChecker:
    return StatusListChecker(resolver=FixedResolver(KEY), source=fetcher, **kw)  # type: ignore[arg-type]


async def test_revocation_is_seen_after_the_cache_lifetime(status_server: StatusServer, fetcher) -> None:
    lst = StatusListIssuer(status_server.url("/status/1"), size=4096)
    claim = lst.allocate()
    _publish(status_server, lst, "/status/1", now=NOW)
    checker = _checker(fetcher)
    await checker.check(claim, issuer=ISSUER, now=NOW)
    lst.revoke(parse_status_claim(claim).idx)
    _publish(status_server, lst, "/status/1", now=NOW + timedelta(seconds=10))
    # Inside the 300 s lifetime the cached list still answers: no new request.
    await checker.check(claim, issuer=ISSUER, now=NOW + timedelta(seconds=200))
    assert len(status_server.hits) == 1
    with pytest.raises(CredentialRevokedError):
        await checker.check(claim, issuer=ISSUER, now=NOW + timedelta(seconds=301))


async def test_suspend_and_reinstate(status_server: StatusServer, fetcher) -> None:
    lst = StatusListIssuer(status_server.url("/status/2"), size=4096)
    claim = lst.allocate()
    idx = parse_status_claim(claim).idx
    lst.suspend(idx)
    _publish(status_server, lst, "/status/2", now=NOW)
    checker = _checker(fetcher)
    with pytest.raises(CredentialSuspendedError):
        await checker.check(claim, issuer=ISSUER, now=NOW)
    lst.reinstate(idx)
    _publish(status_server, lst, "/status/2", now=NOW + timedelta(seconds=5))
    await checker.check(claim, issuer=ISSUER, now=NOW + timedelta(seconds=400))


async def test_etag_revalidation_and_max_age_header(status_server: StatusServer, fetcher) -> None:
    lst = StatusListIssuer(status_server.url("/status/3"), size=1024)
    claim = lst.allocate()
    _publish(status_server, lst, "/status/3", now=NOW, ttl=600, max_age=60)
    checker = _checker(fetcher)
    await checker.check(claim, issuer=ISSUER, now=NOW)
    await checker.check(claim, issuer=ISSUER, now=NOW + timedelta(seconds=59))
    assert [s for _, s in status_server.hits] == [200]
    # Cache-Control max-age=60 is shorter than the token's ttl=600: revalidate after 60 s.
    await checker.check(claim, issuer=ISSUER, now=NOW + timedelta(seconds=61))
    assert [s for _, s in status_server.hits] == [200, 304]


async def test_list_older_than_max_age_is_refused(status_server: StatusServer, fetcher) -> None:
    lst = StatusListIssuer(status_server.url("/status/4"), size=1024)
    claim = lst.allocate()
    token = lst.publish(KEY, now=NOW, lifetime=None)
    status_server.store.publish("/status/4", token, max_age=300)
    checker = _checker(fetcher, policy=StatusPolicy(max_age=timedelta(hours=1)))
    await checker.check(claim, issuer=ISSUER, now=NOW)
    # The server never republishes: after an hour the (revalidated) list is too old.
    with pytest.raises(StatusListStaleError):
        await checker.check(claim, issuer=ISSUER, now=NOW + timedelta(hours=2))
    # A fresh checker fetching the same old token refuses it as well.
    with pytest.raises(StatusListStaleError):
        await _checker(fetcher, policy=StatusPolicy(max_age=timedelta(hours=1))).check(
            claim, issuer=ISSUER, now=NOW + timedelta(hours=2)
        )


async def test_expired_token_is_stale(status_server: StatusServer, fetcher) -> None:
    lst = StatusListIssuer(status_server.url("/status/5"), size=1024)
    claim = lst.allocate()
    status_server.store.publish("/status/5", lst.publish(KEY, now=NOW, lifetime=timedelta(minutes=10)), max_age=60)
    with pytest.raises(StatusListStaleError):
        await _checker(fetcher).check(claim, issuer=ISSUER, now=NOW + timedelta(minutes=30))


async def test_server_down_uses_cache_within_max_age_then_refuses(status_server: StatusServer, fetcher) -> None:
    lst = StatusListIssuer(status_server.url("/status/6"), size=1024)
    claim = lst.allocate()
    _publish(status_server, lst, "/status/6", now=NOW)
    checker = _checker(fetcher, policy=StatusPolicy(max_age=timedelta(hours=1)))
    await checker.check(claim, issuer=ISSUER, now=NOW)
    status_server.extra["/status/6"] = lambda: web.Response(status=503)
    await checker.check(claim, issuer=ISSUER, now=NOW + timedelta(minutes=30))
    with pytest.raises(StatusListStaleError):
        await checker.check(claim, issuer=ISSUER, now=NOW + timedelta(hours=2))
    with pytest.raises(StatusListUnavailableError):
        await _checker(fetcher).check(claim, issuer=ISSUER, now=NOW)


async def test_digest_anchor_match_mismatch_and_newer_anchor(status_server: StatusServer, fetcher) -> None:
    uri = status_server.url("/status/7")
    lst = StatusListIssuer(uri, size=1024)
    claim = lst.allocate()
    idx = parse_status_claim(claim).idx
    _publish(status_server, lst, "/status/7", now=NOW)
    digests = Digests()
    digests.by_uri[uri] = AnchoredDigest(lst.digest, lst.version, NOW)
    checker = _checker(fetcher, digests=digests)
    await checker.check(claim, issuer=ISSUER, now=NOW)
    # The city revokes, publishes and anchors: the cached copy no longer matches, so the checker
    # refetches at once instead of waiting for the cache lifetime.
    lst.revoke(idx)
    _publish(status_server, lst, "/status/7", now=NOW + timedelta(seconds=1))
    digests.by_uri[uri] = AnchoredDigest(lst.digest, lst.version, NOW)
    with pytest.raises(CredentialRevokedError):
        await checker.check(claim, issuer=ISSUER, now=NOW + timedelta(seconds=2))
    # A server that serves a list the chain does not know (forked or old) is refused.
    digests.by_uri[uri] = AnchoredDigest(b"\x01" * 32, lst.version + 1, NOW)
    with pytest.raises(StatusListDigestMismatchError):
        await checker.check(claim, issuer=ISSUER, now=NOW + timedelta(seconds=3))


async def test_require_anchor(status_server: StatusServer, fetcher) -> None:
    lst = StatusListIssuer(status_server.url("/status/8"), size=1024)
    claim = lst.allocate()
    _publish(status_server, lst, "/status/8", now=NOW)
    checker = _checker(fetcher, digests=Digests(), policy=StatusPolicy(require_anchor=True))
    with pytest.raises(StatusListDigestMismatchError):
        await checker.check(claim, issuer=ISSUER, now=NOW)


async def test_signature_sub_and_kid_checks(status_server: StatusServer, fetcher) -> None:
    lst = StatusListIssuer(status_server.url("/status/9"), size=1024)
    claim = lst.allocate()
    _publish(status_server, lst, "/status/9", now=NOW, key=Key.generate("P-256").with_kid(KID))
    with pytest.raises(SignatureInvalidError):
        await _checker(fetcher).check(claim, issuer=ISSUER, now=NOW)
    # Served at /status/9 but signed for another URI.
    other = StatusListIssuer(status_server.url("/status/other"), size=1024)
    status_server.store.publish("/status/9", other.publish(KEY, now=NOW), max_age=60)
    with pytest.raises(ClaimsError):
        await _checker(fetcher).check(claim, issuer=ISSUER, now=NOW)
    _publish(status_server, lst, "/status/9", now=NOW, key=KEY.with_kid(ISSUER + "#unknown"))
    with pytest.raises(KeyNotFoundError):
        await _checker(fetcher).check(claim, issuer=ISSUER, now=NOW)


async def test_index_outside_list(status_server: StatusServer, fetcher) -> None:
    lst = StatusListIssuer(status_server.url("/status/10"), size=64)
    _publish(status_server, lst, "/status/10", now=NOW)
    with pytest.raises(CredentialStatusError):
        await _checker(fetcher).check(status_claim(status_server.url("/status/10"), 5000), issuer=ISSUER, now=NOW)


async def test_compressed_bomb_in_a_signed_list_is_refused(status_server: StatusServer, fetcher) -> None:
    uri = status_server.url("/status/bomb")
    bomb = b64url_encode(zlib.compress(bytes(64 * 1024 * 1024), 9))  # 64 MiB of zeros in ~64 KB
    token = sign_jws(
        {"sub": uri, "iat": int(NOW.timestamp()), "status_list": {"bits": 1, "lst": bomb}}, KEY, typ="statuslist+jwt"
    )
    status_server.store.publish("/status/bomb", token, max_age=60)
    with pytest.raises(StatusListUnavailableError, match="compression bomb"):
        await _checker(fetcher).check(status_claim(uri, 1), issuer=ISSUER, now=NOW)


async def test_response_size_limit(status_server: StatusServer) -> None:
    status_server.store.publish("/big", b"x" * 5000, max_age=60)
    async with HttpStatusListFetcher(allow_loopback_http=True, max_bytes=1000) as f:
        with pytest.raises(StatusListUnavailableError, match="larger"):
            await f.fetch(status_server.url("/big"), accept="application/statuslist+jwt")


def test_url_policy() -> None:
    check_status_url("https://city.example/status/1")
    check_status_url("http://127.0.0.1:8080/s", allow_loopback_http=True)
    check_status_url("http://[::1]/s", allow_loopback_http=True)
    for bad in (
        "http://127.0.0.1/s",
        "ftp://city.example/s",
        "file:///etc/passwd",
        "https://user:pw@city.example/",
        "https:///nohost",
    ):
        with pytest.raises(StatusListUnavailableError):
            check_status_url(bad)
    with pytest.raises(StatusListUnavailableError):
        check_status_url("http://city.example/s", allow_loopback_http=True)


def test_private_addresses_are_refused_unless_listed() -> None:
    for bad in (
        "https://10.0.0.5/s",
        "https://169.254.169.254/latest",
        "https://127.1/s",
        "https://[::1]/s",
        "https://0/s",
        "https://localhost/s",
        "https://[fd00::1]/s",
    ):
        with pytest.raises(StatusListUnavailableError, match="private address"):
            check_status_url(bad)
    check_status_url("https://10.0.0.5/s", private_hosts=["10.0.0.5"])
    check_status_url("https://status.city.internal/s", private_hosts=["STATUS.city.internal."])


async def test_a_status_host_resolving_to_a_private_address_is_refused() -> None:
    """The fetcher's own session resolves through PublicAddressResolver; here one with a fixed zone."""
    import socket

    from aiohttp.abc import AbstractResolver, ResolveResult

    from vcsdk._egress import PublicAddressResolver

    class Zone(AbstractResolver):
        async def resolve(
            self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
        ) -> list[ResolveResult]:
            return [ResolveResult(hostname=host, host="10.1.2.3", port=port, family=socket.AF_INET, proto=0, flags=0)]

        async def close(self) -> None:
            pass

    connector = aiohttp.TCPConnector(resolver=PublicAddressResolver(upstream=Zone()))
    async with aiohttp.ClientSession(connector=connector) as session, HttpStatusListFetcher(session) as f:
        with pytest.raises(StatusListUnavailableError, match="resolves to a private address"):
            await f.fetch("https://status.city.example/lists/1", accept="*/*")
    async with HttpStatusListFetcher() as own:  # the fetcher's own session uses the same rule
        resolver = own._get_session().connector._resolver  # type: ignore[union-attr]
        assert isinstance(resolver, PublicAddressResolver)


async def test_plain_http_refused_without_the_development_flag(status_server: StatusServer) -> None:
    async with HttpStatusListFetcher() as f:
        with pytest.raises(StatusListUnavailableError, match="https"):
            await f.fetch(status_server.url("/status/1"), accept="*/*")
    assert status_server.hits == []


async def test_redirects_same_origin_only(status_server: StatusServer, fetcher) -> None:
    lst = StatusListIssuer(status_server.url("/status/r"), size=64)
    claim = lst.allocate()
    _publish(status_server, lst, "/status/real", now=NOW)
    status_server.extra["/status/hop"] = lambda: web.Response(status=302, headers={"Location": "/status/real"})
    got = await fetcher.fetch(status_server.url("/status/hop"), accept="*/*")
    assert got.body is not None and got.body.count(b".") == 2
    port = status_server.base.rsplit(":", 1)[1]
    status_server.extra["/status/away"] = lambda: web.Response(
        status=302, headers={"Location": f"http://localhost:{port}/status/real"}
    )
    with pytest.raises(StatusListUnavailableError, match="another host"):
        await fetcher.fetch(status_server.url("/status/away"), accept="*/*")
    status_server.extra["/status/loop"] = lambda: web.Response(status=302, headers={"Location": "/status/loop"})
    with pytest.raises(StatusListUnavailableError, match="too many"):
        await fetcher.fetch(status_server.url("/status/loop"), accept="*/*")
    assert claim


async def test_w3c_entries_through_the_checker(status_server: StatusServer, fetcher) -> None:
    pair = BitstringStatusListIssuer(status_server.url("/w3c/rev"), status_server.url("/w3c/sus"), issuer=ISSUER)
    rev, sus = pair.allocate()
    idx = int(rev["statusListIndex"])

    def publish(now: datetime) -> None:
        for purpose, path in (("revocation", "/w3c/rev"), ("suspension", "/w3c/sus")):
            status_server.store.publish(
                path, pair.publish(KEY, purpose, now=now), max_age=300, media_type="application/vc+jwt"
            )

    publish(NOW)
    checker = _checker(fetcher)
    await checker.check(rev, issuer=ISSUER, now=NOW)
    await checker.check(sus, issuer=ISSUER, now=NOW)
    pair.suspend(idx)
    publish(NOW + timedelta(seconds=1))
    with pytest.raises(CredentialSuspendedError):
        await checker.check(sus, issuer=ISSUER, now=NOW + timedelta(seconds=400))
    await checker.check(rev, issuer=ISSUER, now=NOW + timedelta(seconds=400))
    pair.reinstate(idx)
    pair.revoke(idx)
    publish(NOW + timedelta(seconds=500))
    with pytest.raises(CredentialRevokedError):
        await checker.check(rev, issuer=ISSUER, now=NOW + timedelta(seconds=801))


async def test_static_source_for_tools() -> None:
    lst = StatusListIssuer("https://city.example/status/1", size=64)
    claim = lst.allocate()
    lst.revoke(parse_status_claim(claim).idx)
    checker = StatusListChecker(
        resolver=FixedResolver(KEY), source=StaticStatusListSource({lst.uri: lst.publish(KEY, now=NOW)})
    )
    with pytest.raises(CredentialRevokedError):
        await checker.check(claim, issuer=ISSUER, now=NOW)
    with pytest.raises(StatusListUnavailableError):
        await checker.check(status_claim("https://city.example/status/2", 1), issuer=ISSUER, now=NOW)


async def test_allowed_hosts(status_server: StatusServer) -> None:
    async with HttpStatusListFetcher(allow_loopback_http=True, allowed_hosts={"status.city.example"}) as f:
        with pytest.raises(StatusListUnavailableError, match="host"):
            await f.fetch(status_server.url("/status/1"), accept="*/*")
    assert status_server.hits == []


async def test_cache_is_bounded() -> None:
    lists = [StatusListIssuer(f"https://city.example/status/{i}", size=64) for i in range(5)]
    claims = [lst.allocate() for lst in lists]
    source = StaticStatusListSource({lst.uri: lst.publish(KEY, now=NOW) for lst in lists})
    checker = StatusListChecker(resolver=FixedResolver(KEY), source=source, max_cached_lists=2)
    for claim in claims:
        await checker.check(claim, issuer=ISSUER, now=NOW)
    assert len(checker._cache) == 2


@pytest.mark.parametrize(
    "uri",
    [
        "http://city.example/status/1",
        "https://127.0.0.1/status/1",
        "https://\uff11\uff12\uff17.\uff10.\uff10.\uff11/status/1",  # fullwidth digits
        "https://10.0.0.7/status/1",
        "https://user:pw@city.example/status/1",
        "file:///etc/passwd",
        "https://[::1]/status/1",
    ],
)
async def test_static_source_applies_the_http_fetchers_url_rules(uri: str) -> None:
    # Even when the list is held in memory, a credential may not name a URL the fetcher would refuse.
    lst = StatusListIssuer(uri, size=64)
    claim = lst.allocate()
    source = StaticStatusListSource({uri: lst.publish(KEY, now=NOW)})
    with pytest.raises(StatusListUnavailableError, match="refused"):
        await source.fetch(uri, accept="*/*")
    with pytest.raises(StatusListUnavailableError):
        await StatusListChecker(resolver=FixedResolver(KEY), source=source).check(claim, issuer=ISSUER, now=NOW)


async def test_static_source_loopback_http_only_when_allowed() -> None:
    uri = "http://127.0.0.1:8443/status/1"
    lst = StatusListIssuer(uri, size=64)
    tokens = {uri: lst.publish(KEY, now=NOW)}
    with pytest.raises(StatusListUnavailableError):
        await StaticStatusListSource(tokens).fetch(uri, accept="*/*")
    assert (await StaticStatusListSource(tokens, allow_loopback_http=True).fetch(uri, accept="*/*")).body


async def test_a_cached_list_is_one_issuers(status_server: StatusServer, fetcher) -> None:
    """A list verified for one issuer's credential is not the answer for another issuer's credential
    naming the same URL: that one is checked against the list as fetched, which that issuer did not sign."""
    lst = StatusListIssuer(status_server.url("/status/issuer"), size=1024)
    claim = lst.allocate()
    _publish(status_server, lst, "/status/issuer", now=NOW)
    checker = _checker(fetcher)
    await checker.check(claim, issuer=ISSUER, now=NOW)
    # Refused: the other issuer's DID has no such key (and the list's iss is not that issuer).
    with pytest.raises(KeyNotFoundError):
        await checker.check(claim, issuer="did:example:another-issuer", now=NOW + timedelta(seconds=1))
    # The first issuer's credentials are still answered from the cache.
    await checker.check(claim, issuer=ISSUER, now=NOW + timedelta(seconds=2))
    assert [s for _, s in status_server.hits] == [200, 200]
