"""Fixtures for the OpenID4VCI / OpenID4VP tests: fixed clock, counting randomness, keys, DIDs."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest

from vcsdk.credentials import issue_sd_jwt_vc
from vcsdk.keys import Key

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
CITY_DID = "did:ethr:0x539:0x1111111111111111111111111111111111111111"
SERVICE_DID = "did:ethr:0x539:0x2222222222222222222222222222222222222222"
OTHER_DID = "did:ethr:0x539:0x3333333333333333333333333333333333333333"
ISSUER_URL = "https://city.example/issuer"
VCT = "https://city.example/credentials/ResidentIdentityCredential"


class CountingRandomness:
    """Deterministic, never-repeating bytes (a hash of a counter): tests see stable, distinct values."""

    def __init__(self, seed: str = "t") -> None:
        self.seed = seed
        self.count = 0

    def token_bytes(self, n: int) -> bytes:
        out = b""
        while len(out) < n:
            self.count += 1
            out += hashlib.sha256(f"{self.seed}:{self.count}".encode()).digest()
        return out[:n]


class RepeatingRandomness:
    """A broken source that always returns the same bytes."""

    def token_bytes(self, n: int) -> bytes:
        return b"\x07" * n


class EnclaveSigner:
    """A Signer that is not a Key: stands in for a phone's secure enclave."""

    def __init__(self, key: Key) -> None:
        self._key = key

    @property
    def alg(self) -> str:
        return "ES256"

    @property
    def kid(self) -> str | None:
        return None

    def sign(self, data: bytes) -> bytes:
        return self._key.sign(data)


@pytest.fixture
def randomness() -> CountingRandomness:
    return CountingRandomness()


@pytest.fixture(scope="session")
def city_key() -> Key:
    return Key.generate("secp256k1").with_kid(f"{CITY_DID}#controller")


@pytest.fixture(scope="session")
def service_key() -> Key:
    return Key.generate("secp256k1").with_kid(f"{SERVICE_DID}#controller")


@pytest.fixture(scope="session")
def other_key() -> Key:
    return Key.generate("secp256k1").with_kid(f"{OTHER_DID}#controller")


@pytest.fixture
def device_key() -> Key:
    return Key.generate("P-256")


RESIDENT_CLAIMS: dict[str, Any] = {
    "given_name": "Hanako",
    "family_name": "Yamada",
    "birthdate": "1990-04-01",
    "age_equal_or_over": {"18": True, "65": False},
    "address": {"locality": "Tsukuba", "postal_code": "305-0005", "street_address": "1-1 Tennodai"},
    "nationalities": ["JP", "FR"],
}
DISCLOSABLE: list[tuple[Any, ...]] = [
    ("given_name",),
    ("family_name",),
    ("birthdate",),
    ("age_equal_or_over",),
    ("age_equal_or_over", "18"),
    ("age_equal_or_over", "65"),
    ("address",),
    ("address", "locality"),
    ("address", "postal_code"),
    ("address", "street_address"),
    ("nationalities", None),
]
#: A DCQL query for one claim: "age 18 or over" from the resident credential.
AGE_QUERY: dict[str, Any] = {
    "credentials": [
        {
            "id": "resident",
            "format": "dc+sd-jwt",
            "meta": {"vct_values": [VCT]},
            "claims": [{"path": ["age_equal_or_over", "18"]}],
        }
    ]
}


def resident_credential(city_key: Key, device_key: Key, *, vct: str = VCT, now: datetime = NOW) -> str:
    """The city's resident credential (RESIDENT_CLAIMS, every DISCLOSABLE path selectively disclosable)."""
    return issue_sd_jwt_vc(
        RESIDENT_CLAIMS,
        issuer=CITY_DID,
        signer=city_key,
        vct=vct,
        disclosable=DISCLOSABLE,
        holder_key=device_key,
        now=now,
    )


@pytest.fixture
async def redis_store() -> AsyncIterator[Any]:
    """A RedisStateStore on the machine's Redis (127.0.0.1:6379) under a prefix of its own, emptied after."""
    from vcsdk.oid4vc import RedisStateStore

    prefix = f"vcsdk-test:{secrets.token_hex(8)}"
    store = RedisStateStore.from_url("redis://127.0.0.1:6379/0", prefix=prefix)
    try:
        yield store
    finally:
        keys = [k async for k in store._client.scan_iter(match=f"{prefix}:*")]
        if keys:
            await store._client.delete(*keys)
        await store.close()


@pytest.fixture
async def city(aiohttp_server, city_key):  # type: ignore[no-untyped-def]
    """The city's CredentialIssuer served by the aiohttp glue on 127.0.0.1 (batches of up to two keys)."""
    from aiohttp import web

    from tests._net import free_port
    from vcsdk.oid4vc import CredentialConfiguration, CredentialIssuer, InMemoryStateStore, issuer_routes

    port = free_port()
    issuer = CredentialIssuer(
        credential_issuer=f"http://127.0.0.1:{port}/issuer",
        configurations=[CredentialConfiguration(id="ResidentIdentityCredential", vct=VCT)],
        issue=lambda claims, holder_key: issue_sd_jwt_vc(
            claims, issuer=CITY_DID, signer=city_key, vct=VCT, disclosable=DISCLOSABLE, holder_key=holder_key, now=NOW
        ),
        store=InMemoryStateStore(),
        randomness=CountingRandomness("city"),
        batch_size=2,
    )
    app = web.Application()
    app.add_routes(issuer_routes(issuer, clock=lambda: NOW))
    await aiohttp_server(app, host="127.0.0.1", port=port)
    return issuer
