"""Verify an SD-JWT VC presentation with no chain and no network.

Run it with ``python examples/verify_offline.py``. A verifier that is offline (a kiosk, a border
gate, a test) can still run every check when it holds, ahead of time:

* the issuer's public key, as a JWK file (``StaticKeyResolver``), or an issuer identified by a
  did:jwk or did:key, whose document is derived from the DID itself (``Resolver([])``);
* the issuer's status list token, as a local file (``StaticStatusListSource``).

Signature, disclosures, expiry, key binding (nonce, audience, freshness) and status are checked
exactly as online; only the freshness of the status list is bounded by when the file was copied.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
from collections.abc import Awaitable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from vcsdk.credentials import (
    RESIDENT_IDENTITY_CREDENTIAL,
    StaticKeyResolver,
    StatusListIssuer,
    VctRegistry,
    disclosable_paths,
    issue_sd_jwt_vc,
    peek,
    present,
    resident_identity_claims,
    verify_presentation,
)
from vcsdk.did import did_jwk_for
from vcsdk.errors import CredentialRevokedError, NonceMismatchError, VcsdkError
from vcsdk.ethr import Resolver
from vcsdk.keys import Key
from vcsdk.status import StaticStatusListSource, StatusListChecker

VCT = VctRegistry("https://credentials.kaga.example").resident_identity
STATUS_URI = "https://city.kaga.example/status/7"
AUDIENCE = "x509_san_dns:gate.kaga.example"


def city_side(folder: Path, issuer: str, key: Key, device: Key, now: datetime) -> tuple[str, StatusListIssuer]:
    """What the city did beforehand: issue the credential; export its key and status list to files."""
    status = StatusListIssuer(STATUS_URI, size=1024)
    claims = resident_identity_claims(
        family_name="Kaga", given_name="Taro", birthdate="1985-10-10", resident_since="2010-01-01",
        address={"postal_code": "922-8622", "region": "Ishikawa", "locality": "Kaga", "street_address": "1-1"},
        verification={"level": "substantial", "method": "resident_registry", "time": "2026-01-05T00:00:00Z"},
        as_of=now.date())
    credential = issue_sd_jwt_vc(claims, issuer=issuer, signer=key, vct=VCT, holder_key=device,
                                 disclosable=disclosable_paths(RESIDENT_IDENTITY_CREDENTIAL),
                                 status=status.allocate(), now=now, expires_at=now + timedelta(days=365))
    (folder / "city.jwk").write_text(json.dumps(key.public_jwk()))
    (folder / "status-7.jwt").write_text(status.publish(key, now=now, iss=issuer))
    return credential, status


def checker_from_files(folder: Path, resolver: StaticKeyResolver | Resolver) -> StatusListChecker:
    """The verifier's status checker: the status list comes from a file, signed by the issuer."""
    source = StaticStatusListSource({STATUS_URI: (folder / "status-7.jwt").read_text()})
    return StatusListChecker(resolver=resolver, source=source)


async def refused(expected: type[VcsdkError], check: Awaitable[object]) -> str:
    """Run a check that must fail with ``expected``; return the error code."""
    try:
        await check
    except expected as exc:
        return exc.code
    raise SystemExit(f"expected {expected.__name__}, but the check passed")


async def main() -> None:
    now = datetime.now(UTC)
    device = Key.generate("P-256")  # the resident's phone key
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)

        # -- 1. Issuer key pinned from a JWK file. -------------------------------------------------
        issuer = "did:ethr:0x1:0x3f1d8e4c2b6a0975d8e1c2b3a4f5e6d7c8b9a0f1"  # the city's DID (not resolved)
        city_key = Key.generate("P-256").with_kid(issuer + "#controllerKey")
        credential, status = city_side(folder, issuer, city_key, device, now)
        pinned = Key.from_jwk((folder / "city.jwk").read_bytes()).with_kid(issuer + "#controllerKey")
        resolver = StaticKeyResolver({issuer: pinned})

        # The wallet presents two claims, bound to the verifier's nonce and audience.
        nonce = "n-0S6_WzA2Mj"
        vp = present(credential, disclose=[["age_equal_or_over", "20"], ["address", "locality"]],
                     holder_signer=device, audience=AUDIENCE, nonce=nonce, now=now)
        verified = await verify_presentation(vp, audience=AUDIENCE, nonce=nonce, resolver=resolver,
                                             status=checker_from_files(folder, resolver), now=now)
        shown = {k: verified.claims[k] for k in ("address", "age_equal_or_over")}
        print(f"pinned JWK: verified offline, disclosed {shown}")

        # A replayed presentation (another session's nonce) is refused.
        code = await refused(NonceMismatchError, verify_presentation(
            vp, audience=AUDIENCE, nonce="another-nonce", resolver=resolver,
            status=checker_from_files(folder, resolver), now=now))
        print(f"replay with another nonce refused: {code}")

        # The city revokes and the verifier copies the new status list file.
        status.revoke(peek(credential).unverified_claims["status"]["status_list"]["idx"])
        (folder / "status-7.jwt").write_text(status.publish(city_key, now=now, iss=issuer))
        code = await refused(CredentialRevokedError, verify_presentation(
            vp, audience=AUDIENCE, nonce=nonce, resolver=resolver,
            status=checker_from_files(folder, resolver), now=now))
        print(f"after the new status list file: {code}")

        # -- 2. An issuer identified by did:jwk: the DID carries its key; nothing to fetch. ---------
        jwk_key = Key.generate("P-256")
        jwk_did = did_jwk_for(jwk_key)  # did_key_for(jwk_key) works the same way with did:key
        credential, _ = city_side(folder, jwk_did, jwk_key.with_kid(jwk_did + "#0"), device, now)
        async with Resolver([]) as did_resolver:  # no networks: did:jwk and did:key only
            vp = present(credential, disclose=[["age_equal_or_over", "20"]], holder_signer=device,
                         audience=AUDIENCE, nonce=nonce, now=now)
            verified = await verify_presentation(vp, audience=AUDIENCE, nonce=nonce, resolver=did_resolver,
                                                 status=checker_from_files(folder, did_resolver), now=now)
        print(f"did:jwk issuer: verified offline, age over 20 = {verified.claims['age_equal_or_over']['20']}")


if __name__ == "__main__":
    asyncio.run(main())
