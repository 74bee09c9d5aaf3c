"""Issuance structure, holder selection by claim path, two-step signing, JSON serialization, peek."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from tests.credentials.sd_jwt.conftest import AUD, CLAIMS, ISSUER, KID, NONCE, NOW, VCT
from vcsdk._b64 import b64url_decode, b64url_encode
from vcsdk.credentials import (
    finish_presentation,
    issue_sd_jwt_vc,
    peek,
    prepare_presentation,
    present,
    sd_jwt,
    verify_presentation_with_key,
    verify_sd_jwt,
)
from vcsdk.errors import InvalidInputError, KeyBindingError, MalformedTokenError, UnsupportedAlgorithmError
from vcsdk.keys import Key


def payload_of(token: str) -> dict[str, Any]:
    return json.loads(b64url_decode(token.split("~")[0].split(".")[1]))


def verify(token: str, issuer_key: Key) -> dict[str, Any]:
    return verify_presentation_with_key(
        token, issuer_key=issuer_key.public_key(), audience=AUD, nonce=NONCE, now=NOW
    ).claims


def kb_present(credential: str, holder_key: Key, *paths: list[Any]) -> str:
    return present(credential, disclose=list(paths), holder_signer=holder_key, audience=AUD, nonce=NONCE, now=NOW)


# -- issuance ---------------------------------------------------------------------------------------


def test_issued_payload_shape(credential: str, holder_key: Key) -> None:
    payload = payload_of(credential)
    assert payload["iss"] == ISSUER and payload["vct"] == VCT and payload["iat"] == int(NOW.timestamp())
    assert payload["_sd_alg"] == "sha-256"
    assert payload["cnf"] == {"jwk": holder_key.public_jwk()}
    assert "given_name" not in payload and "address" not in payload
    # 4 top-level disclosable claims + 2 decoys, sorted (order hides nothing).
    assert len(payload["_sd"]) == 6 and payload["_sd"] == sorted(payload["_sd"])
    assert len(payload["age_equal_or_over"]["_sd"]) == 3 + 2
    assert all(set(e) == {"..."} for e in payload["nationalities"])
    header = json.loads(b64url_decode(credential.split(".")[0]))
    assert header == {"alg": "ES256", "typ": "dc+sd-jwt", "kid": KID}
    assert credential.endswith("~")


def test_salts_have_at_least_128_bits(credential: str) -> None:
    parsed = sd_jwt.parse(credential)
    assert len(parsed.disclosures) == 12
    assert all(len(b64url_decode(d.salt)) >= 16 for d in parsed.disclosures)
    assert len({d.salt for d in parsed.disclosures}) == 12


def test_a_weak_salt_source_is_refused(issuer_key: Key) -> None:
    with pytest.raises(InvalidInputError):
        issue_sd_jwt_vc(
            {"a": 1}, issuer=ISSUER, signer=issuer_key, vct=VCT, disclosable=[["a"]], now=NOW, salt=lambda: "short"
        )


def test_recursive_disclosure_nests(credential: str) -> None:
    parsed = sd_jwt.parse(credential)
    address = next(d for d in parsed.disclosures if d.name == "address")
    assert set(address.value) == {"_sd"} and len(address.value["_sd"]) == 3 + 2


def test_full_credential_verifies_to_the_original_claims(credential: str, issuer_key: Key) -> None:
    result = verify_sd_jwt(credential, issuer_key=issuer_key, now=NOW)
    assert {k: result.claims[k] for k in CLAIMS} == CLAIMS


@pytest.mark.parametrize(
    ("claims", "paths"),
    [
        ({"a": 1}, [["b"]]),
        ({"a": [1]}, [["a", 3]]),
        ({"a": {"b": 1}}, [["a", None]]),
        ({"a": 1}, [[]]),
        ({"a": 1}, ["a"]),
        ({"a": 1}, [["a", True]]),
        ({"_sd": 1}, []),
        ({"a": {"...": 1}}, []),
        ({"iss": "x"}, []),
        ({"cnf": {}}, []),
    ],
)
def test_bad_claims_or_paths(issuer_key: Key, claims: dict[str, Any], paths: list[Any]) -> None:
    with pytest.raises(InvalidInputError):
        issue_sd_jwt_vc(claims, issuer=ISSUER, signer=issuer_key, vct=VCT, disclosable=paths, now=NOW)


@pytest.mark.parametrize("name", ["iss", "vct", "cnf", "status", "exp", "nbf"])
def test_vc_claims_cannot_be_made_disclosable(issuer_key: Key, name: str) -> None:
    with pytest.raises(InvalidInputError):
        issue_sd_jwt_vc({"a": 1}, issuer=ISSUER, signer=issuer_key, vct=VCT, disclosable=[[name]], now=NOW)


def test_unsupported_sd_alg(issuer_key: Key) -> None:
    with pytest.raises(UnsupportedAlgorithmError):
        issue_sd_jwt_vc({"a": 1}, issuer=ISSUER, signer=issuer_key, vct=VCT, now=NOW, sd_alg="md5")


def test_other_sd_alg_exp_and_status(issuer_key: Key, holder_key: Key) -> None:
    status = {"status_list": {"idx": 3, "uri": "https://city.example/status/1"}}
    token = issue_sd_jwt_vc(
        {"a": 1},
        issuer=ISSUER,
        signer=issuer_key,
        vct=VCT,
        disclosable=[["a"]],
        now=NOW,
        sd_alg="sha-384",
        status=status,
        expires_at=NOW + timedelta(days=365),
    )
    payload = payload_of(token)
    assert payload["_sd_alg"] == "sha-384" and payload["status"] == status
    assert payload["exp"] == int((NOW + timedelta(days=365)).timestamp())


def test_remote_signer(holder_key: Key) -> None:
    """Any Signer works for the issuer, e.g. an HSM that only exposes sign()."""
    inner = Key.generate("secp256k1")

    class Remote:
        alg = "ES256K"
        kid = f"{ISSUER}#controller"

        def sign(self, data: bytes) -> bytes:
            return inner.sign(data)

    token = issue_sd_jwt_vc(
        CLAIMS, issuer=ISSUER, signer=Remote(), vct=VCT, disclosable=[["given_name"]], holder_key=holder_key, now=NOW
    )
    assert verify_sd_jwt(token, issuer_key=inner.public_key(), now=NOW).claims["given_name"] == "Hanako"


# -- presentation -------------------------------------------------------------------------------------


def test_only_the_chosen_claims_and_their_parents(credential: str, issuer_key: Key, holder_key: Key) -> None:
    token = kb_present(credential, holder_key, ["address", "locality"], ["age_equal_or_over", "20"])
    claims = verify(token, issuer_key)
    assert claims["address"] == {"locality": "Kaga"}
    assert claims["age_equal_or_over"] == {"20": True}
    assert claims["nationalities"] == []
    assert "given_name" not in claims and "birthdate" not in claims
    assert len(token.split("~")) == 2 + 3  # jwt, address, locality, age 20, kb


def test_a_path_to_an_object_reveals_everything_inside(credential: str, issuer_key: Key, holder_key: Key) -> None:
    claims = verify(kb_present(credential, holder_key, ["address"]), issuer_key)
    assert claims["address"] == CLAIMS["address"]


def test_array_paths(credential: str, issuer_key: Key, holder_key: Key) -> None:
    assert verify(kb_present(credential, holder_key, ["nationalities", 1]), issuer_key)["nationalities"] == ["FR"]
    assert verify(kb_present(credential, holder_key, ["nationalities", None]), issuer_key)["nationalities"] == [
        "JP",
        "FR",
    ]


def test_unknown_paths_are_refused(credential: str, holder_key: Key) -> None:
    for path in (["email"], ["nationalities", 5], ["address", "zip"]):
        with pytest.raises(InvalidInputError):
            kb_present(credential, holder_key, path)


def test_presentation_without_key_binding(credential: str, issuer_key: Key) -> None:
    token = present(credential, disclose=[["given_name"]])
    assert token.endswith("~")
    assert verify_sd_jwt(token, issuer_key=issuer_key, now=NOW).claims["given_name"] == "Hanako"


def test_cannot_present_a_presentation(credential: str, holder_key: Key) -> None:
    with pytest.raises(InvalidInputError):
        kb_present(kb_present(credential, holder_key, ["given_name"]), holder_key, ["given_name"])


def test_two_step_signing_for_a_secure_enclave(credential: str, issuer_key: Key, holder_key: Key) -> None:
    pending = prepare_presentation(
        credential, disclose=[["age_equal_or_over", "18"]], audience=AUD, nonce=NONCE, now=NOW
    )
    header, payload = (json.loads(b64url_decode(p)) for p in pending.signing_input.decode().split("."))
    assert header == {"alg": "ES256", "typ": "kb+jwt"}
    assert set(payload) == {"iat", "aud", "nonce", "sd_hash"}
    signature = holder_key.sign(pending.signing_input)  # on the phone
    token = finish_presentation(pending, signature)  # on the server, which never sees the key
    assert verify(token, issuer_key)["age_equal_or_over"] == {"18": True}


def test_two_step_signing_refuses_a_wrong_signature(credential: str) -> None:
    pending = prepare_presentation(credential, disclose=[["given_name"]], audience=AUD, nonce=NONCE, now=NOW)
    with pytest.raises(KeyBindingError):
        finish_presentation(pending, Key.generate("P-256").sign(pending.signing_input))
    with pytest.raises(KeyBindingError):
        finish_presentation(pending, b"\x00" * 64)


def test_key_bound_presentation_needs_audience_and_nonce(credential: str, holder_key: Key) -> None:
    with pytest.raises(InvalidInputError):
        present(credential, disclose=[["given_name"]], holder_signer=holder_key, audience=AUD, now=NOW)


# -- JWS JSON serialization (RFC 9901 §8) -------------------------------------------------------------


def test_json_flattened_round_trip(issuer_key: Key, holder_key: Key) -> None:
    payload = {"iss": ISSUER, "vct": VCT, "iat": int(NOW.timestamp()), **CLAIMS}
    token = sd_jwt.issue(
        payload,
        signer=issuer_key,
        disclosable=[["given_name"], ["family_name"]],
        holder_key=holder_key,
        serialization="json",
    )
    obj = json.loads(token)
    assert set(obj) == {"payload", "protected", "signature", "header"}
    assert len(obj["header"]["disclosures"]) == 2
    presented = kb_present(token, holder_key, ["family_name"])
    header = json.loads(presented)["header"]
    assert len(header["disclosures"]) == 1 and header["kb_jwt"].count(".") == 2
    claims = verify(presented, issuer_key)
    assert claims["family_name"] == "Kaga" and "given_name" not in claims


def test_pre_rfc_json_layout_is_refused(issuer_key: Key) -> None:
    token = json.loads(
        sd_jwt.issue({"iss": ISSUER, "vct": VCT, "a": 1}, signer=issuer_key, disclosable=[["a"]], serialization="json")
    )
    token["disclosures"] = token.pop("header")["disclosures"]
    with pytest.raises(MalformedTokenError):
        sd_jwt.parse(json.dumps(token))


# -- peek ---------------------------------------------------------------------------------------------------


def test_peek_reads_routing_facts_without_verifying(credential: str, holder_key: Key) -> None:
    token = kb_present(credential, holder_key, ["given_name"])
    seen = peek(token)
    assert (seen.unverified_issuer, seen.unverified_kid, seen.unverified_vct) == (ISSUER, KID, VCT)
    assert seen.unverified_claims["given_name"] == "Hanako"
    assert "Hanako" not in repr(seen)
    forged = token.split(".")[0] + "." + b64url_encode(b"{}") + "." + token.split(".", 2)[2]
    with pytest.raises(InvalidInputError):
        peek("not a token")
    assert peek(forged.split("~")[0] + "~").unverified_issuer is None


def test_reprs_hide_claim_values(credential: str, issuer_key: Key) -> None:
    result = verify_sd_jwt(credential, issuer_key=issuer_key, now=NOW)
    assert "Hanako" not in repr(result)
    assert all("Hanako" not in repr(d) for d in sd_jwt.parse(credential).disclosures)


def test_presenting_with_a_key_other_than_cnf(credential: str, holder_key: Key) -> None:
    wrong = Key.generate("P-256")
    with pytest.raises(KeyBindingError):
        kb_present(credential, wrong, ["given_name"])

    class Enclave:
        alg = "ES256"
        kid = None

        def sign(self, data: bytes) -> bytes:
            return wrong.sign(data)

    with pytest.raises(KeyBindingError):
        present(credential, disclose=[["given_name"]], holder_signer=Enclave(), audience=AUD, nonce=NONCE, now=NOW)

    class RightEnclave(Enclave):
        def sign(self, data: bytes) -> bytes:
            return holder_key.sign(data)

    assert present(credential, disclose=[["given_name"]], holder_signer=RightEnclave(), audience=AUD, nonce=NONCE,
                   now=NOW).count(".") == 4  # fmt: skip
