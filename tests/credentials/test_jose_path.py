"""One JOSE path: every token kind goes through the same decoder, header check and JSON parser.

- ``crit`` is refused by all three credential verifiers (it once slipped through ``vc+sd-jwt``);
- the algorithm must be the key's, whatever the header says;
- a lone UTF-16 surrogate (``"\\ud800"``) in any claim is refused by every verifier;
- each token is parsed once per verification: the one JSON parser is counted, through the
  credentials recipes, the OpenID4VP verifier (its protocol view and the service's ``verify``
  callback share one parse), the holder's check of a received credential, and the receipt outbox's
  intake (a receipt previewed to find its consent, then verified).
"""

from __future__ import annotations

import contextlib
import json
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.credentials.sd_jwt.conftest import AUD, ISSUER, KID, NONCE, NOW, VCT
from tests.receipts._factories import T0, make_consent, make_receipt, service_key
from vcsdk import _json
from vcsdk._b64 import b64url_decode, b64url_encode
from vcsdk.credentials import (
    StaticKeyResolver,
    VerificationPolicy,
    issue_sd_jwt_vc,
    present,
    verify_credential,
    verify_presentation,
    verify_presentation_with_key,
    verify_sd_jwt,
)
from vcsdk.credentials._w3c import (
    build_credential,
    issue_vc_jwt,
    issue_vc_sd_jwt,
    verify_vc,
    verify_vc_jwt,
    verify_vc_sd_jwt,
)
from vcsdk.credentials.sd_jwt import SdJwtText
from vcsdk.credentials.sd_jwt import parse as sd_jwt_parse
from vcsdk.errors import (
    ConsentMismatchError,
    CriticalHeaderError,
    DisallowedAlgorithmError,
    InvalidTokenError,
    MalformedTokenError,
    NonceMismatchError,
    SdHashMismatchError,
    SignatureInvalidError,
    TokenTypeError,
    VerificationError,
)
from vcsdk.keys import Key, decode_jws, verify_jws
from vcsdk.oid4vc import InMemoryStateStore, Verifier, verify_received_credential
from vcsdk.outbox import AccessReceiptRegistry, ReceiptOutbox, SqliteReceiptStore
from vcsdk.outbox._store import _consent as consent_bodies
from vcsdk.receipts import ReceiptText, peek_access_receipt, verify_access_receipt, verify_withdrawal_receipt
from vcsdk.registry import EmbeddedChain

ISSUER_KEY = Key.generate("P-256").with_kid(KID)
HOLDER_KEY = Key.generate("P-256")
W3C_ISSUER = "did:ethr:0x7a69:0x1111111111111111111111111111111111111111"
W3C_KEY = Key.generate("P-256").with_kid(W3C_ISSUER + "#controller")
NOW_RECEIPT = T0 + timedelta(hours=1)


def _vc() -> dict[str, Any]:
    return build_credential(
        issuer=W3C_ISSUER,
        types=["ResidentIdentityCredential"],
        subject={"id": "did:key:z6Mk-holder", "locality": "Kaga"},
        valid_from=NOW - timedelta(days=1),
    )


def _rebuild(jwt: str, key: Key, *, header: dict[str, Any] | None = None, payload_text: str | None = None) -> str:
    """``jwt`` with header members added and/or the payload replaced by raw JSON text, signed again."""
    h_b64, p_b64, _ = jwt.split(".")
    h = json.loads(b64url_decode(h_b64))
    h.update(header or {})
    body = payload_text.encode() if payload_text is not None else b64url_decode(p_b64)
    signing_input = f"{b64url_encode(json.dumps(h).encode())}.{b64url_encode(body)}"
    return f"{signing_input}.{b64url_encode(key.sign(signing_input.encode()))}"


def _sd_jwt(**kw: Any) -> str:
    return issue_sd_jwt_vc(
        {"given_name": "Hanako", "family_name": "Kaga"}, issuer=ISSUER, signer=ISSUER_KEY, vct=VCT,
        disclosable=[["given_name"], ["family_name"]], holder_key=HOLDER_KEY, now=NOW, **kw,
    )


