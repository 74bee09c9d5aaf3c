"""Protocol date claims (DPoP, key proofs, wallet attestations and their PoP, request objects) go
through the one NumericDate gate: any JSON number gives a result or a ``ProtocolError``."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from tests.credentials.test_date_claims import any_date, resign
from vcsdk.errors import ProtocolError, VcsdkError
from vcsdk.keys import Key
from vcsdk.oid4vc import (
    CredentialConfiguration,
    CredentialIssuer,
    InMemoryStateStore,
    WalletAttestationTrust,
    create_attestation_pop,
    create_dpop_proof,
    create_key_proof,
    issue_wallet_attestation,
    verify_client_attestation,
    verify_dpop_proof,
)
from vcsdk.oid4vc._wallet import _validated

from .conftest import ISSUER_URL, NOW, VCT

DEVICE = Key.generate("P-256")
PROVIDER = Key.generate("P-256")
PROVIDER_ID = "https://provider.example"
CLIENT_ID = "wallet-client"
AS_ID = "https://as.example"
URL = "https://issuer.example/credential"


def _protocol_error_or_result(call: Callable[[], object]) -> str:
    try:
        call()
    except VcsdkError as exc:
        assert isinstance(exc, ProtocolError) or exc.code in {"token_expired", "token_not_yet_valid"}, repr(exc)
        return exc.code
    return "ok"


@settings(max_examples=30, deadline=None)
@given(raw=any_date)
@example(raw="1e400")
@example(raw="-1e18")
def test_dpop_proof_iat(raw: str) -> None:
    proof = resign(create_dpop_proof(DEVICE, method="POST", url=URL, now=NOW), DEVICE, "iat", raw)
    _protocol_error_or_result(lambda: verify_dpop_proof(proof, method="POST", url=URL, now=NOW))


@settings(max_examples=30, deadline=None)
@given(target=st.sampled_from(["exp", "nbf", "pop iat"]), raw=any_date)
@example(target="exp", raw="1e400")
@example(target="pop iat", raw="1e400")
@example(target="nbf", raw="253402300800")
def test_wallet_attestation_dates(target: str, raw: str) -> None:
    instance = Key.generate("P-256")
    attestation = issue_wallet_attestation(
        PROVIDER, issuer=PROVIDER_ID, client_id=CLIENT_ID, instance_jwk=instance.public_jwk(), now=NOW
    )
    pop = create_attestation_pop(instance, client_id=CLIENT_ID, audience=AS_ID, now=NOW)
    if target == "pop iat":
        pop = resign(pop, instance, "iat", raw)
    else:
        attestation = resign(attestation, PROVIDER, target, raw)
    trust = WalletAttestationTrust(provider_keys={PROVIDER_ID: [PROVIDER.public_key()]})
    _protocol_error_or_result(
        lambda: verify_client_attestation(attestation, pop, trust=trust, audience=AS_ID, now=NOW, client_id=CLIENT_ID)
    )


ISSUER = CredentialIssuer(
    credential_issuer=ISSUER_URL,
    configurations=[CredentialConfiguration(id="Resident", vct=VCT, display_name="Resident ID", claims=())],
    issue=lambda claims, holder_key: "unused~",
    store=InMemoryStateStore(),
)


@settings(max_examples=30, deadline=None)
@given(raw=any_date)
@example(raw="1e400")
def test_key_proof_iat(raw: str) -> None:
    proof = resign(create_key_proof(DEVICE, audience=ISSUER_URL, nonce="n-1", now=NOW), DEVICE, "iat", raw)
    _protocol_error_or_result(lambda: ISSUER._check_proof(proof, NOW))


def _request_claims(**dates: Any) -> dict[str, Any]:
    return {
        "client_id": "x509_san_dns:verifier.example",
        "response_type": "vp_token",
        "response_mode": "direct_post",
        "response_uri": "https://verifier.example/response",
        "nonce": "n-0S6_WzA2Mj",
        "dcql_query": {"credentials": [{"id": "pid", "format": "dc+sd-jwt", "meta": {"vct_values": [VCT]}}]},
        **dates,
    }


@settings(max_examples=30, deadline=None)
@given(claim=st.sampled_from(["exp", "iat"]), raw=any_date)
@example(claim="exp", raw="1e400")
@example(claim="exp", raw="1e18")
def test_request_object_dates(claim: str, raw: str) -> None:
    claims = _request_claims(**{claim: json.loads(raw)})
    _protocol_error_or_result(
        lambda: _validated(
            claims, claims["client_id"], now=NOW, leeway=ISSUER.leeway, wallet_nonce=None, signed=True
        )
    )
