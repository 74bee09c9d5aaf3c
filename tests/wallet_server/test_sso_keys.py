"""The OpenID Provider's RSA key (RS256 ID tokens) in the wallet server: made once, kept sealed with the
data keys in the protocol state on real SQLite and PostgreSQL, the same after a restart and on every
instance, published under the same ``kid``."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any, cast

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from joserfc.jwk import RSAKey

from vcsdk.errors import InvalidInputError, StorageError
from vcsdk.keys import Key
from vcsdk.sso import OpenIDProvider
from wallet_server.services import LocalKeyProvider
from wallet_server.services.protocol_state import DatabaseStateStore
from wallet_server.services.sso import SsoService
from wallet_server.storage import PostgresStore, SqliteStore, Store

NOW = datetime(2026, 12, 1, tzinfo=UTC)
KEYS = LocalKeyProvider({"k1": b"\x01" * 32}, current="k1")
NONE: Any = None  # the ports the RSA key does not use (the city, its records, outgoing HTTP)


async def _open(database: tuple[str, str | None]) -> Store:
    url, schema = database
    if schema is None:
        return await SqliteStore.open(url[len("sqlite:///"):])
    return await PostgresStore.open(url, schema=schema, max_size=4)


def _service(store: Store, keys: LocalKeyProvider = KEYS) -> SsoService:
    return SsoService(NONE, store, state=DatabaseStateStore(store, keys=keys), city=NONE, http=NONE,
                      clock=lambda: NOW, base_url="https://wallet.example", vct="urn:vct", secret=b"s" * 32)


def _provider(key: rsa.RSAPrivateKey) -> OpenIDProvider:
    return OpenIDProvider(
        issuer="https://wallet.example/sso", signer=Key.generate("P-256").with_kid("did:example:city#k1"),
        did="did:example:city", wallet_did="did:example:city", vct="urn:vct", clients=NONE, subjects=NONE,
        store=NONE, verify=NONE, resolver=NONE, subject_secret=b"s" * 32, rsa_key=key,
    )


def _rsa_jwk(provider: OpenIDProvider) -> dict[str, Any]:
    (found,) = [k for k in provider.jwks()["keys"] if k["kty"] == "RSA"]
    return cast(dict[str, Any], found)


async def test_the_rsa_key_survives_a_restart_and_is_kept_sealed(database: tuple[str, str | None]) -> None:
    store = await _open(database)
    try:
        # two instances starting at once on an empty database end up with one key
        first, other = await asyncio.gather(_service(store).rsa_key(), _service(store).rsa_key())
        assert first.key_size == 3072 and first.private_numbers() == other.private_numbers()
        jwk = _rsa_jwk(_provider(first))
        assert jwk["kid"] == RSAKey.import_key(first).thumbprint() and (jwk["use"], jwk["alg"]) == ("sig", "RS256")
        async with store._conn() as conn:  # type: ignore[attr-defined]
            rows = await conn.fetch("SELECT sealed FROM protocol_state")
        assert rows and not any(b"PRIVATE KEY" in bytes(r[0]) or b"MII" in bytes(r[0]) for r in rows)
    finally:
        await store.close()
    store = await _open(database)  # the server restarts on the same database
    try:
        again = await _service(store).rsa_key()
        assert again.private_numbers() == first.private_numbers()
        assert _rsa_jwk(_provider(again)) == jwk  # the same kid in the JWKS
        # a server without the data key it was sealed with does not open it (nor quietly make another)
        with pytest.raises(StorageError):
            await _service(store, LocalKeyProvider({"k1": b"\x02" * 32}, current="k1")).rsa_key()
    finally:
        await store.close()


def test_the_provider_refuses_a_short_or_non_rsa_key() -> None:
    with pytest.raises(InvalidInputError):
        _provider(rsa.generate_private_key(public_exponent=65537, key_size=1024))
    with pytest.raises(InvalidInputError):
        _provider(cast(rsa.RSAPrivateKey, Key.generate("P-256")))
    provider = _provider(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    assert provider.metadata()["id_token_signing_alg_values_supported"] == ["ES256", "RS256"]
    assert [k["alg"] for k in provider.jwks()["keys"]] == ["ES256", "RS256"]