def _with_first_jwt(token: str, change: Callable[[str], str]) -> str:
    jwt, rest = token.split("~", 1)
    return change(jwt) + "~" + rest


# -- crit: one header check for every verifier -------------------------------------------------------

CRIT = {"crit": ["exp-ext"], "exp-ext": 1}

VERIFIERS: dict[str, Callable[[dict[str, Any]], object]] = {
    "sd-jwt": lambda h: verify_sd_jwt(
        _with_first_jwt(_sd_jwt(), lambda j: _rebuild(j, ISSUER_KEY, header=h)),
        issuer_key=ISSUER_KEY.public_key(), now=NOW,
    ),
    "vc+jwt": lambda h: verify_vc_jwt(_rebuild(issue_vc_jwt(_vc(), W3C_KEY), W3C_KEY, header=h), W3C_KEY, now=NOW),
    "vc+sd-jwt": lambda h: verify_vc_sd_jwt(
        _with_first_jwt(issue_vc_sd_jwt(_vc(), W3C_KEY, disclosable=["locality"]),
                        lambda j: _rebuild(j, W3C_KEY, header=h)),
        W3C_KEY, now=NOW,
    ),
    "jws": lambda h: verify_jws(_rebuild(issue_vc_jwt(_vc(), W3C_KEY), W3C_KEY, header=h), W3C_KEY),
}


@pytest.mark.parametrize("kind", sorted(VERIFIERS))
@pytest.mark.parametrize(
    "header", [CRIT, {"crit": []}, {"crit": "exp-ext"}, {"crit": ["alg"]}, {"crit": ["missing"]}], ids=str
)
def test_crit_is_refused_by_every_verifier(kind: str, header: dict[str, Any]) -> None:
    VERIFIERS[kind]({})  # the untouched token verifies
    with pytest.raises(CriticalHeaderError) as info:
        VERIFIERS[kind](header)
    assert info.value.code == "crit_not_understood"
    assert isinstance(info.value, VerificationError) and isinstance(info.value, InvalidTokenError)


@pytest.mark.parametrize("kind", sorted(VERIFIERS))
def test_the_algorithm_is_the_keys_not_the_headers(kind: str) -> None:
    # ES256K is on the allow-list, but the key is P-256: the header cannot choose.
    with pytest.raises(DisallowedAlgorithmError) as info:
        VERIFIERS[kind]({"alg": "ES256K"})
    assert info.value.code == "alg_key_mismatch"
    with pytest.raises(DisallowedAlgorithmError):
        VERIFIERS[kind]({"alg": "none"})


# -- lone surrogates (not valid UTF-8 JSON) ---------------------------------------------------------

LONE = ['"\\ud800"', '"a\\udfffb"', '"\\udc00\\ud800"', '{"\\ud83d": 1}']


@pytest.mark.parametrize("raw", LONE)
def test_a_lone_surrogate_in_a_claim_is_refused_by_both_verifiers(raw: str) -> None:
    sd = _sd_jwt()
    jwt = sd.split("~", 1)[0]
    payload = json.loads(b64url_decode(jwt.split(".")[1]))
    text = json.dumps({**payload, "nickname": "@@"}).replace('"@@"', raw)
    token = _with_first_jwt(sd, lambda j: _rebuild(j, ISSUER_KEY, payload_text=text))
    with pytest.raises(MalformedTokenError):
        verify_sd_jwt(token, issuer_key=ISSUER_KEY.public_key(), now=NOW)
    vc_text = json.dumps({**_vc(), "nickname": "@@"}).replace('"@@"', raw)
    vc_token = _rebuild(issue_vc_jwt(_vc(), W3C_KEY), W3C_KEY, payload_text=vc_text)
    with pytest.raises(MalformedTokenError):
        verify_vc_jwt(vc_token, W3C_KEY, now=NOW)


def test_a_paired_surrogate_escape_is_fine() -> None:
    vc_text = json.dumps({**_vc(), "nickname": "@@"}).replace('"@@"', '"\\ud83d\\ude00"')
    token = _rebuild(issue_vc_jwt(_vc(), W3C_KEY), W3C_KEY, payload_text=vc_text)
    assert verify_vc_jwt(token, W3C_KEY, now=NOW).credential["nickname"] == "\U0001f600"


