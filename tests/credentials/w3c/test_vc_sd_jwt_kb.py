"""W3C VC secured as vc+sd-jwt, presented with chosen Disclosures and a KB-JWT, verified with every check."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vcsdk._b64 import b64url_encode
from vcsdk.credentials import VerificationPolicy, present
from vcsdk.credentials._w3c import build_credential, issue_vc_sd_jwt, verify_vc, verify_vc_sd_jwt
from vcsdk.credentials.sd_jwt import issue as raw_issue
from vcsdk.errors import (
    AudienceMismatchError,
    ClaimsError,
    CredentialRevokedError,
    CredentialStatusError,
    InvalidInputError,
    IssuerNotAccreditedError,
    KeyBindingError,
    KeyBindingMissingError,
    KeyBindingStaleError,
    NonceMismatchError,
    SdHashMismatchError,
    TokenExpiredError,
    TokenNotYetValidError,
    TokenTypeError,
    UnsupportedAlgorithmError,
)
from vcsdk.keys import Key, sign_jws

ISSUER = "did:ethr:0x7a69:0x1111111111111111111111111111111111111111"
KID = ISSUER + "#controller"
NOW = datetime(2026, 4, 1, 12, tzinfo=UTC)
KEY = Key.generate("secp256k1").with_kid(KID)
HOLDER = Key.generate("P-256")
AUD = "did:ethr:0x7a69:0x2222222222222222222222222222222222222222"
NONCE = "n-0S6_WzA2Mj"
STATUS = {
    "id": "https://city.example/w3c/rev/1#7",
    "type": "BitstringStatusListEntry",
    "statusPurpose": "revocation",
    "statusListIndex": "7",
    "statusListCredential": "https://city.example/w3c/rev/1",
}
SUBJECT: dict[str, Any] = {
    "given_name": "Hanako",
    "family_name": "Kaga",
    "address": {"locality": "Kaga", "street_address": "Daishoji 1-1"},
    "age_equal_or_over": {"18": True, "20": True},
}
DISCLOSABLE = ["given_name", "family_name", "address.locality", "address.street_address", "age_equal_or_over.18",
               "age_equal_or_over.20"]
# Each leaf as a DCQL claims path; parents come along.
LEAVES: list[tuple[str, ...]] = [("given_name",), ("family_name",), ("address", "locality"),
                                 ("address", "street_address"), ("age_equal_or_over", "18"),
                                 ("age_equal_or_over", "20")]


def _vc(**kw: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "issuer": ISSUER,
        "types": ["ResidentIdentityCredential"],
        "subject": SUBJECT,
        "valid_from": NOW - timedelta(days=1),
        "valid_until": NOW + timedelta(days=365),
        "status": STATUS,
    } | kw
    return build_credential(**args)


ISSUED = issue_vc_sd_jwt(_vc(), KEY, disclosable=DISCLOSABLE, holder_key=HOLDER.public_key(), decoys=2)


def _present(leaves: Sequence[tuple[str, ...]], *, token: str = ISSUED, holder: Key = HOLDER, aud: str = AUD,
             nonce: str = NONCE, at: datetime = NOW) -> str:
    return present(token, disclose=[("credentialSubject", *leaf) for leaf in leaves], holder_signer=holder,
                   audience=aud, nonce=nonce, now=at)


def _expected(leaves: Sequence[tuple[str, ...]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for leaf in leaves:
        src: Any = SUBJECT
        dst = out
        for part in leaf[:-1]:
            src = src[part]
            dst = dst.setdefault(part, {})
        dst[leaf[-1]] = src[leaf[-1]]
    return out


def _verify(token: str, **kw: Any) -> Any:
    args: dict[str, Any] = {"now": NOW, "audience": AUD, "nonce": NONCE} | kw
    return verify_vc_sd_jwt(token, KEY.public_key(), **args)


# -- round trip


def test_round_trip_with_a_chosen_subset() -> None:
    chosen = [("address", "locality"), ("age_equal_or_over", "20")]
    vp = _present(chosen)
    v = _verify(vp)
    assert v.key_bound is True and v.holder_key is not None
    assert v.holder_key.thumbprint() == HOLDER.public_key().thumbprint()
    assert v.credential["credentialSubject"] == {"address": {"locality": "Kaga"}, "age_equal_or_over": {"20": True}}
    assert v.issuer == ISSUER and v.credential_type == "ResidentIdentityCredential" and v.kid == KID
    assert v.status == [STATUS]
    # The data model stays visible whatever is disclosed.
    assert v.credential["@context"][0] == "https://www.w3.org/ns/credentials/v2"
    assert "Hanako" not in repr(v)


@settings(max_examples=15, deadline=None)
@given(st.sets(st.sampled_from(range(len(LEAVES)))))
def test_verify_returns_exactly_the_presented_subset(indexes: set[int]) -> None:
    chosen = [LEAVES[i] for i in sorted(indexes)]
    v = _verify(_present(chosen))
    assert v.credential["credentialSubject"] == _expected(chosen)


async def test_recipe_resolves_the_key_and_runs_status_and_accreditation() -> None:
    vp = _present([("age_equal_or_over", "18")])
    status, trust = _Status(False), _Trust(True)
    v = await verify_vc(vp, resolver=_Resolver(), status=status, accreditation=trust, now=NOW, audience=AUD,
                        nonce=NONCE)
    assert v.key_bound and v.credential["credentialSubject"] == {"age_equal_or_over": {"18": True}}
    assert status.seen == [STATUS] and trust.calls == [(ISSUER, "ResidentIdentityCredential")]
    with pytest.raises(CredentialRevokedError):
        await verify_vc(vp, resolver=_Resolver(), status=_Status(True), now=NOW, audience=AUD, nonce=NONCE)
    with pytest.raises(CredentialStatusError) as info:
        await verify_vc(vp, resolver=_Resolver(), now=NOW, audience=AUD, nonce=NONCE)
    assert info.value.code == "status_not_checked"
    with pytest.raises(IssuerNotAccreditedError):
        await verify_vc(vp, resolver=_Resolver(), accreditation=_Trust(False), status=status, now=NOW,
                        audience=AUD, nonce=NONCE)
    with pytest.raises(NonceMismatchError):
        await verify_vc(vp, resolver=_Resolver(), status=status, now=NOW, audience=AUD, nonce="other")
    # Without audience and nonce the recipe cannot check the KB-JWT, so it refuses the presentation.
    with pytest.raises(KeyBindingError):
        await verify_vc(vp, resolver=_Resolver(), status=status, now=NOW)
    with pytest.raises(InvalidInputError):
        await verify_vc(vp, resolver=_Resolver(), status=status, now=NOW, audience=AUD)


# -- one negative test per key-binding check


def test_missing_kb_jwt_is_refused() -> None:
    no_kb = present(ISSUED, disclose=[("credentialSubject", "given_name")])
    with pytest.raises(KeyBindingMissingError):
        _verify(no_kb)


def test_kb_jwt_signed_by_another_key_is_refused() -> None:
    with pytest.raises(KeyBindingError) as info:
        _verify(_present([("given_name",)], holder=Key.generate("P-256")))
    assert type(info.value) is KeyBindingError


def _with_kb(base: str, *, typ: str = "kb+jwt") -> str:
    """A KB-JWT made by hand (the presenter refuses to make these broken ones)."""
    sd_hash = b64url_encode(hashlib.sha256(base.encode("ascii")).digest())
    claims = {"nonce": NONCE, "aud": AUD, "iat": int(NOW.timestamp()), "sd_hash": sd_hash}
    return base + sign_jws(claims, HOLDER, typ=typ)


def test_kb_jwt_without_cnf_is_refused() -> None:
    unbound = issue_vc_sd_jwt(_vc(), KEY, disclosable=DISCLOSABLE)
    with pytest.raises(KeyBindingError) as info:
        _verify(_with_kb(present(unbound, disclose=[("credentialSubject", "given_name")])))
    assert type(info.value) is KeyBindingError


def test_wrong_nonce_is_refused() -> None:
    with pytest.raises(NonceMismatchError):
        _verify(_present([("given_name",)], nonce="replayed"))


def test_wrong_audience_is_refused() -> None:
    with pytest.raises(AudienceMismatchError):
        _verify(_present([("given_name",)], aud="https://another.example"))


def test_old_kb_jwt_is_refused() -> None:
    vp = _present([("given_name",)], at=NOW - timedelta(minutes=10))
    with pytest.raises(KeyBindingStaleError):
        _verify(vp)
    # A longer allowed age accepts it.
    assert _verify(vp, policy=VerificationPolicy(key_binding_max_age=timedelta(minutes=15))).key_bound


def test_kb_jwt_from_the_future_is_refused() -> None:
    with pytest.raises(KeyBindingStaleError):
        _verify(_present([("given_name",)], at=NOW + timedelta(minutes=5)))


def test_disclosures_swapped_after_signing_break_sd_hash() -> None:
    vp = _present([("given_name",)])
    other = present(ISSUED, disclose=[("credentialSubject", "family_name")])
    # Same issuer-signed JWT and KB-JWT, other Disclosures: sd_hash no longer covers them.
    swapped = other + vp.rsplit("~", 1)[1]
    with pytest.raises(SdHashMismatchError):
        _verify(swapped)


def test_kb_jwt_with_another_typ_is_refused() -> None:
    base = present(ISSUED, disclose=[("credentialSubject", "given_name")])
    assert _verify(_with_kb(base)).key_bound  # the hand-made KB-JWT is sound with the right typ
    with pytest.raises(TokenTypeError):
        _verify(_with_kb(base, typ="JWT"))


def test_kb_jwt_without_audience_and_nonce_is_refused() -> None:
    with pytest.raises(KeyBindingError):
        verify_vc_sd_jwt(_present([("given_name",)]), KEY, now=NOW)
    with pytest.raises(InvalidInputError):
        verify_vc_sd_jwt(_present([("given_name",)]), KEY, now=NOW, nonce=NONCE)


# -- the issuer-signed part and the data model, on a key-bound presentation


def test_issuer_signature_typ_and_alg_are_still_checked() -> None:
    vp = _present([("given_name",)])
    with pytest.raises(UnsupportedAlgorithmError):
        _verify(vp, policy=VerificationPolicy(algorithms=("ES256",)))
    wrong_typ = raw_issue(_vc(), signer=KEY, typ="dc+sd-jwt", holder_key=HOLDER.public_key(),
                          disclosable=[["credentialSubject", "given_name"]])
    with pytest.raises(TokenTypeError):
        _verify(_present([("given_name",)], token=wrong_typ))


def test_validity_period_is_checked() -> None:
    vp = _present([("given_name",)], at=NOW + timedelta(days=400))
    with pytest.raises(TokenExpiredError):
        _verify(vp, now=NOW + timedelta(days=400))
    early = _present([("given_name",)], at=NOW - timedelta(days=2))
    with pytest.raises(TokenNotYetValidError):
        _verify(early, now=NOW - timedelta(days=2))


def test_data_model_violation_is_refused() -> None:
    broken = _vc()
    broken["@context"] = ["https://example.org/not-the-vc-context"]
    token = raw_issue(broken, signer=KEY, typ="vc+sd-jwt", holder_key=HOLDER.public_key(),
                      disclosable=[["credentialSubject", "given_name"]])
    with pytest.raises(ClaimsError):
        _verify(_present([("given_name",)], token=token))


def test_hidden_cnf_is_refused() -> None:
    vc = _vc() | {"cnf": {"jwk": HOLDER.public_jwk()}}
    token = raw_issue(vc, signer=KEY, typ="vc+sd-jwt", disclosable=[["cnf"], ["credentialSubject", "given_name"]])
    with pytest.raises(ClaimsError):
        _verify(present(token, disclose=[("cnf",), ("credentialSubject", "given_name")]))


# -- ports for the recipe (the verifier's own adapters in production)


class _Resolver:
    async def resolve_key(self, issuer: str, kid: str | None, *, relationship: str = "assertionMethod",
                          at: datetime | None = None) -> Key:
        assert issuer == ISSUER and kid == KID and relationship == "assertionMethod"
        return KEY.public_key()


class _Status:
    def __init__(self, revoked: bool) -> None:
        self.revoked = revoked
        self.seen: list[dict[str, Any]] = []

    async def check(self, status: Any, *, issuer: str, now: datetime) -> None:
        self.seen.append(dict(status))
        if self.revoked:
            raise CredentialRevokedError("revoked")


class _Trust:
    def __init__(self, ok: bool) -> None:
        self.ok = ok
        self.calls: list[tuple[str, str]] = []

    async def check(self, issuer: str, credential_type: str, *, issued_at: datetime, now: datetime) -> None:
        self.calls.append((issuer, credential_type))
        if not self.ok:
            raise IssuerNotAccreditedError("not accredited")
