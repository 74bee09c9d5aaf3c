"""The verifier attaches its registration to every request; the wallet checks the request against it.

Real pieces: the SDK's ``Verifier`` signs the Request Object, the wallet loads it with
``load_request_object`` and runs ``check_registered_request`` with a key resolver and the real status
checker over the city's Token Status List.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from tests.registration._factories import CITY_DID, CITY_KEY, ISSUED, VCT, make_registration
from vcsdk.credentials import StaticKeyResolver, StatusListIssuer
from vcsdk.errors import (
    DidResolutionError,
    InvalidInputError,
    KeyNotFoundError,
    RequestNotRegisteredError,
    ServiceNotRegisteredError,
    StatusListUnavailableError,
)
from vcsdk.keys import Key, sign_jws
from vcsdk.oid4vc import (
    AuthorizationRequest,
    InMemoryStateStore,
    Verifier,
    load_request_object,
    parse_dcql_query,
)
from vcsdk.oid4vc._vp_messages import REGISTRATION_FORMAT, REQUEST_OBJECT_TYP
from vcsdk.registration import ClaimSet, check_registered_request, issue_registration
from vcsdk.status import StaticStatusListSource, StatusListChecker

SHOP_DID = "did:ethr:0x539:0x2000000000000000000000000000000000000002"
OTHER_DID = "did:ethr:0x539:0x3000000000000000000000000000000000000003"
SHOP_KEY = Key.generate("P-256").with_kid(SHOP_DID + "#key-1")
OTHER_KEY = Key.generate("P-256").with_kid(OTHER_DID + "#key-1")
NOW = ISSUED + timedelta(days=10)
STATUS_URI = "https://city.example/status/registrations"
RESOLVER = StaticKeyResolver({CITY_DID: CITY_KEY, SHOP_DID: SHOP_KEY, OTHER_DID: OTHER_KEY})


def query(*paths: list[Any]) -> dict[str, Any]:
    return {
        "credentials": [
            {"id": "r", "format": "dc+sd-jwt", "meta": {"vct_values": [VCT]}, "claims": [{"path": p} for p in paths]}
        ]
    }


def verifier(registration: str | None, *, did: str = SHOP_DID, key: Key = SHOP_KEY) -> Verifier:
    return Verifier(
        did=did,
        signer=key,
        response_uri="https://shop.example/response",
        request_uri_base="https://shop.example/request",
        store=InMemoryStateStore(),
        verify=lambda presentation, *, audience, nonce: {},
        name="Kaga Library",
        registration=registration,
    )


async def wallet_loads(jwt: str, client_id: str = "decentralized_identifier:" + SHOP_DID) -> AuthorizationRequest:
    return await load_request_object(jwt, resolver=RESOLVER, expected_client_id=client_id, now=NOW)


async def test_a_registered_request_passes_and_carries_the_registration() -> None:
    token = issue_registration(CITY_KEY, make_registration(SHOP_DID))
    created = await verifier(token).create_request(query(["age_over_18"]), purpose="age_check", now=NOW)
    request = await wallet_loads(created.request_object)
    assert request.registration == token
    reg = await check_registered_request(request, city_did=CITY_DID, resolver=RESOLVER, now=NOW)
    assert reg.name == "Kaga Library" and reg.retention_days == 30 and reg.purpose("age_check") is not None


async def test_the_verifier_refuses_to_sign_what_the_wallet_would_refuse() -> None:
    token = issue_registration(CITY_KEY, make_registration(SHOP_DID))
    with pytest.raises(RequestNotRegisteredError):
        await verifier(token).create_request(query(["birthdate"]), purpose="age_check", now=NOW)
    with pytest.raises(RequestNotRegisteredError):
        await verifier(token).create_request(query(["age_over_18"]), purpose="marketing", now=NOW)
    with pytest.raises(InvalidInputError, match="another DID"):
        verifier(token, did=OTHER_DID, key=OTHER_KEY)
    with pytest.raises(InvalidInputError, match="does not parse"):
        verifier("not.a.registration")


async def _signed_request(registration: str | None, dcql: dict[str, Any], *, purpose: str = "age_check") -> str:
    """A service that skips the SDK's own check and signs whatever it likes."""
    request = AuthorizationRequest(
        client_id="decentralized_identifier:" + SHOP_DID,
        response_uri="https://shop.example/response",
        nonce="n-1",
        state="s-1",
        dcql_query=parse_dcql_query(dcql),
        purpose=purpose,
        client_name="Kaga Library",
        registration=registration,
    )
    return sign_jws(request.to_claims(), SHOP_KEY, typ=REQUEST_OBJECT_TYP)


async def test_over_asking_is_refused_by_the_wallet() -> None:
    token = issue_registration(CITY_KEY, make_registration(SHOP_DID))
    request = await wallet_loads(await _signed_request(token, query(["age_over_18"], ["birthdate"])))
    with pytest.raises(RequestNotRegisteredError, match="birthdate"):
        await check_registered_request(request, city_did=CITY_DID, resolver=RESOLVER, now=NOW)