def test_a_lone_surrogate_in_a_disclosure_or_the_kb_jwt_is_refused() -> None:
    disclosure = b64url_encode(b'["salt-salt-salt-salt-1", "given_name", "\\ud800"]')
    token = _sd_jwt().rsplit("~", 2)[0] + "~" + disclosure + "~"
    with pytest.raises(MalformedTokenError):
        verify_sd_jwt(token, issuer_key=ISSUER_KEY.public_key(), now=NOW)
    presentation = present(
        _sd_jwt(), disclose=[["given_name"]], holder_signer=HOLDER_KEY, audience=AUD, nonce=NONCE, now=NOW
    )
    head, kb = presentation.rsplit("~", 1)
    kb_payload = json.loads(b64url_decode(kb.split(".")[1]))
    text = json.dumps({**kb_payload, "note": "@@"}).replace('"@@"', '"\\udbff"')
    bad = head + "~" + _rebuild(kb, HOLDER_KEY, payload_text=text)
    with pytest.raises(MalformedTokenError):
        verify_presentation_with_key(bad, issuer_key=ISSUER_KEY.public_key(), audience=AUD, nonce=NONCE, now=NOW)
    with pytest.raises(MalformedTokenError):
        decode_jws(bad.rsplit("~", 1)[1]).unverified_claims()


# -- each token parsed once ---------------------------------------------------------------------------


