"""Properties: crafted tokens and proofs (validly signed, arbitrary content) give typed errors only."""

from __future__ import annotations

import asyncio
import json
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vcsdk.errors import VcsdkError
from vcsdk.keys import Key, sign_jws
from wallet_server.services import AuthService
from wallet_server.services.auth import access_token_hash
from wallet_server.storage import Device, Resident, SqliteStore

SERVER_KEY = Key.generate("P-256")
DEVICE_KEY = Key.generate("P-256")
NOW = datetime.now(UTC).replace(microsecond=0)
URL = "https://wallet.test/v1/me"

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)
overrides = st.dictionaries(
    st.sampled_from(["iss", "sub", "dev", "exp", "cnf", "iat", "jti", "htm", "htu", "ath", "kid", "typ", "jwk"]),
    json_values,
    max_size=4,
)


async def scenario(
    token_changes: dict[str, Any], proof_changes: dict[str, Any], header_changes: dict[str, Any]
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = await SqliteStore.open(str(Path(tmp) / "w.db"))
        try:
            await store.create_resident(Resident("res_a", "active", NOW, "k1", b"x"))
            await store.add_device(
                Device("dev_a", "res_a", DEVICE_KEY.thumbprint(), json.dumps(DEVICE_KEY.public_jwk()), "p", NOW)
            )
            auth = AuthService(store, signing_keys=[SERVER_KEY], issuer="https://wallet.test", clock=lambda: NOW)
            claims = {
                "iss": "https://wallet.test",
                "sub": "res_a",
                "dev": "dev_a",
                "exp": int(NOW.timestamp()) + 60,
                "cnf": {"jkt": DEVICE_KEY.thumbprint()},
                **token_changes,
            }
            token = sign_jws(claims, SERVER_KEY, typ="at+jwt")
            proof_claims = {
                "htm": "GET",
                "htu": URL,
                "iat": int(NOW.timestamp()),
                "jti": "abcdefgh12",
                "ath": access_token_hash(token),
                **proof_changes,
            }
            header = {"jwk": DEVICE_KEY.public_jwk(), **header_changes}
            proof = sign_jws(proof_claims, DEVICE_KEY, typ="dpop+jwt", header=header, include_kid=False)
            try:
                principal = await auth.authenticate(authorization=f"DPoP {token}", dpop=[proof], method="GET", url=URL)
            except VcsdkError as exc:
                assert exc.http_status in (400, 401), exc
            else:
                assert principal.device_id == "dev_a"
        finally:
            await store.close()


@pytest.mark.slow  # a fuzz run: 150 crafted logins
@settings(max_examples=150)
@given(token_changes=overrides, proof_changes=overrides, header_changes=overrides)
def test_crafted_tokens_and_proofs_raise_only_typed_errors(token_changes, proof_changes, header_changes) -> None:
    asyncio.run(scenario(token_changes, proof_changes, header_changes))


@pytest.mark.slow  # a fuzz run: 150 header texts
@settings(max_examples=150)
@given(authorization=st.text(max_size=200), proofs=st.lists(st.text(max_size=200), max_size=3))
def test_arbitrary_header_text_raises_only_typed_errors(authorization: str, proofs: list[str]) -> None:
    async def run() -> None:
        with tempfile.TemporaryDirectory() as tmp:
            store = await SqliteStore.open(str(Path(tmp) / "w.db"))
            try:
                auth = AuthService(store, signing_keys=[SERVER_KEY], issuer="https://wallet.test", clock=lambda: NOW)
                try:
                    await auth.authenticate(authorization=authorization, dpop=proofs, method="GET", url=URL)
                except VcsdkError as exc:
                    assert exc.http_status == 401
            finally:
                await store.close()

    asyncio.run(run())
