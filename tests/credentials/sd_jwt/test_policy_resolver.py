"""VerificationPolicy values and the StaticKeyResolver port implementation."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from tests.credentials.sd_jwt.conftest import AUD, ISSUER, NONCE, NOW
from vcsdk.credentials import (
    DEFAULT_VERIFICATION_POLICY,
    StaticKeyResolver,
    VerificationPolicy,
    present,
    verify_credential,
    verify_presentation,
)
from vcsdk.errors import InvalidInputError, KeyNotFoundError, UnsupportedAlgorithmError
from vcsdk.keys import Key


def test_policy_defaults_are_safe_and_readable() -> None:
    policy = VerificationPolicy()
    assert policy == DEFAULT_VERIFICATION_POLICY
    assert policy.require_key_binding and not policy.accept_legacy_typ and policy.check_status
    assert policy.leeway == timedelta(seconds=60) and policy.sd_algorithms == ("sha-256",)
    text = repr(policy)
    assert "leeway=60s" in text and "key_binding_max_age=300s" in text and "max_depth=32" in text


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"algorithms": ("none",)}, UnsupportedAlgorithmError),
        ({"algorithms": ("HS256",)}, UnsupportedAlgorithmError),
        ({"sd_algorithms": ("md5",)}, UnsupportedAlgorithmError),
        ({"leeway": timedelta(seconds=-1)}, InvalidInputError),
        ({"key_binding_max_age": timedelta(0)}, InvalidInputError),
        ({"max_depth": 101}, InvalidInputError),
        ({"max_disclosures": 0}, InvalidInputError),
    ],
)
def test_policy_refuses_unsafe_values(kwargs: dict[str, Any], error: type[Exception]) -> None:
    with pytest.raises(error):
        VerificationPolicy(**kwargs)


async def test_static_resolver_matches_kids() -> None:
    one, two = Key.generate("P-256").with_kid(f"{ISSUER}#key-1"), Key.generate("P-256").with_kid("#key-2")
    resolver = StaticKeyResolver({ISSUER: [one, two], "did:example:solo": Key.generate("Ed25519")})
    assert await resolver.resolve_key(ISSUER, f"{ISSUER}#key-1") == one.public_key()
    assert await resolver.resolve_key(ISSUER, "#key-1") == one.public_key()
    assert await resolver.resolve_key(ISSUER, f"{ISSUER}#key-2") == two.public_key()
    assert not (await resolver.resolve_key("did:example:solo", None)).is_private
    for issuer, kid in ((ISSUER, None), (ISSUER, "#key-3"), ("did:example:nobody", "#key-1")):
        with pytest.raises(KeyNotFoundError):
            await resolver.resolve_key(issuer, kid)
    with pytest.raises(InvalidInputError):
        StaticKeyResolver({ISSUER: []})
    assert "private" not in repr(resolver) and ISSUER in repr(resolver)


class RecordingResolver:
    """Resolves one key and records when it was asked for (a rotation-aware resolver's view)."""

    def __init__(self, key: Key) -> None:
        self.key = key
        self.asked: list[tuple[str, str | None, str, datetime | None]] = []

    async def resolve_key(self, issuer: str, kid: str | None, *, relationship: str = "assertionMethod",
                          at: datetime | None = None) -> Key:  # fmt: skip
        self.asked.append((issuer, kid, relationship, at))
        return self.key


async def test_key_resolution_at_issuance_time(credential: str, issuer_key: Key, holder_key: Key) -> None:
    token = present(credential, disclose=[["given_name"]], holder_signer=holder_key, audience=AUD, nonce=NONCE,
                    now=NOW + timedelta(days=30))  # fmt: skip
    resolver = RecordingResolver(issuer_key.public_key())
    later = NOW + timedelta(days=30)
    await verify_presentation(token, audience=AUD, nonce=NONCE, resolver=resolver, now=later)
    await verify_presentation(token, audience=AUD, nonce=NONCE, resolver=resolver, now=later,
                              policy=VerificationPolicy(resolve_key_at_issuance=True))  # fmt: skip
    await verify_credential(credential, resolver=resolver, now=later)
    assert [a[3] for a in resolver.asked] == [None, NOW, None]
    assert {(a[0], a[1], a[2]) for a in resolver.asked} == {(ISSUER, issuer_key.kid, "assertionMethod")}