@pytest.fixture
def json_decodes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every text the one JSON parser decodes, in order."""
    seen: list[str] = []
    real = _json._decode

    def counting(text: str) -> Any:
        seen.append(text)
        return real(text)

    monkeypatch.setattr(_json, "_decode", counting)
    return seen


def _no_repeats(seen: list[str]) -> None:
    assert len(seen) == len(set(seen)), "a JSON text was parsed twice"


def test_verify_sd_jwt_parses_each_part_once(json_decodes: list[str]) -> None:
    token = _sd_jwt(decoys=2)
    json_decodes.clear()
    verify_sd_jwt(token, issuer_key=ISSUER_KEY.public_key(), now=NOW)
    # header, payload, two Disclosures
    assert len(json_decodes) == 4
    _no_repeats(json_decodes)


async def test_verify_presentation_parses_each_part_once(json_decodes: list[str]) -> None:
    presentation = present(
        _sd_jwt(), disclose=[["given_name"]], holder_signer=HOLDER_KEY, audience=AUD, nonce=NONCE, now=NOW
    )
    resolver = StaticKeyResolver({ISSUER: ISSUER_KEY.public_key()})
    json_decodes.clear()
    await verify_presentation(presentation, audience=AUD, nonce=NONCE, resolver=resolver, now=NOW)
    # issuer header, issuer payload, one Disclosure, KB-JWT header, KB-JWT payload
    assert len(json_decodes) == 5
    _no_repeats(json_decodes)
    json_decodes.clear()
    verify_presentation_with_key(presentation, issuer_key=ISSUER_KEY.public_key(), audience=AUD, nonce=NONCE, now=NOW)
    assert len(json_decodes) == 5


async def test_verify_credential_and_verify_vc_parse_each_part_once(json_decodes: list[str]) -> None:
    resolver = StaticKeyResolver({ISSUER: ISSUER_KEY.public_key()})
    token = _sd_jwt()
    json_decodes.clear()
    await verify_credential(token, resolver=resolver, now=NOW)
    assert len(json_decodes) == 4
    w3c = StaticKeyResolver({W3C_ISSUER: W3C_KEY.public_key()})
    vc_jwt = issue_vc_jwt(_vc(), W3C_KEY)
    json_decodes.clear()
    await verify_vc(vc_jwt, resolver=w3c, now=NOW)
    assert len(json_decodes) == 2  # header, payload
    vc_sd = issue_vc_sd_jwt(_vc(), W3C_KEY, disclosable=["locality"])
    json_decodes.clear()
    await verify_vc(vc_sd, resolver=w3c, now=NOW)
    assert len(json_decodes) == 3  # header, payload, one Disclosure
    _no_repeats(json_decodes)


# -- the OpenID4VP verifier and the holder parse each presentation once as well -----------------------

SERVICE_DID = "did:example:bike-share"
SERVICE_KEY = Key.generate("P-256").with_kid(SERVICE_DID + "#key-1")
GIVEN_NAME_QUERY = {"credentials": [{"id": "resident", "format": "dc+sd-jwt", "meta": {"vct_values": [VCT]},
                                     "claims": [{"path": ["given_name"]}]}]}


def _verifier(verify: Callable[..., Any]) -> Verifier:
    return Verifier(did=SERVICE_DID, signer=SERVICE_KEY, response_uri="https://bikes.example/oid4vp/response",
                    request_uri_base="https://bikes.example/oid4vp/request", store=InMemoryStateStore(),
                    verify=verify, name="Tsukuba Bike Share")


async def test_the_oid4vp_verifier_parses_each_part_once(json_decodes: list[str]) -> None:
    resolver = StaticKeyResolver({ISSUER: ISSUER_KEY.public_key()})
    seen_by_callback: list[object] = []

    async def verify(presentation: str, *, audience: str, nonce: str) -> Any:
        # What a service writes: the credentials recipe on the string it is given.
        seen_by_callback.append(presentation)
        return await verify_presentation(presentation, audience=audience, nonce=nonce, resolver=resolver, now=NOW)

    verifier = _verifier(verify)
    request = await verifier.create_request(GIVEN_NAME_QUERY, purpose="Say hello by name.", now=NOW)
    presentation = present(_sd_jwt(), disclose=[["given_name"]], holder_signer=HOLDER_KEY,
                           audience=request.client_id, nonce=request.nonce, now=NOW)
    form = {"state": request.state, "vp_token": json.dumps({"resident": [presentation]})}
    json_decodes.clear()
    result = await verifier.handle_response(form, now=NOW)
    assert result.ok and result.claims() == {"given_name": "Hanako"}
    assert seen_by_callback == [presentation]  # the callback still gets the presentation's text
    # vp_token, then issuer header, issuer payload, one Disclosure, KB-JWT header, KB-JWT payload:
    # the protocol view (disclosed paths, nonce and aud), the issuer's x5c and the callback's
    # verify_presentation all read one parse.
    assert len(json_decodes) == 6, json_decodes
    _no_repeats(json_decodes)


async def test_the_oid4vp_verifier_still_refuses_what_the_checks_refuse(json_decodes: list[str]) -> None:
    # The shared parse changes no answer: a presentation for another nonce is refused before the
    # callback runs, one with another presentation's KB-JWT by the callback's verify_presentation.
    resolver = StaticKeyResolver({ISSUER: ISSUER_KEY.public_key()})
    calls: list[str] = []

    async def verify(presentation: str, *, audience: str, nonce: str) -> Any:
        calls.append(presentation)
        return await verify_presentation(presentation, audience=audience, nonce=nonce, resolver=resolver, now=NOW)

    verifier = _verifier(verify)
    request = await verifier.create_request(GIVEN_NAME_QUERY, purpose="Say hello by name.", now=NOW)
    stale = present(_sd_jwt(), disclose=[["given_name"]], holder_signer=HOLDER_KEY, audience=request.client_id,
                    nonce="another-nonce", now=NOW)
    with pytest.raises(NonceMismatchError):
        await verifier.handle_response(
            {"state": request.state, "vp_token": json.dumps({"resident": [stale]})}, now=NOW
        )
    assert calls == []
    request = await verifier.create_request(GIVEN_NAME_QUERY, purpose="Say hello by name.", now=NOW)
    good = present(_sd_jwt(), disclose=[["given_name"]], holder_signer=HOLDER_KEY, audience=request.client_id,
                   nonce=request.nonce, now=NOW)
    kb_start = good.rindex("~") + 1
    other_kb = present(_sd_jwt(), disclose=[], holder_signer=HOLDER_KEY, audience=request.client_id,
                       nonce=request.nonce, now=NOW)
    # A KB-JWT of another presentation: its sd_hash covers other Disclosures.
    spliced = good[:kb_start] + other_kb[other_kb.rindex("~") + 1:]
    with pytest.raises(SdHashMismatchError):
        await verifier.handle_response(
            {"state": request.state, "vp_token": json.dumps({"resident": [spliced]})}, now=NOW
        )
    assert len(calls) == 1


async def test_the_holder_parses_a_received_credential_once(json_decodes: list[str]) -> None:
    token = _sd_jwt()
    resolver = StaticKeyResolver({ISSUER: ISSUER_KEY.public_key()})
    json_decodes.clear()
    verified = await verify_received_credential(token, resolver=resolver, device_jwks=[HOLDER_KEY.public_jwk()],
                                                now=NOW)
    assert verified.claims["given_name"] == "Hanako"
    assert len(json_decodes) == 4  # header, payload, two Disclosures
    _no_repeats(json_decodes)


def test_a_parsed_text_still_meets_the_callers_limits() -> None:
    token = _sd_jwt()
    text = SdJwtText.of(token)  # parsed under the default limits
    assert text == token and text.parsed.header["typ"] == "dc+sd-jwt"
    assert verify_sd_jwt(text, issuer_key=ISSUER_KEY.public_key(), now=NOW).claims["given_name"] == "Hanako"
    with pytest.raises(MalformedTokenError) as info:
        verify_sd_jwt(text, issuer_key=ISSUER_KEY.public_key(), now=NOW, policy=VerificationPolicy(max_disclosures=1))
    assert info.value.code == "too_many_disclosures"
    with pytest.raises(MalformedTokenError) as big:
        verify_sd_jwt(text, issuer_key=ISSUER_KEY.public_key(), now=NOW,
                      policy=VerificationPolicy(max_token_bytes=len(text) - 1))
    assert big.value.code == "token_too_large"


def _carry(text: str, other: object) -> None:
    """Make ``text`` carry ``other`` as its parse, by assignment or, failing that, in its instance dict."""
    name = "parsed" if isinstance(text, SdJwtText) else "jws"
    with contextlib.suppress(AttributeError):  # a read-only parse cannot be assigned
        setattr(text, name, other)
    for key, value in list(vars(text).items()):
        vars(text)[key] = (value[0], other) if isinstance(value, tuple) else other


def test_a_parsed_text_cannot_carry_another_tokens_parse() -> None:
    genuine = _sd_jwt()
    mallory = Key.generate("P-256").with_kid(KID)
    forged = issue_sd_jwt_vc(
        {"given_name": "Mallory", "family_name": "Kaga"}, issuer=ISSUER, signer=mallory, vct=VCT,
        disclosable=[["given_name"], ["family_name"]], holder_key=HOLDER_KEY, now=NOW,
    )
    text = SdJwtText.of(forged)
    _carry(text, sd_jwt_parse(genuine))
    # What is checked is the text: the forged token, which the issuer's key did not sign.
    assert sd_jwt_parse(text).issuer_jwt == forged.split("~", 1)[0]
    assert text.parsed.issuer_jwt == forged.split("~", 1)[0]
    with pytest.raises(SignatureInvalidError):
        verify_sd_jwt(text, issuer_key=ISSUER_KEY.public_key(), now=NOW)
    assert verify_sd_jwt(text, issuer_key=mallory.public_key(), now=NOW).claims["given_name"] == "Mallory"
    # A text made without SdJwtText.of is parsed when asked.
    assert SdJwtText(genuine).parsed.issuer_jwt == genuine.split("~", 1)[0]


# -- receipts: previewed to find the consent, then verified, parsed once ------------------------------


def _receipt_parts(tokens: list[str]) -> Counter[str]:
    """The JSON texts of the receipts' headers and payloads, counted (receipts by one key share a header)."""
    return Counter(b64url_decode(part).decode() for token in tokens for part in token.split(".")[:2])


