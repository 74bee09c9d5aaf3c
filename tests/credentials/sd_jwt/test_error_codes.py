"""Every SD-JWT VC verifier check answers with its own stable ``code``, and every failure is a
``VerificationError`` (the one class a service catches): a caller tells a bad signature from a bad
date without reading messages."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.credentials.sd_jwt.conftest import NOW
from tests.credentials.sd_jwt.test_verify_checks import GIVEN, SALT, TS, base_payload, check, dig, forge
from vcsdk.credentials import VerificationPolicy
from vcsdk.credentials.sd_jwt import Disclosure
from vcsdk.errors import InvalidTokenError, UnsupportedAlgorithmError, VerificationError
from vcsdk.keys import Key

ISSUER_KEY = Key.generate("P-256").with_kid("did:example:kaga-city#key-1")
HOLDER_KEY = Key.generate("P-256")
OTHER = Key.generate("P-256")


def _hidden(name: str, value: Any) -> str:
    d = Disclosure.create(SALT, name, value)
    payload = base_payload(HOLDER_KEY, _sd=[dig(GIVEN), dig(d)])
    return forge(ISSUER_KEY, HOLDER_KEY, payload=payload, disclosures=(GIVEN, d))


def _reserved() -> str:
    d = Disclosure.create(SALT, "_sd_alg", "sha-256")
    return forge(ISSUER_KEY, HOLDER_KEY, payload=base_payload(HOLDER_KEY, _sd=[dig(d)]), disclosures=(d,))


def _payload(**changes: Any) -> str:
    return forge(ISSUER_KEY, HOLDER_KEY, payload=base_payload(HOLDER_KEY, **changes))


#: check -> (token, the code its failure carries). One code per check.
CHECKS: dict[str, tuple[Callable[[], str], str]] = {
    "token parses": (lambda: "not-a-token~", "malformed_token"),
    "token not cut short": (lambda: forge(ISSUER_KEY, HOLDER_KEY)[:-20], "truncated_token"),
    "alg allowed": (lambda: forge(ISSUER_KEY, HOLDER_KEY, header={"alg": "HS256"}), "algorithm_not_allowed"),
    "alg is the key's": (lambda: forge(ISSUER_KEY, HOLDER_KEY, header={"alg": "ES256K"}), "alg_key_mismatch"),
    "crit understood": (
        lambda: forge(ISSUER_KEY, HOLDER_KEY, header={"crit": ["exp-ext"], "exp-ext": 1}), "crit_not_understood"
    ),
    "no key in header": (lambda: forge(ISSUER_KEY, HOLDER_KEY, header={"jwk": OTHER.public_jwk()}), "untrusted_key"),
    "typ": (lambda: forge(ISSUER_KEY, HOLDER_KEY, header={"typ": "JWT"}), "invalid_typ"),
    "issuer signature": (lambda: forge(OTHER, HOLDER_KEY), "signature_invalid"),
    "_sd_alg allowed": (lambda: _payload(_sd_alg="md5"), "sd_alg_not_allowed"),
    "reserved claim name": (_reserved, "reserved_claim_name"),
    "date claim is a date": (lambda: _payload(exp=10**18), "invalid_numeric_date"),
    "not expired": (lambda: _payload(exp=TS - 3600), "token_expired"),
    "not before nbf": (lambda: _payload(nbf=TS + 3600), "token_not_yet_valid"),
    "not issued in the future": (lambda: _payload(iat=TS + 3600), "issued_in_future"),
    "required claims": (lambda: _payload(vct=None), "missing_claim"),
    "claim not disclosable": (lambda: _hidden("exp", TS + 10), "claim_not_disclosable"),
    "cnf well formed": (lambda: _payload(cnf={"kid": "x"}), "invalid_cnf"),
    "status an object": (lambda: _payload(status="revoked"), "invalid_status_claim"),
    "key binding present": (lambda: forge(ISSUER_KEY, HOLDER_KEY, with_kb=False), "key_binding_missing"),
    "key binding signature": (
        lambda: forge(ISSUER_KEY, HOLDER_KEY, kb_key=Key.generate("P-256")), "key_binding_signature_invalid"
    ),
    "key binding needs cnf": (lambda: _payload(cnf=None), "key_binding_no_cnf"),
    "nonce": (lambda: forge(ISSUER_KEY, HOLDER_KEY, kb={"nonce": "replayed"}), "nonce_mismatch"),
    "audience": (lambda: forge(ISSUER_KEY, HOLDER_KEY, kb={"aud": "https://other.example"}), "audience_mismatch"),
    "key binding fresh": (lambda: forge(ISSUER_KEY, HOLDER_KEY, kb={"iat": TS - 3600}), "key_binding_stale"),
    "sd_hash": (lambda: forge(ISSUER_KEY, HOLDER_KEY, kb={"sd_hash": dig("other")}), "sd_hash_mismatch"),
}


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_each_check_has_its_code(name: str) -> None:
    make, code = CHECKS[name]
    with pytest.raises(VerificationError) as info:
        check(make(), ISSUER_KEY, VerificationPolicy(check_status=False))
    assert info.value.code == code, repr(info.value)


def test_codes_are_distinct_per_check() -> None:
    codes = [code for _, code in CHECKS.values()]
    assert len(codes) == len(set(codes))


def test_parse_and_algorithm_errors_are_verification_errors() -> None:
    # A service catching VerificationError misses none of them (they were not, once).
    assert issubclass(InvalidTokenError, VerificationError)
    assert issubclass(UnsupportedAlgorithmError, VerificationError)
    assert NOW is not None
