"""The recipe checks the credential type a verifier asked for, and refuses a replayed presentation
when the verifier keeps its nonces in a :class:`NonceStore`."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from tests.credentials.sd_jwt.conftest import AUD, ISSUER, KID, NOW, VCT
from vcsdk.credentials import (
    InMemoryNonceStore,
    StateStoreNonces,
    StaticKeyResolver,
    issue_sd_jwt_vc,
    present,
    verify_credential,
    verify_presentation,
)
from vcsdk.credentials._w3c import build_credential, issue_vc_jwt, verify_vc
from vcsdk.errors import CredentialTypeError, NonceMismatchError, ReplayedNonceError, VerificationError
from vcsdk.keys import Key
from vcsdk.oid4vc import InMemoryStateStore

ISSUER_KEY = Key.generate("P-256").with_kid(KID)
HOLDER_KEY = Key.generate("P-256")
RESOLVER = StaticKeyResolver({ISSUER: ISSUER_KEY.public_key()})
CREDENTIAL = issue_sd_jwt_vc(
    {"given_name": "Hanako"}, issuer=ISSUER, signer=ISSUER_KEY, vct=VCT, disclosable=[["given_name"]],
    holder_key=HOLDER_KEY, now=NOW,
)
OTHER_VCT = "https://credentials.example/LibraryCard"


def _presentation(nonce: str) -> str:
    return present(CREDENTIAL, disclose=[["given_name"]], holder_signer=HOLDER_KEY, audience=AUD, nonce=nonce, now=NOW)


async def test_expected_vct() -> None:
    token = _presentation("n-1")
    ok = await verify_presentation(token, audience=AUD, nonce="n-1", resolver=RESOLVER, now=NOW, vct=VCT)
    assert ok.vct == VCT
    await verify_presentation(token, audience=AUD, nonce="n-1", resolver=RESOLVER, now=NOW, vct=[OTHER_VCT, VCT])
    with pytest.raises(CredentialTypeError) as info:
        await verify_presentation(token, audience=AUD, nonce="n-1", resolver=RESOLVER, now=NOW, vct=OTHER_VCT)
    assert info.value.code == "wrong_credential_type" and isinstance(info.value, VerificationError)
    assert (await verify_credential(CREDENTIAL, resolver=RESOLVER, now=NOW, vct=VCT)).vct == VCT
    with pytest.raises(CredentialTypeError):
        await verify_credential(CREDENTIAL, resolver=RESOLVER, now=NOW, vct=[OTHER_VCT])


async def test_expected_w3c_type() -> None:
    issuer = "did:ethr:0x7a69:0x1111111111111111111111111111111111111111"
    key = Key.generate("P-256").with_kid(issuer + "#controller")
    vc = build_credential(
        issuer=issuer, types=["ResidentIdentityCredential"], subject={"id": "did:key:z6Mk-x"},
        valid_from=NOW - timedelta(days=1),
    )
    token = issue_vc_jwt(vc, key)
    resolver = StaticKeyResolver({issuer: key.public_key()})
    await verify_vc(token, resolver=resolver, now=NOW, credential_type="ResidentIdentityCredential")
    with pytest.raises(CredentialTypeError) as info:
        await verify_vc(token, resolver=resolver, now=NOW, credential_type="LibraryCard")
    assert info.value.code == "wrong_credential_type"


@pytest.mark.parametrize("make_store", [InMemoryNonceStore, lambda: StateStoreNonces(InMemoryStateStore())])
async def test_a_replayed_presentation_is_refused(make_store) -> None:  # type: ignore[no-untyped-def]
    nonces = make_store()
    nonce = await nonces.issue(now=NOW)
    token = _presentation(nonce)
    first = await verify_presentation(token, audience=AUD, nonce=nonce, resolver=RESOLVER, now=NOW, nonces=nonces)
    assert first.key_bound
    with pytest.raises(ReplayedNonceError) as info:
        await verify_presentation(token, audience=AUD, nonce=nonce, resolver=RESOLVER, now=NOW, nonces=nonces)
    assert info.value.code == "replayed_nonce" and isinstance(info.value, NonceMismatchError)
    # A nonce the store never issued, and an expired one, are refused the same way.
    with pytest.raises(ReplayedNonceError):
        await verify_presentation(
            _presentation("made-up"), audience=AUD, nonce="made-up", resolver=RESOLVER, now=NOW, nonces=nonces
        )
    late = await nonces.issue(now=NOW, ttl=timedelta(seconds=30))
    with pytest.raises(ReplayedNonceError):
        await verify_presentation(
            _presentation(late), audience=AUD, nonce=late, resolver=RESOLVER, now=NOW + timedelta(seconds=31),
            nonces=nonces,
        )


async def test_two_concurrent_replays_one_wins() -> None:
    nonces = InMemoryNonceStore()
    nonce = await nonces.issue(now=NOW)
    token = _presentation(nonce)
    results = await asyncio.gather(
        *(verify_presentation(token, audience=AUD, nonce=nonce, resolver=RESOLVER, now=NOW, nonces=nonces)
          for _ in range(5)),
        return_exceptions=True,
    )
    assert sum(not isinstance(r, BaseException) for r in results) == 1
    assert all(isinstance(r, ReplayedNonceError) for r in results if isinstance(r, BaseException))


async def test_without_a_store_the_same_presentation_verifies_twice() -> None:
    # What the recipe did before: the caller must keep nonces itself, or pass a store.
    token = _presentation("n-2")
    for _ in range(2):
        await verify_presentation(token, audience=AUD, nonce="n-2", resolver=RESOLVER, now=NOW)
