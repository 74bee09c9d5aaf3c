"""One negative test per verifier check, each expecting its own error class (and narrowed code)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import pytest

from tests.credentials.sd_jwt.conftest import AUD, ISSUER, KID, NONCE, NOW, VCT, sign_compact
from vcsdk._b64 import b64url_encode
from vcsdk.credentials import (
    StaticKeyResolver,
    VerificationPolicy,
    present,
    verify_credential,
    verify_presentation,
    verify_presentation_with_key,
    verify_sd_jwt,
)
from vcsdk.credentials.sd_jwt import Disclosure
from vcsdk.errors import (
    AudienceMismatchError,
    ClaimsError,
    CredentialRevokedError,
    CredentialStatusError,
    CriticalHeaderError,
    DisallowedAlgorithmError,
    DisclosureError,
    KeyBindingError,
    KeyBindingMissingError,
    KeyBindingStaleError,
    KeyNotFoundError,
    MalformedTokenError,
    NonceMismatchError,
    SdHashMismatchError,
    SignatureInvalidError,
    TokenExpiredError,
    TokenNotYetValidError,
    TokenTypeError,
    UntrustedKeyError,
    VerificationError,
)
from vcsdk.keys import Key

SALT = b64url_encode(b"0123456789abcdef")
GIVEN = Disclosure.create(SALT, "given_name", "Hanako")
TS = int(NOW.timestamp())


def dig(d: Disclosure | str) -> str:
    text = d.encoded if isinstance(d, Disclosure) else d
    return b64url_encode(hashlib.sha256(text.encode()).digest())


def base_payload(holder: Key, **extra: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "iss": ISSUER,
        "iat": TS,
        "vct": VCT,
        "_sd_alg": "sha-256",
        "cnf": {"jwk": holder.public_jwk()},
        "_sd": [dig(GIVEN)],
    }
    payload.update(extra)
    return {k: v for k, v in payload.items() if v is not None}


def forge(
    issuer: Key,
    holder: Key,
    *,
    payload: Mapping[str, Any] | None = None,
    disclosures: tuple[Disclosure, ...] = (GIVEN,),
    header: Mapping[str, Any] | None = None,
    kb: Mapping[str, Any] | None = None,
    kb_header: Mapping[str, Any] | None = None,
    kb_key: Key | None = None,
    with_kb: bool = True,
    sd_hash_alg: Any = hashlib.sha256,
) -> str:
    h = {"alg": "ES256", "typ": "dc+sd-jwt", "kid": KID, **(header or {})}
    h = {k: v for k, v in h.items() if v is not None}
    jwt = sign_compact(h, payload if payload is not None else base_payload(holder), issuer)
    prefix = "~".join([jwt, *(d.encoded for d in disclosures)]) + "~"
    if not with_kb:
        return prefix
    sd_hash = b64url_encode(sd_hash_alg(prefix.encode()).digest())
    kb_payload = {"iat": TS, "aud": AUD, "nonce": NONCE, "sd_hash": sd_hash, **(kb or {})}
    kb_h = {"alg": "ES256", "typ": "kb+jwt", **(kb_header or {})}
    return prefix + sign_compact(kb_h, kb_payload, kb_key or holder)


def check(token: str, issuer: Key, policy: VerificationPolicy | None = None) -> Any:
    kwargs: dict[str, Any] = {"policy": policy} if policy else {}
    return verify_presentation_with_key(
        token, issuer_key=issuer.public_key(), audience=AUD, nonce=NONCE, now=NOW, **kwargs
    )


def raises_exactly(
    cls: type[Exception], token: str, issuer: Key, policy: VerificationPolicy | None = None, code: str | None = None
) -> None:
    with pytest.raises(cls) as info:
        check(token, issuer, policy)
    assert type(info.value) is cls, repr(info.value)
    assert isinstance(info.value, VerificationError)
    if code is not None:
        assert info.value.code == code  # type: ignore[attr-defined]


def test_forged_baseline_verifies(issuer_key: Key, holder_key: Key) -> None:
    result = check(forge(issuer_key, holder_key), issuer_key)
    assert result.claims["given_name"] == "Hanako" and result.key_bound
    assert result.holder_key == holder_key.public_key()


# -- the Issuer-signed JWT -----------------------------------------------------------------------


def test_issuer_signature_with_another_key(issuer_key: Key, holder_key: Key) -> None:
    raises_exactly(SignatureInvalidError, forge(Key.generate("P-256"), holder_key), issuer_key)


def test_issuer_signature_tampered_payload(issuer_key: Key, holder_key: Key) -> None:
    token = forge(issuer_key, holder_key)
    h, _p, rest = token.split(".", 2)
    other = forge(issuer_key, holder_key, payload=base_payload(holder_key, iss="did:example:mallory"))
    raises_exactly(SignatureInvalidError, ".".join([h, other.split(".")[1], rest]), issuer_key)


async def test_issuer_key_is_resolved_by_kid(issuer_key: Key, holder_key: Key) -> None:
    resolver = StaticKeyResolver({ISSUER: [issuer_key, Key.generate("P-256").with_kid(f"{ISSUER}#key-2")]})
    token = forge(issuer_key, holder_key)
    assert (await verify_presentation(token, audience=AUD, nonce=NONCE, resolver=resolver, now=NOW)).kid == KID
    with pytest.raises(KeyNotFoundError):
        await verify_presentation(
            forge(issuer_key, holder_key, header={"kid": f"{ISSUER}#key-9"}),
            audience=AUD,
            nonce=NONCE,
            resolver=resolver,
            now=NOW,
        )
    # Signed by key-2's holder but naming key-1: the resolved key decides, so the signature fails.
    with pytest.raises(SignatureInvalidError):
        await verify_presentation(
            forge(Key.generate("P-256"), holder_key), audience=AUD, nonce=NONCE, resolver=resolver, now=NOW
        )


@pytest.mark.parametrize("param", ["jwk", "x5c", "jku"])
def test_header_key_material_is_never_used(issuer_key: Key, holder_key: Key, param: str) -> None:
    value: Any = Key.generate("P-256").public_jwk() if param == "jwk" else ["AAAA"] if param == "x5c" else "https://x"
    raises_exactly(UntrustedKeyError, forge(issuer_key, holder_key, header={param: value}), issuer_key)


@pytest.mark.parametrize("typ", ["JWT", "example+sd-jwt", None, "vc+sd-jwt"])
def test_typ_must_be_dc_sd_jwt(issuer_key: Key, holder_key: Key, typ: str | None) -> None:
    raises_exactly(TokenTypeError, forge(issuer_key, holder_key, header={"typ": typ}), issuer_key)


def test_legacy_typ_only_when_the_policy_says_so(issuer_key: Key, holder_key: Key) -> None:
    token = forge(issuer_key, holder_key, header={"typ": "vc+sd-jwt"})
    assert check(token, issuer_key, VerificationPolicy(accept_legacy_typ=True)).vct == VCT


@pytest.mark.parametrize("alg", ["none", "HS256", "RS256", None, "ES256K"])
def test_algorithm_allow_list(issuer_key: Key, holder_key: Key, alg: str | None) -> None:
    raises_exactly(DisallowedAlgorithmError, forge(issuer_key, holder_key, header={"alg": alg}), issuer_key)


def test_algorithm_outside_the_policy(issuer_key: Key, holder_key: Key) -> None:
    raises_exactly(
        DisallowedAlgorithmError, forge(issuer_key, holder_key), issuer_key, VerificationPolicy(algorithms=("EdDSA",))
    )


def test_critical_header_extensions_are_refused(issuer_key: Key, holder_key: Key) -> None:
    raises_exactly(
        CriticalHeaderError,
        forge(issuer_key, holder_key, header={"crit": ["b64"], "b64": True}),
        issuer_key,
        code="crit_not_understood",
    )


@pytest.mark.parametrize("sd_alg", ["md5", "sha-1", "SHA-256", 256])
def test_sd_alg_allow_list(issuer_key: Key, holder_key: Key, sd_alg: Any) -> None:
    token = forge(issuer_key, holder_key, payload=base_payload(holder_key, _sd_alg=sd_alg))
    raises_exactly(DisallowedAlgorithmError, token, issuer_key, code="sd_alg_not_allowed")


def test_sd_alg_other_than_sha256_needs_the_policy(issuer_key: Key, holder_key: Key) -> None:
    d = GIVEN
    payload = base_payload(
        holder_key, _sd_alg="sha-512", _sd=[b64url_encode(hashlib.sha512(d.encoded.encode()).digest())]
    )
    # sd_hash is also sha-512 then (RFC 9901 §4.3.1: the same hash as _sd_alg).
    token = forge(issuer_key, holder_key, payload=payload, sd_hash_alg=hashlib.sha512)
    raises_exactly(DisallowedAlgorithmError, token, issuer_key)
    assert check(token, issuer_key, VerificationPolicy(sd_algorithms=("sha-256", "sha-512"))).claims["given_name"]


# -- validity window -----------------------------------------------------------------------------


def test_iat_in_the_future(issuer_key: Key, holder_key: Key) -> None:
    token = forge(issuer_key, holder_key, payload=base_payload(holder_key, iat=TS + 120))
    raises_exactly(TokenNotYetValidError, token, issuer_key, code="issued_in_future")
    assert check(forge(issuer_key, holder_key, payload=base_payload(holder_key, iat=TS + 30)), issuer_key)


def test_nbf_in_the_future(issuer_key: Key, holder_key: Key) -> None:
    raises_exactly(
        TokenNotYetValidError, forge(issuer_key, holder_key, payload=base_payload(holder_key, nbf=TS + 61)), issuer_key
    )


def test_exp_passed(issuer_key: Key, holder_key: Key) -> None:
    raises_exactly(
        TokenExpiredError, forge(issuer_key, holder_key, payload=base_payload(holder_key, exp=TS - 60)), issuer_key
    )
    # Inside the leeway it still verifies.
    assert check(forge(issuer_key, holder_key, payload=base_payload(holder_key, exp=TS - 59)), issuer_key)
    policy = VerificationPolicy(leeway=timedelta(0))
    raises_exactly(
        TokenExpiredError, forge(issuer_key, holder_key, payload=base_payload(holder_key, exp=TS)), issuer_key, policy
    )


@pytest.mark.parametrize("claim", ["iat", "exp", "nbf"])
def test_time_claims_must_be_numbers(issuer_key: Key, holder_key: Key, claim: str) -> None:
    raises_exactly(
        ClaimsError, forge(issuer_key, holder_key, payload=base_payload(holder_key, **{claim: "soon"})), issuer_key
    )


# -- digests and Disclosures (RFC 9901 §7.1) -------------------------------------------------------


def test_digest_referenced_twice(issuer_key: Key, holder_key: Key) -> None:
    payload = base_payload(holder_key, address={"_sd": [dig(GIVEN)]})
    raises_exactly(DisclosureError, forge(issuer_key, holder_key, payload=payload), issuer_key, code="duplicate_digest")


def test_duplicate_digest_in_one_sd_array(issuer_key: Key, holder_key: Key) -> None:
    payload = base_payload(holder_key, _sd=[dig(GIVEN), dig(GIVEN)])
    raises_exactly(DisclosureError, forge(issuer_key, holder_key, payload=payload), issuer_key, code="duplicate_digest")


def test_same_disclosure_presented_twice(issuer_key: Key, holder_key: Key) -> None:
    token = forge(issuer_key, holder_key, disclosures=(GIVEN, GIVEN))
    raises_exactly(DisclosureError, token, issuer_key, code="duplicate_disclosure")


@pytest.mark.parametrize("name", ["_sd", "..."])
def test_reserved_claim_names(issuer_key: Key, holder_key: Key, name: str) -> None:
    bad = Disclosure.create(SALT, name, ["x"])
    token = forge(issuer_key, holder_key, payload=base_payload(holder_key, _sd=[dig(bad)]), disclosures=(bad,))
    raises_exactly(DisclosureError, token, issuer_key, code="reserved_claim_name")


def test_array_digest_pointing_to_a_property_disclosure(issuer_key: Key, holder_key: Key) -> None:
    payload = base_payload(holder_key, _sd=None, nationalities=[{"...": dig(GIVEN)}])
    raises_exactly(DisclosureError, forge(issuer_key, holder_key, payload=payload), issuer_key, code="disclosure_shape")


def test_object_digest_pointing_to_an_array_element_disclosure(issuer_key: Key, holder_key: Key) -> None:
    element = Disclosure.create(SALT, None, "JP")
    token = forge(issuer_key, holder_key, payload=base_payload(holder_key, _sd=[dig(element)]), disclosures=(element,))
    raises_exactly(DisclosureError, token, issuer_key, code="disclosure_shape")


def test_unreferenced_disclosure(issuer_key: Key, holder_key: Key) -> None:
    stray = Disclosure.create(SALT, "family_name", "Kaga")
    token = forge(issuer_key, holder_key, disclosures=(GIVEN, stray))
    raises_exactly(DisclosureError, token, issuer_key, code="unreferenced_disclosure")


def test_disclosure_overwriting_a_plain_claim(issuer_key: Key, holder_key: Key) -> None:
    clash = Disclosure.create(SALT, "vct", "https://credentials.example/Other")
    token = forge(issuer_key, holder_key, payload=base_payload(holder_key, _sd=[dig(clash)]), disclosures=(clash,))
    raises_exactly(DisclosureError, token, issuer_key, code="claim_name_conflict")


def test_sd_must_be_an_array(issuer_key: Key, holder_key: Key) -> None:
    raises_exactly(
        DisclosureError,
        forge(issuer_key, holder_key, payload=base_payload(holder_key, _sd="x")),
        issuer_key,
        code="invalid_digest",
    )


def test_disclosure_that_is_not_an_array(issuer_key: Key, holder_key: Key) -> None:
    raw = b64url_encode(b'{"salt": "x"}')
    token = forge(issuer_key, holder_key)
    first, rest = token.split("~", 1)
    raises_exactly(MalformedTokenError, f"{first}~{raw}~{rest}", issuer_key)


# -- SD-JWT VC claims --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["status", "exp", "cnf"])
def test_vc_claims_must_not_be_selectively_disclosable(issuer_key: Key, holder_key: Key, name: str) -> None:
    value: Any = {"status_list": {"idx": 1, "uri": "https://x"}} if name == "status" else TS + 10
    if name == "cnf":
        value = {"jwk": holder_key.public_jwk()}
    hidden = Disclosure.create(SALT, name, value)
    payload = base_payload(holder_key, _sd=[dig(GIVEN), dig(hidden)])
    if name == "cnf":
        payload.pop("cnf")
    token = forge(issuer_key, holder_key, payload=payload, disclosures=(GIVEN, hidden))
    raises_exactly(ClaimsError, token, issuer_key)


@pytest.mark.parametrize("name", ["vct", "iss"])
def test_vct_and_iss_are_required(issuer_key: Key, holder_key: Key, name: str) -> None:
    payload = base_payload(holder_key)
    payload.pop(name)
    raises_exactly(ClaimsError, forge(issuer_key, holder_key, payload=payload), issuer_key)


def test_malformed_cnf(issuer_key: Key, holder_key: Key) -> None:
    for cnf in ({"kid": "x"}, {"jwk": {"kty": "RSA", "n": "x", "e": "AQAB"}}, {"jwk": holder_key.private_jwk()}):
        raises_exactly(
            ClaimsError, forge(issuer_key, holder_key, payload=base_payload(holder_key, cnf=cnf)), issuer_key
        )


# -- key binding (RFC 9901 §7.3) -------------------------------------------------------------------------


def test_key_binding_missing(issuer_key: Key, holder_key: Key) -> None:
    token = forge(issuer_key, holder_key, with_kb=False)
    raises_exactly(KeyBindingMissingError, token, issuer_key)
    lenient = check(token, issuer_key, VerificationPolicy(require_key_binding=False))
    assert not lenient.key_bound and lenient.claims["given_name"] == "Hanako"


def test_key_binding_signed_by_another_key(issuer_key: Key, holder_key: Key) -> None:
    raises_exactly(KeyBindingError, forge(issuer_key, holder_key, kb_key=Key.generate("P-256")), issuer_key)


def test_key_binding_without_cnf(issuer_key: Key, holder_key: Key) -> None:
    raises_exactly(
        KeyBindingError, forge(issuer_key, holder_key, payload=base_payload(holder_key, cnf=None)), issuer_key
    )


@pytest.mark.parametrize("typ", ["JWT", None, "dc+sd-jwt"])
def test_key_binding_typ(issuer_key: Key, holder_key: Key, typ: str | None) -> None:
    kb_header: dict[str, Any] = {"typ": typ} if typ else {"typ": None}
    token = forge(issuer_key, holder_key, kb_header={k: v for k, v in kb_header.items() if v} if typ else {})
    if typ is None:
        # Rebuild without any typ at all.
        prefix = token[: token.rindex("~") + 1]
        kb = sign_compact({"alg": "ES256"}, {"iat": TS, "aud": AUD, "nonce": NONCE, "sd_hash": dig(prefix)}, holder_key)
        token = prefix + kb
    raises_exactly(TokenTypeError, token, issuer_key)


def test_nonce(issuer_key: Key, holder_key: Key) -> None:
    raises_exactly(NonceMismatchError, forge(issuer_key, holder_key, kb={"nonce": "replayed"}), issuer_key)


def test_audience(issuer_key: Key, holder_key: Key) -> None:
    raises_exactly(
        AudienceMismatchError, forge(issuer_key, holder_key, kb={"aud": "https://other.example"}), issuer_key
    )
    raises_exactly(AudienceMismatchError, forge(issuer_key, holder_key, kb={"aud": [AUD]}), issuer_key)


def test_key_binding_too_old(issuer_key: Key, holder_key: Key) -> None:
    raises_exactly(KeyBindingStaleError, forge(issuer_key, holder_key, kb={"iat": TS - 361}), issuer_key)
    assert check(forge(issuer_key, holder_key, kb={"iat": TS - 359}), issuer_key).key_bound


def test_key_binding_from_the_future(issuer_key: Key, holder_key: Key) -> None:
    raises_exactly(
        KeyBindingStaleError,
        forge(issuer_key, holder_key, kb={"iat": TS + 61}),
        issuer_key,
        code="key_binding_not_yet_valid",
    )


def test_key_binding_exp_and_nbf(issuer_key: Key, holder_key: Key) -> None:
    raises_exactly(KeyBindingStaleError, forge(issuer_key, holder_key, kb={"exp": TS - 60}), issuer_key,
                   code="key_binding_expired")  # fmt: skip
    raises_exactly(KeyBindingStaleError, forge(issuer_key, holder_key, kb={"nbf": TS + 61}), issuer_key,
                   code="key_binding_not_yet_valid")  # fmt: skip
    raises_exactly(KeyBindingError, forge(issuer_key, holder_key, kb={"exp": "later"}), issuer_key)
    assert check(forge(issuer_key, holder_key, kb={"exp": TS + 60, "nbf": TS}), issuer_key).key_bound


def test_key_binding_without_iat(issuer_key: Key, holder_key: Key) -> None:
    raises_exactly(KeyBindingError, forge(issuer_key, holder_key, kb={"iat": "now"}), issuer_key)


def test_sd_hash(issuer_key: Key, holder_key: Key) -> None:
    raises_exactly(SdHashMismatchError, forge(issuer_key, holder_key, kb={"sd_hash": dig("other")}), issuer_key)


def test_sd_hash_catches_a_dropped_disclosure(credential: str, issuer_key: Key, holder_key: Key) -> None:
    token = present(
        credential,
        disclose=[["given_name"], ["family_name"]],
        holder_signer=holder_key,
        audience=AUD,
        nonce=NONCE,
        now=NOW,
    )
    parts = token.split("~")
    dropped = "~".join([parts[0], parts[2], parts[-1]])
    raises_exactly(SdHashMismatchError, dropped, issuer_key)


def test_key_binding_algorithm_allow_list(issuer_key: Key, holder_key: Key) -> None:
    raises_exactly(DisallowedAlgorithmError, forge(issuer_key, holder_key, kb_header={"alg": "HS256"}), issuer_key)


# -- status through the StatusChecker port --------------------------------------------------------------


class RevokedIndexes:
    """A tiny StatusChecker: a set of revoked list indexes (the status list suite tests the real one)."""

    def __init__(self, revoked: set[int]) -> None:
        self.revoked = revoked
        self.calls: list[tuple[Mapping[str, Any], str]] = []

    async def check(self, status: Mapping[str, Any], *, issuer: str, now: Any) -> None:
        self.calls.append((status, issuer))
        if status["status_list"]["idx"] in self.revoked:
            raise CredentialRevokedError("credential has been revoked")


async def test_status_is_checked_through_the_port(issuer_key: Key, holder_key: Key) -> None:
    resolver = StaticKeyResolver({ISSUER: issuer_key})
    status = {"status_list": {"idx": 7, "uri": "https://city.example/status/1"}}
    token = forge(issuer_key, holder_key, payload=base_payload(holder_key, status=status))
    ok = RevokedIndexes(set())
    result = await verify_presentation(token, audience=AUD, nonce=NONCE, resolver=resolver, status=ok, now=NOW)
    assert result.status == status and ok.calls == [(status, ISSUER)]
    with pytest.raises(CredentialRevokedError):
        await verify_presentation(
            token, audience=AUD, nonce=NONCE, resolver=resolver, status=RevokedIndexes({7}), now=NOW
        )
    with pytest.raises(CredentialStatusError) as info:
        await verify_presentation(token, audience=AUD, nonce=NONCE, resolver=resolver, now=NOW)
    assert info.value.code == "status_not_checked"
    relaxed = VerificationPolicy(check_status=False)
    assert await verify_presentation(token, audience=AUD, nonce=NONCE, resolver=resolver, policy=relaxed, now=NOW)
    with pytest.raises(CredentialRevokedError):
        await verify_credential(token, resolver=resolver, status=RevokedIndexes({7}), now=NOW)


def test_verify_sd_jwt_checks_the_issuer_part_alone(issuer_key: Key, holder_key: Key) -> None:
    token = forge(issuer_key, holder_key, with_kb=False)
    result = verify_sd_jwt(token, issuer_key=issuer_key, now=NOW)
    assert not result.key_bound and result.claims["given_name"] == "Hanako"
    with pytest.raises(SignatureInvalidError):
        verify_sd_jwt(forge(Key.generate("P-256"), holder_key, with_kb=False), issuer_key=issuer_key, now=NOW)