async def test_the_outbox_parses_each_receipt_once_at_intake(
    json_decodes: list[str], tmp_path: Path, embedded_chain: EmbeddedChain
) -> None:
    key = service_key()
    first, second = make_consent(record_id="consent-1"), make_consent(record_id="consent-2")
    tokens = [make_receipt(key, c, receipt_id=f"r-{n}-{c.record_id}") for n in range(3) for c in (first, second)]
    store = await SqliteReceiptStore.open(str(tmp_path / "outbox.db"))
    try:
        registry = await AccessReceiptRegistry.deploy(embedded_chain, sender=(await embedded_chain.dev_accounts())[0])
        outbox = ReceiptOutbox(store, registry)
        for consent in (first, second):
            await store.put_consent(consent)
        consent_bodies.cache_clear()  # bodies read by earlier tests are kept parsed by their text
        json_decodes.clear()
        stored = await outbox.accept_many([(t, key.public_key()) for t in tokens[:-1]], now=NOW_RECEIPT)
        assert [s.receipt.token for s in stored] == tokens[:-1]
        assert all(type(s.receipt.token) is str for s in stored)  # the stored receipt keeps plain text
        # Each receipt's payload once, the header the service signs them all under once (the five
        # receipts share it), the two consents once each (read in one query).
        receipt_texts = Counter(t for t in json_decodes if t in _receipt_parts(tokens))
        assert receipt_texts == Counter(set(_receipt_parts(tokens[:-1])))
        assert len({token.split(".")[0] for token in tokens}) == 1
        assert len(json_decodes) - sum(receipt_texts.values()) == 2
        # Read again, the stored consents are not parsed again.
        json_decodes.clear()
        assert set(await store.get_consents(["consent-1", "consent-2"])) == {"consent-1", "consent-2"}
        assert json_decodes == []

        json_decodes.clear()
        one = await outbox.accept(tokens[-1], service_key=key.public_key(), now=NOW_RECEIPT)
        assert one.receipt.token == tokens[-1]
        assert Counter(t for t in json_decodes if t in _receipt_parts(tokens)) == _receipt_parts(tokens[-1:])
    finally:
        await store.close()


