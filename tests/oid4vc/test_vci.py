"""OpenID4VCI 1.0: offers, metadata, the pre-authorized code grant with tx_code, nonces, key proofs,
batch issuance and notifications. Every refusal carries the spec's error code."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from vcsdk.errors import InvalidInputError, ProtocolError
from vcsdk.keys import Key, sign_jws
from vcsdk.oid4vc import (
    CredentialConfiguration,
    CredentialIssuer,
    InMemoryStateStore,
    TxCode,
    build_credential_request,
    build_token_request,
    create_key_proof,
    parse_credential_offer,
    parse_credential_offer_uri,
)
from vcsdk.oid4vc._vci_messages import PRE_AUTHORIZED_GRANT, offer_qr

from .conftest import ISSUER_URL, NOW, RESIDENT_CLAIMS, VCT, CountingRandomness, EnclaveSigner

CONFIG = CredentialConfiguration(
    id="ResidentIdentityCredential", vct=VCT, display_name="Resident ID", claims=(("given_name",), ("birthdate",))
)


class Issued:
    """A stand-in issue function recording what it was asked to bind."""

    def __init__(self) -> None:
        self.calls: list[tuple[dict[str, Any], Key]] = []

    def __call__(self, claims, holder_key):
        self.calls.append((dict(claims), holder_key))
        return f"credential-{len(self.calls)}~"


@pytest.fixture
def issued() -> Issued:
    return Issued()


@pytest.fixture
def issuer(issued) -> CredentialIssuer:
    return CredentialIssuer(
        credential_issuer=ISSUER_URL,
        configurations=[CONFIG],
        issue=issued,
        store=InMemoryStateStore(),
        randomness=CountingRandomness(),
        display_name="City of Tsukuba",
        batch_size=3,
    )


DEFAULT_TX = TxCode()


async def _token(issuer: CredentialIssuer, *, tx: TxCode | None = DEFAULT_TX) -> str:
    offer, pin = await issuer.create_offer(CONFIG.id, RESIDENT_CLAIMS, now=NOW, tx_code=tx)
    response = await issuer.token(build_token_request(offer, tx_code=pin), now=NOW)
    return response.access_token


def _proof(key: Key, nonce: str, *, audience: str = ISSUER_URL, now=NOW, **kw) -> str:
    return create_key_proof(key, audience=audience, nonce=nonce, now=now, **kw)


async def _code(coro, code: str) -> None:
    with pytest.raises(ProtocolError) as info:
        await coro
    assert info.value.code == code, info.value.message


# -- metadata and offers ------------------------------------------------------------------------------


def test_credential_issuer_metadata(issuer):
    meta = issuer.metadata()
    assert meta["credential_issuer"] == ISSUER_URL
    assert meta["credential_endpoint"] == f"{ISSUER_URL}/credential"
    assert meta["nonce_endpoint"] == f"{ISSUER_URL}/nonce"
    assert meta["notification_endpoint"] == f"{ISSUER_URL}/notification"
    assert meta["batch_credential_issuance"] == {"batch_size": 3}
    config = meta["credential_configurations_supported"][CONFIG.id]
    assert config["format"] == "dc+sd-jwt" and config["vct"] == VCT
    assert config["cryptographic_binding_methods_supported"] == ["jwk"]
    assert config["proof_types_supported"] == {"jwt": {"proof_signing_alg_values_supported": ["ES256"]}}
    assert config["credential_metadata"]["claims"] == [{"path": ["given_name"]}, {"path": ["birthdate"]}]


def test_authorization_server_metadata(issuer):
    meta = issuer.authorization_server_metadata()
    assert meta["issuer"] == ISSUER_URL and meta["token_endpoint"] == f"{ISSUER_URL}/token"
    assert meta["pre-authorized_grant_anonymous_access_supported"] is True
    assert set(meta["grant_types_supported"]) == {PRE_AUTHORIZED_GRANT, "authorization_code", "refresh_token"}
    # RFC 8414 §2: response_types_supported is REQUIRED; HAIP: PAR, PKCE S256, DPoP, iss in the response.
    assert meta["response_types_supported"] == ["code"]
    assert meta["code_challenge_methods_supported"] == ["S256"]
    assert meta["require_pushed_authorization_requests"] is True
    assert meta["pushed_authorization_request_endpoint"] == f"{ISSUER_URL}/par"
    assert meta["dpop_signing_alg_values_supported"] == ["ES256"]
    assert meta["authorization_response_iss_parameter_supported"] is True


async def test_offer_by_value_round_trips(issuer):
    offer, pin = await issuer.create_offer(
        CONFIG.id, RESIDENT_CLAIMS, now=NOW, tx_code=TxCode(length=6, description="Sent by SMS")
    )
    assert pin is not None and len(pin) == 6 and pin.isdigit()
    uri = offer.uri()
    assert uri.startswith("openid-credential-offer://?credential_offer=")
    body = json.loads(unquote(parse_qs(urlsplit(uri).query)["credential_offer"][0]))
    assert body["grants"][PRE_AUTHORIZED_GRANT]["tx_code"] == {
        "input_mode": "numeric",
        "length": 6,
        "description": "Sent by SMS",
    }
    assert parse_credential_offer_uri(uri) == offer
    assert offer_qr(uri).startswith(b"<?xml")


async def test_offer_by_reference(issuer):
    offer, _ = await issuer.create_offer(CONFIG.id, RESIDENT_CLAIMS, now=NOW)
    uri = await issuer.publish_offer(offer, now=NOW)
    ref = parse_credential_offer_uri(uri)
    assert isinstance(ref, str) and ref.startswith(f"{ISSUER_URL}/credential-offer/")
    served = await issuer.offer_by_reference(ref.rsplit("/", 1)[1], now=NOW)
    assert parse_credential_offer(served) == offer
    await _code(issuer.offer_by_reference("unknown", now=NOW), "invalid_request")


async def test_text_tx_code(issuer):
    _, pin = await issuer.create_offer(CONFIG.id, RESIDENT_CLAIMS, now=NOW, tx_code=TxCode(input_mode="text", length=8))
    assert pin is not None and len(pin) == 8 and pin.isalnum()


@pytest.mark.parametrize(
    "uri",
    [
        "openid-credential-offer://?",
        "openid-credential-offer://?credential_offer=%7B%7D&credential_offer_uri=https%3A%2F%2Fx",
        "openid-credential-offer://?credential_offer_uri=ftp%3A%2F%2Fx",
        "openid-credential-offer://?credential_offer=not-json",
        "openid-credential-offer://?credential_offer=%7B%22credential_issuer%22%3A%22https%3A%2F%2Fx%22%7D",
    ],
)
def test_bad_offer_uris(uri):
    with pytest.raises(ProtocolError) as info:
        parse_credential_offer_uri(uri)
    assert info.value.code == "invalid_request"


@pytest.mark.parametrize(
    "offer",
    [
        [],
        {"credential_issuer": "x", "credential_configuration_ids": ["a"]},
        {"credential_issuer": ISSUER_URL, "credential_configuration_ids": []},
        {"credential_issuer": ISSUER_URL, "credential_configuration_ids": ["a", "a"]},
        {"credential_issuer": ISSUER_URL, "credential_configuration_ids": ["a"], "grants": {}},
        {
            "credential_issuer": ISSUER_URL,
            "credential_configuration_ids": ["a"],
            "grants": {PRE_AUTHORIZED_GRANT: {"pre-authorized_code": "c", "tx_code": {"input_mode": "emoji"}}},
        },
        {
            "credential_issuer": ISSUER_URL,
            "credential_configuration_ids": ["a"],
            "grants": {PRE_AUTHORIZED_GRANT: {"pre-authorized_code": "c", "tx_code": {"description": "x" * 301}}},
        },
    ],
)
def test_bad_offers(offer):
    with pytest.raises(ProtocolError) as info:
        parse_credential_offer(offer)
    assert info.value.code == "invalid_request"


async def test_create_offer_checks_configuration(issuer):
    with pytest.raises(InvalidInputError):
        await issuer.create_offer("Unknown", RESIDENT_CLAIMS, now=NOW)


# -- token endpoint -----------------------------------------------------------------------------------


async def test_token_with_tx_code(issuer):
    offer, pin = await issuer.create_offer(CONFIG.id, RESIDENT_CLAIMS, now=NOW)
    token = await issuer.token(build_token_request(offer, tx_code=pin), now=NOW)
    assert token.token_type == "Bearer" and token.expires_in == 300
    assert token.to_dict() == {"access_token": token.access_token, "token_type": "Bearer", "expires_in": 300}


async def test_wrong_tx_code_is_invalid_grant(issuer):
    offer, pin = await issuer.create_offer(CONFIG.id, RESIDENT_CLAIMS, now=NOW)
    wrong = "000000" if pin != "000000" else "111111"
    await _code(issuer.token(build_token_request(offer, tx_code=wrong), now=NOW), "invalid_grant")
    # a later right guess still works while attempts remain
    await issuer.token(build_token_request(offer, tx_code=pin), now=NOW)


async def test_tx_code_attempts_are_limited(issuer):
    offer, pin = await issuer.create_offer(CONFIG.id, RESIDENT_CLAIMS, now=NOW)
    wrong = "000000" if pin != "000000" else "111111"
    for _ in range(issuer.max_tx_code_attempts):
        await _code(issuer.token(build_token_request(offer, tx_code=wrong), now=NOW), "invalid_grant")
    # the code is burnt: even the right PIN no longer works
    await _code(issuer.token(build_token_request(offer, tx_code=pin), now=NOW), "invalid_grant")


async def test_replayed_pre_authorized_code_is_invalid_grant(issuer):
    offer, pin = await issuer.create_offer(CONFIG.id, RESIDENT_CLAIMS, now=NOW)
    form = build_token_request(offer, tx_code=pin)
    await issuer.token(form, now=NOW)
    await _code(issuer.token(form, now=NOW), "invalid_grant")


async def test_expired_pre_authorized_code_is_invalid_grant(issuer):
    offer, pin = await issuer.create_offer(CONFIG.id, RESIDENT_CLAIMS, now=NOW)
    await _code(issuer.token(build_token_request(offer, tx_code=pin), now=NOW + timedelta(minutes=11)), "invalid_grant")


@pytest.mark.parametrize(
    ("form", "code"),
    [
        ({"grant_type": "client_credentials"}, "unsupported_grant_type"),
        ({"grant_type": "password", "username": "x", "password": "y"}, "unsupported_grant_type"),
        ({"grant_type": "authorization_code", "code": "x"}, "invalid_request"),  # no PKCE code_verifier
        ({"grant_type": PRE_AUTHORIZED_GRANT}, "invalid_request"),
        ({"grant_type": PRE_AUTHORIZED_GRANT, "pre-authorized_code": "unknown", "tx_code": "1"}, "invalid_grant"),
        ({"grant_type": "refresh_token"}, "invalid_request"),
        ({"grant_type": "refresh_token", "refresh_token": ""}, "invalid_request"),
        ({"grant_type": "refresh_token", "refresh_token": "unknown"}, "invalid_grant"),
    ],
)
async def test_token_request_errors(issuer, form, code):
    await _code(issuer.token(form, now=NOW), code)


async def test_missing_or_unexpected_tx_code_is_invalid_request(issuer):
    offer, _ = await issuer.create_offer(CONFIG.id, RESIDENT_CLAIMS, now=NOW)
    form = {"grant_type": PRE_AUTHORIZED_GRANT, "pre-authorized_code": offer.pre_authorized_code}
    await _code(issuer.token(form, now=NOW), "invalid_request")
    plain, _ = await issuer.create_offer(CONFIG.id, RESIDENT_CLAIMS, now=NOW, tx_code=None)
    form = {"grant_type": PRE_AUTHORIZED_GRANT, "pre-authorized_code": plain.pre_authorized_code, "tx_code": "1"}
    await _code(issuer.token(form, now=NOW), "invalid_request")


def test_wallet_token_request_checks_tx_code():
    from vcsdk.oid4vc import CredentialOffer

    offer = CredentialOffer(ISSUER_URL, (CONFIG.id,), "code", TxCode())
    with pytest.raises(InvalidInputError):
        build_token_request(offer, tx_code=None)
    with pytest.raises(InvalidInputError):
        build_token_request(offer, tx_code="12ab56")
    with pytest.raises(InvalidInputError):
        build_token_request(CredentialOffer(ISSUER_URL, (CONFIG.id,), "code"), tx_code="123456")


# -- credential endpoint ------------------------------------------------------------------------------


async def test_credential_bound_to_the_proven_key(issuer, issued, device_key):
    token = await _token(issuer)
    nonce = (await issuer.nonce(now=NOW))["c_nonce"]
    body = build_credential_request(CONFIG.id, [_proof(device_key, nonce)])
    result = await issuer.credential(token, body, now=NOW)
    assert result.credentials == ("credential-1~",)
    assert result.to_dict()["credentials"] == [{"credential": "credential-1~"}]
    claims, holder = issued.calls[0]
    assert claims == RESIDENT_CLAIMS
    assert holder == device_key.public_key() and not holder.is_private


async def test_credential_request_as_json_bytes(issuer, device_key):
    token = await _token(issuer)
    nonce = (await issuer.nonce(now=NOW))["c_nonce"]
    body = json.dumps(build_credential_request(CONFIG.id, [_proof(device_key, nonce)])).encode()
    assert len((await issuer.credential(token, body, now=NOW)).credentials) == 1


async def test_batch_issuance_one_credential_per_key(issuer, issued):
    token = await _token(issuer)
    nonce = (await issuer.nonce(now=NOW))["c_nonce"]
    keys = [Key.generate("P-256") for _ in range(3)]
    result = await issuer.credential(
        token, build_credential_request(CONFIG.id, [_proof(k, nonce) for k in keys]), now=NOW
    )
    assert len(result.credentials) == 3
    assert [h for _, h in issued.calls] == [k.public_key() for k in keys]
    assert issuer.metadata()["batch_credential_issuance"] == {"batch_size": issuer.batch_size}
    nonce = (await issuer.nonce(now=NOW))["c_nonce"]
    too_many = [_proof(Key.generate("P-256"), nonce) for _ in range(issuer.batch_size + 1)]
    await _code(issuer.credential(token, build_credential_request(CONFIG.id, too_many), now=NOW),
                "invalid_credential_request")


async def test_a_bearer_pre_authorized_grant_gets_no_refresh_token_even_when_allowed(issuer):
    # A refresh token for refills is given only for DPoP-bound grants
    # (tests/oid4vc/test_haip_issuance.py has the DPoP-bound case).
    issuer.authorization_server.refresh_pre_authorized = True
    offer, pin = await issuer.create_offer(CONFIG.id, RESIDENT_CLAIMS, now=NOW, tx_code=DEFAULT_TX)
    response = await issuer.token(build_token_request(offer, tx_code=pin), now=NOW)
    assert response.token_type == "Bearer" and response.refresh_token is None


async def test_proof_signed_by_a_secure_enclave_signer(issuer, issued):
    token = await _token(issuer)
    nonce = (await issuer.nonce(now=NOW))["c_nonce"]
    key = Key.generate("P-256")
    proof = create_key_proof(EnclaveSigner(key), audience=ISSUER_URL, nonce=nonce, now=NOW, jwk=key.public_jwk())
    await issuer.credential(token, build_credential_request(CONFIG.id, [proof]), now=NOW)
    assert issued.calls[0][1] == key.public_key()
    with pytest.raises(InvalidInputError):
        create_key_proof(EnclaveSigner(key), audience=ISSUER_URL, nonce=nonce, now=NOW)


async def test_proof_with_wrong_nonce_is_invalid_nonce(issuer, device_key):
    token = await _token(issuer)
    await issuer.nonce(now=NOW)
    body = build_credential_request(CONFIG.id, [_proof(device_key, "not-a-nonce-we-issued")])
    await _code(issuer.credential(token, body, now=NOW), "invalid_nonce")


async def test_reused_c_nonce_is_invalid_nonce(issuer, device_key):
    token = await _token(issuer)
    nonce = (await issuer.nonce(now=NOW))["c_nonce"]
    await issuer.credential(token, build_credential_request(CONFIG.id, [_proof(device_key, nonce)]), now=NOW)
    again = build_credential_request(CONFIG.id, [_proof(Key.generate("P-256"), nonce)])
    await _code(issuer.credential(token, again, now=NOW), "invalid_nonce")


async def test_expired_c_nonce_is_invalid_nonce(issued, device_key):
    issuer = CredentialIssuer(
        credential_issuer=ISSUER_URL,
        configurations=[CONFIG],
        issue=issued,
        store=InMemoryStateStore(),
        randomness=CountingRandomness(),
        access_token_ttl=timedelta(hours=1),
    )
    token = await _token(issuer)
    nonce = (await issuer.nonce(now=NOW))["c_nonce"]
    later = NOW + timedelta(minutes=6)
    body = build_credential_request(CONFIG.id, [_proof(device_key, nonce, now=later)])
    await _code(issuer.credential(token, body, now=later), "invalid_nonce")


async def test_batch_with_different_nonces_is_invalid_nonce(issuer):
    token = await _token(issuer)
    n1 = (await issuer.nonce(now=NOW))["c_nonce"]
    n2 = (await issuer.nonce(now=NOW))["c_nonce"]
    body = build_credential_request(CONFIG.id, [_proof(Key.generate("P-256"), n1), _proof(Key.generate("P-256"), n2)])
    await _code(issuer.credential(token, body, now=NOW), "invalid_nonce")


def _raw_proof(
    key: Key,
    *,
    header: dict[str, Any] | None = None,
    typ: str = "openid4vci-proof+jwt",
    claims: dict[str, Any] | None = None,
    jwk: bool = True,
    nonce: str = "n",
) -> str:
    h: dict[str, Any] = {"jwk": key.public_jwk()} if jwk else {}
    h.update(header or {})
    body = {"aud": ISSUER_URL, "iat": int(NOW.timestamp()), "nonce": nonce}
    body.update(claims or {})
    body = {k: v for k, v in body.items() if v is not None}
    return sign_jws(body, key, typ=typ, header=h, include_kid=False)


@pytest.mark.parametrize(
    ("make", "why"),
    [
        (lambda k, n: _raw_proof(k, typ="JWT", nonce=n), "wrong typ"),
        (lambda k, n: _raw_proof(k, jwk=False, nonce=n), "no jwk header"),
        (lambda k, n: _raw_proof(k, header={"kid": "did:example:1#k"}, nonce=n), "kid instead of jwk"),
        (lambda k, n: _raw_proof(k, header={"jwk": {**k.public_jwk(), "d": "AAAA"}}, nonce=n), "private jwk"),
        (lambda k, n: _raw_proof(k, header={"jwk": Key.generate("P-256").public_jwk()}, nonce=n), "jwk of another key"),
        (lambda k, n: _raw_proof(k, claims={"aud": "https://evil.example"}, nonce=n), "wrong aud"),
        (lambda k, n: _raw_proof(k, claims={"iat": None}, nonce=n), "no iat"),
        (lambda k, n: _raw_proof(k, claims={"iat": int(NOW.timestamp()) - 3600}, nonce=n), "stale iat"),
        (lambda k, n: _raw_proof(k, claims={"iat": int(NOW.timestamp()) + 3600}, nonce=n), "future iat"),
        (lambda k, n: _raw_proof(k, claims={"nonce": None}), "no nonce"),
        (lambda k, n: "not.a.jwt", "not a JWS"),
        (lambda k, n: _raw_proof(k, header={"jwk": {"kty": "oct", "k": "AAAA"}}, nonce=n), "symmetric jwk"),
    ],
)
async def test_bad_proofs_are_invalid_proof(issuer, device_key, make, why):
    token = await _token(issuer)
    nonce = (await issuer.nonce(now=NOW))["c_nonce"]
    body = build_credential_request(CONFIG.id, [make(device_key, nonce)])
    await _code(issuer.credential(token, body, now=NOW), "invalid_proof")


async def test_secp256k1_device_key_is_invalid_proof(issuer):
    token = await _token(issuer)
    nonce = (await issuer.nonce(now=NOW))["c_nonce"]
    body = build_credential_request(CONFIG.id, [_raw_proof(Key.generate("secp256k1"), nonce=nonce)])
    await _code(issuer.credential(token, body, now=NOW), "invalid_proof")


async def test_same_key_twice_in_a_batch_is_invalid_proof(issuer, device_key):
    token = await _token(issuer)
    nonce = (await issuer.nonce(now=NOW))["c_nonce"]
    body = build_credential_request(CONFIG.id, [_proof(device_key, nonce), _proof(device_key, nonce)])
    await _code(issuer.credential(token, body, now=NOW), "invalid_proof")


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"not json", "invalid_credential_request"),
        ([], "invalid_credential_request"),
        ({"proofs": {"jwt": ["x"]}}, "invalid_credential_request"),
        ({"credential_identifier": "x", "proofs": {"jwt": ["x"]}}, "invalid_credential_request"),
        ({"credential_configuration_id": "Unknown", "proofs": {"jwt": ["x"]}}, "unknown_credential_configuration"),
        ({"credential_configuration_id": CONFIG.id}, "invalid_proof"),
        ({"credential_configuration_id": CONFIG.id, "proofs": {}}, "invalid_proof"),
        ({"credential_configuration_id": CONFIG.id, "proofs": {"di_vp": [{}]}}, "invalid_proof"),
        ({"credential_configuration_id": CONFIG.id, "proofs": {"jwt": []}}, "invalid_proof"),
        (
            {"credential_configuration_id": CONFIG.id, "proofs": {"jwt": ["a", "b", "c", "d"]}},
            "invalid_credential_request",
        ),
        (
            {
                "credential_configuration_id": CONFIG.id,
                "proofs": {"jwt": ["x"]},
                "credential_response_encryption": {"jwk": {}, "enc": "A128GCM"},
            },
            "invalid_encryption_parameters",
        ),
    ],
)
async def test_credential_request_errors(issuer, body, code):
    token = await _token(issuer)
    await _code(issuer.credential(token, body, now=NOW), code)


async def test_credential_endpoint_needs_a_valid_access_token(issuer, device_key):
    nonce = (await issuer.nonce(now=NOW))["c_nonce"]
    body = build_credential_request(CONFIG.id, [_proof(device_key, nonce)])
    await _code(issuer.credential(None, body, now=NOW), "invalid_token")
    await _code(issuer.credential("forged", body, now=NOW), "invalid_token")
    token = await _token(issuer)
    await _code(issuer.credential(token, body, now=NOW + timedelta(minutes=6)), "invalid_token")


async def test_access_token_is_bound_to_the_offered_configuration(issued):
    other = CredentialConfiguration(id="Library", vct="https://city.example/Library")
    issuer = CredentialIssuer(
        credential_issuer=ISSUER_URL,
        configurations=[CONFIG, other],
        issue=issued,
        store=InMemoryStateStore(),
        randomness=CountingRandomness(),
    )
    token = await _token(issuer)
    nonce = (await issuer.nonce(now=NOW))["c_nonce"]
    body = build_credential_request("Library", [_proof(Key.generate("P-256"), nonce)])
    await _code(issuer.credential(token, body, now=NOW), "invalid_credential_request")


async def test_async_issue_function(device_key):
    async def issue(claims, holder_key):
        return "async-credential~"

    issuer = CredentialIssuer(
        credential_issuer=ISSUER_URL,
        configurations=[CONFIG],
        issue=issue,
        store=InMemoryStateStore(),
        randomness=CountingRandomness(),
    )
    token = await _token(issuer)
    nonce = (await issuer.nonce(now=NOW))["c_nonce"]
    result = await issuer.credential(token, build_credential_request(CONFIG.id, [_proof(device_key, nonce)]), now=NOW)
    assert result.credentials == ("async-credential~",)


def test_issuer_configuration_is_checked(issued):
    with pytest.raises(InvalidInputError):
        CredentialIssuer(credential_issuer="ftp://x", configurations=[CONFIG], issue=issued, store=InMemoryStateStore())
    with pytest.raises(InvalidInputError):
        CredentialIssuer(credential_issuer=ISSUER_URL, configurations=[], issue=issued, store=InMemoryStateStore())
    with pytest.raises(InvalidInputError):
        TxCode(length=2)


# -- notification endpoint ----------------------------------------------------------------------------


async def test_notification(issuer, device_key):
    token = await _token(issuer)
    nonce = (await issuer.nonce(now=NOW))["c_nonce"]
    result = await issuer.credential(token, build_credential_request(CONFIG.id, [_proof(device_key, nonce)]), now=NOW)
    assert result.notification_id
    body = {"notification_id": result.notification_id, "event": "credential_accepted"}
    event = await issuer.notification(token, body, now=NOW)
    assert event.event == "credential_accepted" and event.configuration_id == CONFIG.id
    assert await issuer.notification(token, json.dumps(body).encode(), now=NOW) == event  # idempotent

    await _code(
        issuer.notification(token, {"notification_id": "nope", "event": "credential_accepted"}, now=NOW),
        "invalid_notification_id",
    )
    await _code(
        issuer.notification(token, {"notification_id": result.notification_id, "event": "lost"}, now=NOW),
        "invalid_notification_request",
    )
    await _code(
        issuer.notification(token, {**body, "event_description": "caf\u00e9"}, now=NOW), "invalid_notification_request"
    )
    await _code(issuer.notification(token, b"{", now=NOW), "invalid_notification_request")
    await _code(issuer.notification(None, body, now=NOW), "invalid_token")
    other = await _token(issuer)
    await _code(issuer.notification(other, body, now=NOW), "invalid_notification_id")


def test_offer_from_plain_http_issuer_is_refused():
    offer = {
        "credential_issuer": "http://city.example",
        "credential_configuration_ids": ["a"],
        "grants": {PRE_AUTHORIZED_GRANT: {"pre-authorized_code": "c"}},
    }
    with pytest.raises(ProtocolError):
        parse_credential_offer(offer)
    with pytest.raises(ProtocolError):
        parse_credential_offer_uri("openid-credential-offer://?credential_offer_uri=http%3A%2F%2Fcity.example%2Fo")
