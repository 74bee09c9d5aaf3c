"""Status list benchmark: compressed size of a 1,000,000-entry list and warm-cache check rate.

Prints the size of a 1-bit IETF Token Status List with 1 % of entries revoked at random indices
(ZLIB, as in the ``lst`` claim before base64url), the same for a W3C Bitstring Status List (GZIP),
and how many status checks per second the verifier's checker answers from a warm cache. The last
line is ``status_list_1m_bytes=<n> status_checks_per_s=<n>``.
"""

from __future__ import annotations

import asyncio
import math
import secrets
import time
import zlib
from datetime import UTC, datetime, timedelta

from vcsdk.credentials import StaticKeyResolver
from vcsdk.credentials.status_list import Bitstring, StatusListIssuer, parse_status_claim
from vcsdk.keys import Key
from vcsdk.status import StaticStatusListSource, StatusListChecker

ENTRIES = 1_000_000
REVOKED = ENTRIES // 100
CHECKS = 50_000
NOW = datetime(2026, 4, 1, 12, tzinfo=UTC)


def _entropy_bytes(n: int, k: int) -> float:
    # log2(C(n, k)) / 8: the information-theoretic floor for k set bits among n.
    return (math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)) / math.log(2) / 8


async def main() -> None:
    issuer = StatusListIssuer("https://city.example/status/1", size=ENTRIES, bits=1)
    claims = [issuer.allocate() for _ in range(REVOKED)]
    for claim in claims:
        issuer.revoke(parse_status_claim(claim).idx)
    raw = issuer.statuses.to_bytes()
    zlib_size = len(zlib.compress(raw, 9))
    lst_chars = len(issuer.statuses.encode())
    bits = Bitstring(ENTRIES)
    for i in secrets.SystemRandom().sample(range(ENTRIES), REVOKED):
        bits.set(i, 1)
    gzip_chars = len(bits.encode()) - 1
    print(f"entries={ENTRIES} revoked={REVOKED} (1 %, random indices)")
    print(f"ietf_zlib_bytes={zlib_size} ({zlib_size / 1024:.1f} KiB; base64url lst {lst_chars} chars)")
    print(f"w3c_gzip_base64url_chars={gzip_chars}")
    print(f"entropy_floor_bytes={_entropy_bytes(ENTRIES, REVOKED):.0f}")

    key = Key.generate("P-256")
    token = issuer.publish(key, now=NOW, ttl=timedelta(minutes=5))
    resolver = StaticKeyResolver({"did:example:city": key})
    checker = StatusListChecker(resolver=resolver, source=StaticStatusListSource({issuer.uri: token}))
    valid = [issuer.allocate() for _ in range(1000)]
    await checker.check(valid[0], issuer="did:example:city", now=NOW)  # warm the cache
    start = time.perf_counter()
    for i in range(CHECKS):
        await checker.check(valid[i % len(valid)], issuer="did:example:city", now=NOW + timedelta(seconds=1))
    elapsed = time.perf_counter() - start
    rate = int(CHECKS / elapsed)
    print(f"warm_cache_checks={CHECKS} elapsed_s={elapsed:.3f}")
    print(f"status_list_1m_bytes={zlib_size} status_checks_per_s={rate}")


if __name__ == "__main__":
    asyncio.run(main())
