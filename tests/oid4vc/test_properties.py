"""Properties across the whole presentation path: for any set of requested claims, a wallet that
follows the DCQL match is accepted and the service sees exactly those claims; a wallet that
discloses any other selectively disclosable claim is refused."""

from __future__ import annotations

import asyncio
from urllib.parse import parse_qsl

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from vcsdk.credentials import StaticKeyResolver, peek, present, verify_presentation
from vcsdk.errors import DisclosureError
from vcsdk.keys import Key
from vcsdk.oid4vc import (
    CandidateCredential,
    InMemoryStateStore,
    Verifier,
    build_authorization_response,
    build_consent,
    match_dcql,
    select_claims,
    verify_request_object,
)
from vcsdk.oid4vc._dcql import path_covers

from .conftest import (
    CITY_DID,
    NOW,
    RESIDENT_CLAIMS,
    SERVICE_DID,
    VCT,
    CountingRandomness,
    resident_credential,
)

REQUESTABLE = [
    ("given_name",),
    ("family_name",),
    ("birthdate",),
    ("age_equal_or_over", "18"),
    ("age_equal_or_over", "65"),
    ("address",),
    ("address", "locality"),
    ("address", "postal_code"),
    ("nationalities", None),
]
CITY = Key.generate("secp256k1").with_kid(f"{CITY_DID}#controller")
SERVICE = Key.generate("secp256k1").with_kid(f"{SERVICE_DID}#controller")
DEVICE = Key.generate("P-256")
CREDENTIAL = resident_credential(CITY, DEVICE)
RESOLVER = StaticKeyResolver({CITY_DID: CITY})


async def _verify(presentation, *, audience, nonce):
    return await verify_presentation(presentation, audience=audience, nonce=nonce, resolver=RESOLVER, now=NOW)


async def _round(paths, extra=()):
    verifier = Verifier(
        did=SERVICE_DID,
        signer=SERVICE,
        response_uri="https://s.example/r",
        request_uri_base="https://s.example/q",
        store=InMemoryStateStore(),
        verify=_verify,
        randomness=CountingRandomness(),
    )
    query = {
        "credentials": [
            {
                "id": "q",
                "format": "dc+sd-jwt",
                "meta": {"vct_values": [VCT]},
                "claims": [{"path": list(p)} for p in paths],
            }
        ]
    }
    created = await verifier.create_request(query, purpose="property", now=NOW)
    request = verify_request_object(
        created.request_object, SERVICE.public_key(), expected_client_id=created.client_id, now=NOW
    )
    candidate = CandidateCredential("vc", "dc+sd-jwt", VCT, peek(CREDENTIAL).unverified_claims)
    (chosen,) = build_consent(request, match_dcql(request.dcql_query, [candidate])).credentials
    presentation = present(
        CREDENTIAL,
        disclose=[*chosen.claims, *extra],
        holder_signer=DEVICE,
        audience=request.client_id,
        nonce=request.nonce,
        now=NOW,
    )
    post = build_authorization_response(request, {"q": presentation})
    return await verifier.handle_response(dict(parse_qsl(post.body.decode())), now=NOW)


def _expected(paths):
    from vcsdk.oid4vc._verifier import _project

    concrete = []
    for p in paths:
        concrete.extend(where for where, _ in select_claims(RESIDENT_CLAIMS, p))
    return _project(RESIDENT_CLAIMS, concrete)


def _overlap(a, b) -> bool:
    def concrete(pointer):
        return [where for where, _ in select_claims(RESIDENT_CLAIMS, pointer)]

    return any(path_covers(a, c) for c in concrete(b)) or any(path_covers(b, c) for c in concrete(a))


_subsets = st.lists(st.sampled_from(REQUESTABLE), min_size=1, max_size=4, unique=True)


@settings(max_examples=25)
@given(_subsets)
def test_property_service_sees_exactly_the_requested_claims(paths):
    result = asyncio.run(_round(paths))
    assert result.claims() == _expected(paths)


@settings(max_examples=25)
@given(_subsets, st.sampled_from(REQUESTABLE))
@example([("nationalities", None)], ("nationalities", None))
def test_property_any_unrequested_disclosure_is_refused(paths, extra):
    if any(_overlap(p, extra) for p in paths):
        return  # not extra: on the way to, or inside, a requested claim
    with pytest.raises(DisclosureError):
        asyncio.run(_round(paths, extra=[extra]))
