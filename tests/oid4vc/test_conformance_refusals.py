"""What the conformance table in docs/oid4vc.md lists as not supported is refused with the error
the specifications name, never half-handled: other Client Identifier Prefixes, the DC API response
mode, transaction data, encrypted Request Objects, the ``attestation`` and ``di_vp`` proof types,
key attestations, encrypted credential responses, and credential formats other than ``dc+sd-jwt``."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest

from vcsdk.errors import InvalidInputError, ProtocolError
from vcsdk.keys import Key
from vcsdk.oid4vc import (
    CandidateCredential,
    load_request_object,
    match_dcql,
    parse_authorization_request_uri,
    parse_dcql_query,
)
from vcsdk.oid4vc._wallet import request_from_parameters

from .conftest import NOW, RESIDENT_CLAIMS, VCT

QUERY = {"credentials": [{"id": "r", "format": "dc+sd-jwt", "meta": {"vct_values": [VCT]},
                          "claims": [{"path": ["given_name"]}]}]}


@pytest.mark.parametrize("client_id", [
    "openid_federation:https://rp.example", "verifier_attestation:rp.example", "pre-registered-client",
    "origin:https://rp.example", "x509_san_uri:https://rp.example",
])
def test_client_id_prefixes_we_do_not_support_are_refused(client_id):
    link = f"openid4vp://?client_id={quote(client_id)}&request_uri={quote('https://rp.example/r/1')}"
    with pytest.raises(ProtocolError) as info:
        parse_authorization_request_uri(link)
    assert info.value.code == "invalid_request"


def _by_value(**extra: str) -> str:
    params = {"client_id": "redirect_uri:https://rp.example/cb", "response_type": "vp_token",
              "response_mode": "direct_post", "nonce": "n-1", "response_uri": "https://rp.example/cb",
              "dcql_query": json.dumps(QUERY), **extra}
    return "openid4vp://?" + "&".join(f"{k}={quote(v)}" for k, v in params.items())


@pytest.mark.parametrize(("extra", "code"), [
    ({"response_mode": "dc_api"}, "invalid_request"),
    ({"response_mode": "dc_api.jwt"}, "invalid_request"),
    ({"response_mode": "fragment"}, "invalid_request"),
    ({"transaction_data": json.dumps(["eyJ0eXBlIjoicGF5bWVudCJ9"])}, "invalid_transaction_data"),
])
def test_dc_api_modes_and_transaction_data_are_refused(extra, code):
    assert request_from_parameters(parse_authorization_request_uri(_by_value()), now=NOW).nonce == "n-1"
    with pytest.raises(ProtocolError) as info:
        request_from_parameters(parse_authorization_request_uri(_by_value(**extra)), now=NOW)
    assert info.value.code == code


async def test_an_encrypted_request_object_is_refused():
    jwe = "eyJhbGciOiJFQ0RILUVTIiwiZW5jIjoiQTI1NkdDTSJ9..aXY.Y2lwaGVy.dGFn"  # five parts: a JWE
    with pytest.raises((ProtocolError, InvalidInputError)):
        await load_request_object(jwe, resolver=None, expected_client_id=None, now=NOW)


def test_formats_other_than_sd_jwt_vc_never_match():
    query = parse_dcql_query({"credentials": [
        {"id": "mdl", "format": "mso_mdoc", "meta": {"doctype_value": "org.iso.18013.5.1.mDL"},
         "claims": [{"path": ["org.iso.18013.5.1", "family_name"]}]},
    ]})
    match = match_dcql(query, [CandidateCredential("vc", "dc+sd-jwt", VCT, RESIDENT_CLAIMS)])
    assert not match.satisfiable


@pytest.mark.parametrize(("proofs", "code"), [
    ({"attestation": ["eyJ.eyJ.sig"]}, "invalid_proof"),
    ({"di_vp": [{"@context": []}]}, "invalid_proof"),
    ({"jwt": ["x"], "attestation": ["y"]}, "invalid_proof"),
])
async def test_proof_types_other_than_jwt_are_refused(city, proofs, code):
    offer, _ = await city.create_offer("ResidentIdentityCredential", RESIDENT_CLAIMS, now=NOW, tx_code=None)
    token = (await city.token({"grant_type": "urn:ietf:params:oauth:grant-type:pre-authorized_code",
                               "pre-authorized_code": offer.pre_authorized_code}, now=NOW)).access_token
    body = {"credential_configuration_id": "ResidentIdentityCredential", "proofs": proofs}
    with pytest.raises(ProtocolError) as info:
        await city.credential(token, body, now=NOW)
    assert info.value.code == code


async def test_encrypted_credential_responses_are_refused(city):
    offer, _ = await city.create_offer("ResidentIdentityCredential", RESIDENT_CLAIMS, now=NOW, tx_code=None)
    token = (await city.token({"grant_type": "urn:ietf:params:oauth:grant-type:pre-authorized_code",
                               "pre-authorized_code": offer.pre_authorized_code}, now=NOW)).access_token
    key = Key.generate("P-256").public_jwk()
    body = {"credential_configuration_id": "ResidentIdentityCredential", "proofs": {"jwt": ["x"]},
            "credential_response_encryption": {"jwk": {**key, "alg": "ECDH-ES"}, "enc": "A128GCM"}}
    with pytest.raises(ProtocolError) as info:
        await city.credential(token, body, now=NOW)
    assert info.value.code == "invalid_encryption_parameters"


def test_metadata_offers_no_encryption_key_attestations_or_signed_metadata(city):
    meta = city.metadata()
    assert "credential_response_encryption" not in meta and "credential_request_encryption" not in meta
    assert "signed_metadata" not in meta
    for config in meta["credential_configurations_supported"].values():
        assert set(config["proof_types_supported"]) == {"jwt"}
        assert "key_attestations_required" not in config["proof_types_supported"]["jwt"]