async def test_unregistered_forged_foreign_and_expired_registrations_are_refused() -> None:
    cases = {
        "none": None,
        "self-signed": issue_registration(
            SHOP_KEY.with_kid(CITY_DID + "#controller"), make_registration(SHOP_DID)
        ),  # the service signs its own registration under the city's kid
        "foreign": issue_registration(CITY_KEY, make_registration(OTHER_DID)),
        "expired": issue_registration(
            CITY_KEY, make_registration(SHOP_DID, expires_at=NOW - timedelta(days=1))
        ),
        "other-issuer": issue_registration(
            OTHER_KEY, replace(make_registration(SHOP_DID), issuer=OTHER_DID)
        ),
    }
    for name, token in cases.items():
        request = await wallet_loads(await _signed_request(token, query(["age_over_18"])))
        with pytest.raises(ServiceNotRegisteredError) as info:
            await check_registered_request(request, city_did=CITY_DID, resolver=RESOLVER, now=NOW)
        assert "your wallet did not answer" in info.value.message, name


async def test_two_registrations_in_one_request_are_a_protocol_error() -> None:
    token = issue_registration(CITY_KEY, make_registration(SHOP_DID))
    claims = AuthorizationRequest(
        client_id="decentralized_identifier:" + SHOP_DID, response_uri="https://shop.example/response", nonce="n",
        dcql_query=parse_dcql_query(query(["age_over_18"])), registration=token,
    ).to_claims()
    claims["verifier_info"].append({"format": REGISTRATION_FORMAT, "data": token})
    with pytest.raises(Exception, match="more than one registration"):
        await wallet_loads(sign_jws(claims, SHOP_KEY, typ=REQUEST_OBJECT_TYP))


async def test_a_withdrawn_registration_is_refused_through_the_status_list() -> None:
    statuses = StatusListIssuer(STATUS_URI, size=1024)
    entry = statuses.allocate()
    token = issue_registration(CITY_KEY, make_registration(SHOP_DID, status=dict(entry)))
    request = await wallet_loads(await _signed_request(token, query(["age_over_18"])))

    def checker() -> StatusListChecker:
        source = StaticStatusListSource({STATUS_URI: statuses.publish(CITY_KEY, now=NOW, iss=CITY_DID)})
        return StatusListChecker(resolver=RESOLVER, source=source)

    await check_registered_request(request, city_did=CITY_DID, resolver=RESOLVER, now=NOW, status=checker())
    statuses.revoke(entry["status_list"]["idx"])
    with pytest.raises(ServiceNotRegisteredError, match="withdrawn"):
        await check_registered_request(request, city_did=CITY_DID, resolver=RESOLVER, now=NOW, status=checker())
    # A list that cannot be read is an outage, not a verdict on the service.
    empty = StatusListChecker(resolver=RESOLVER, source=StaticStatusListSource({}))
    with pytest.raises(StatusListUnavailableError):
        await check_registered_request(request, city_did=CITY_DID, resolver=RESOLVER, now=NOW, status=empty)


async def test_a_city_list_that_cannot_be_used_is_an_outage_not_a_verdict() -> None:
    """A stale list, or one signed by another key under the city's kid: the wallet cannot tell
    whether the registration stands, and says so (503) rather than refusing the service."""
    statuses = StatusListIssuer(STATUS_URI, size=1024)
    entry = statuses.allocate()
    token = issue_registration(CITY_KEY, make_registration(SHOP_DID, status=dict(entry)))
    request = await wallet_loads(await _signed_request(token, query(["age_over_18"])))
    stranger = Key.generate("secp256k1").with_kid(CITY_KEY.kid)
    unusable = {
        "stale": statuses.publish(CITY_KEY, now=NOW - timedelta(days=2), iss=CITY_DID),
        "forged": statuses.publish(stranger, now=NOW, iss=CITY_DID),
    }
    for name, published in unusable.items():
        checker = StatusListChecker(resolver=RESOLVER, source=StaticStatusListSource({STATUS_URI: published}))
        with pytest.raises(StatusListUnavailableError) as caught:
            await check_registered_request(request, city_did=CITY_DID, resolver=RESOLVER, now=NOW, status=checker)
        assert caught.value.http_status == 503 and caught.value.details["cause"], name


async def test_an_unknown_city_key_is_not_a_registration() -> None:
    token = issue_registration(CITY_KEY, make_registration(SHOP_DID))
    request = await wallet_loads(await _signed_request(token, query(["age_over_18"])))
    city_unknown = StaticKeyResolver({SHOP_DID: SHOP_KEY})
    with pytest.raises((ServiceNotRegisteredError, KeyNotFoundError, DidResolutionError)):
        await check_registered_request(request, city_did=CITY_DID, resolver=city_unknown, now=NOW)
    narrower = make_registration(SHOP_DID, claim_sets=(ClaimSet("age", VCT, (("age_over_18",),)),))
    ok = await wallet_loads(await _signed_request(issue_registration(CITY_KEY, narrower), query(["age_over_18"])))
    assert (await check_registered_request(ok, city_did=CITY_DID, resolver=RESOLVER, now=NOW)).claim_sets[0].id == "age"