def test_a_receipt_text_cannot_carry_another_receipts_parse() -> None:
    key, other = service_key(), service_key()
    consent = make_consent(record_id="consent-1")
    genuine, forged = make_receipt(key, consent), make_receipt(other, consent)
    text = ReceiptText.of(forged)
    _carry(text, decode_jws(genuine))
    assert text.jws.signing_input == forged.rsplit(".", 1)[0].encode()
    # The forged text is what is verified: the service's key did not sign it.
    with pytest.raises(SignatureInvalidError):
        verify_access_receipt(text, consent=consent, service_key=key.public_key(), now=NOW_RECEIPT)
    verify_access_receipt(text, consent=consent, service_key=other.public_key(), now=NOW_RECEIPT)


async def test_a_previewed_receipt_still_meets_every_check(tmp_path: Path, embedded_chain: EmbeddedChain) -> None:
    key, other = service_key(), service_key()
    consent, elsewhere = make_consent(record_id="consent-1"), make_consent(record_id="consent-2")
    token = make_receipt(key, consent)
    peeked = peek_access_receipt(token)
    assert isinstance(peeked.token, ReceiptText) and peeked.token == token
    with pytest.raises(SignatureInvalidError):
        verify_access_receipt(peeked.token, consent=consent, service_key=other.public_key(), now=NOW_RECEIPT)
    with pytest.raises(ConsentMismatchError):
        verify_access_receipt(peeked.token, consent=elsewhere, service_key=key.public_key(), now=NOW_RECEIPT)
    with pytest.raises(TokenTypeError):  # the parse carried is checked for the withdrawal typ too
        verify_withdrawal_receipt(peeked.token, consent=consent, service_key=key.public_key(), now=NOW_RECEIPT)
    # A batch with one forged receipt stores nothing, though each was parsed only once.
    store = await SqliteReceiptStore.open(str(tmp_path / "outbox.db"))
    try:
        registry = await AccessReceiptRegistry.deploy(embedded_chain, sender=(await embedded_chain.dev_accounts())[0])
        outbox = ReceiptOutbox(store, registry)
        await store.put_consent(consent)
        forged = make_receipt(other, consent, receipt_id="receipt-2")
        with pytest.raises(SignatureInvalidError):
            await outbox.accept_many([(token, key.public_key()), (forged, key.public_key())], now=NOW_RECEIPT)
        assert await store.count_queued() == 0
    finally:
        await store.close()
