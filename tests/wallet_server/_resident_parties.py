"""The other parties of the resident-side tests, on 127.0.0.1 and without a chain.

- an OpenID4VCI issuer (vcsdk's ``CredentialIssuer``) whose DID is a did:jwk;
- a third-party service (vcsdk's ``Verifier``) with a did:jwk, registered by the city (a did:jwk
  here) for exactly the claims of ``QUERY``, returning access receipts at a ``receipt_uri`` for the
  signed consent record the wallet posts;
- a chain port that resolves did:jwk / did:key only, has no receipt registry, names the city as the
  registration authority and signs consent records with the city's key.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from tests._net import free_port, serve
from tests._service_endpoints import ReceiptDesk
from vcsdk._b64 import b64url_encode
from vcsdk.credentials import issue_sd_jwt_vc, verify_presentation
from vcsdk.did import did_jwk_for
from vcsdk.ethr import Resolver
from vcsdk.keys import Key
from vcsdk.oid4vc import (
    CredentialConfiguration,
    CredentialIssuer,
    InMemoryStateStore,
    PresentationResult,
    Verifier,
    issuer_routes,
    verifier_routes,
)
from vcsdk.outbox import AnchorChain
from vcsdk.registration import ClaimSet, Purpose, RelyingPartyRegistration, issue_registration

VCT = "https://credentials.city.test/ResidentIdentityCredential"
PURPOSE = "Age check for the sale of alcohol"  # the registered purpose's description
PURPOSE_ID = "age_check"  # what requests name
QUERY: dict[str, Any] = {
    "credentials": [
        {
            "id": "resident",
            "format": "dc+sd-jwt",
            "meta": {"vct_values": [VCT]},
            "claims": [{"path": ["age_over_20"]}, {"path": ["address", "locality"]}],
        }
    ]
}
CLAIMS: dict[str, Any] = {
    "given_name": "Hanako",
    "family_name": "Kaga",
    "age_over_20": True,
    "address": {"locality": "Kaga", "postal_code": "922-0000"},
}
DISCLOSABLE = [("given_name",), ("family_name",), ("age_over_20",), ("address", "locality"), ("address", "postal_code")]


def jwk_did(key: Key) -> tuple[str, Key]:
    """A did:jwk for ``key`` and the key with its DID URL as kid."""
    did = did_jwk_for(key.public_key())
    return did, key.with_kid(f"{did}#0")


def b64sig(key: Key, signing_input: str) -> str:
    """What the phone returns: base64url of the raw ES256 signature over the signing input."""
    return b64url_encode(key.sign(signing_input.encode("ascii")))


CITY_DID, CITY_KEY = jwk_did(Key.generate("P-256"))


def register(
    service_did: str, *, name: str = "Kaga Sake Shop", paths: tuple[tuple[str, ...], ...] | None = None,
    base: str = "https://service.example",
) -> str:
    """The city's registration of a service (by default for exactly the claims of ``QUERY``)."""
    now = datetime.now(UTC)
    sets = (
        (ClaimSet("age", VCT, (("age_over_20",),)), ClaimSet("locality", VCT, (("address", "locality"),)))
        if paths is None
        else (ClaimSet("claims", VCT, paths),)
    )
    return issue_registration(
        CITY_KEY,
        RelyingPartyRegistration(
            issuer=CITY_DID, service_did=service_did, registration_id=f"reg-{secrets.token_hex(4)}", name=name,
            purposes=(Purpose(PURPOSE_ID, PURPOSE),), claim_sets=sets, retention_days=30,
            receipt_endpoint=f"{base}/withdrawals", privacy_policy=f"{base}/privacy", jurisdiction="JP-17",
            issued_at=now - timedelta(days=400), expires_at=now + timedelta(days=3650),
        ),
    )


class StaticChainPort:
    """Resolves did:jwk and did:key; no receipt registry (receipts stay queued); the city is a did:jwk."""

    def __init__(self, registry: AnchorChain | None = None) -> None:
        self._resolver = Resolver(methods=("key", "jwk"))
        self._registry = registry

    async def resolver(self) -> Resolver:
        return self._resolver

    async def receipt_registry(self) -> AnchorChain | None:
        return self._registry

    async def registration_authority(self) -> str:
        return CITY_DID

    async def consent_signer(self) -> Key:
        return CITY_KEY


@dataclass
class Issuer:
    url: str
    oid4vci: CredentialIssuer
    did: str
    key: Key | None = None
    #: changes what the issuer returns: (token, holder_key) -> token (bad-credential tests)
    tamper: Any = None

    async def offer(self, *, by_reference: bool = True, pin: bool = True) -> tuple[str, str | None]:
        from vcsdk.oid4vc import TxCode

        now = self.oid4vci_clock()
        offer, code = await self.oid4vci.create_offer(
            "ResidentIdentityCredential", CLAIMS, now=now, tx_code=TxCode() if pin else None
        )
        uri = await self.oid4vci.publish_offer(offer, now=now) if by_reference else offer.uri()
        return uri, code

    oid4vci_clock: Any = None


@dataclass
class Service:
    base: str
    verifier: Verifier
    did: str
    key: Key
    results: list[PresentationResult] = field(default_factory=list)
    receipts: list[str] = field(default_factory=list)
    clock: Any = None
    desk: Any = None  # the ReceiptDesk: its receipt and withdrawal endpoints, and how they behave
    redirect: str | None = None  # what the service's direct_post answer sends the app on to
    receipt_base: str | None = None  # where its receipt_uri points (default: its own base)

    async def request(self, query: dict[str, Any] | None = None) -> Any:
        return await self.verifier.create_request(query or QUERY, purpose=PURPOSE_ID, now=self.clock())


@asynccontextmanager
async def parties(clock: Any, *, withdrawal_base: str | None = None) -> AsyncIterator[tuple[Issuer, Service]]:
    """An issuer and a service on 127.0.0.1 sharing the test clock.

    :param withdrawal_base: where the registration's receipt (withdrawal) endpoint points, if not
        at the service itself.
    """
    async with AsyncExitStack() as stack:
        issuer_did, issuer_key = jwk_did(Key.generate("P-256"))

        def issue(claims: Any, holder_key: Key) -> str:
            token = issue_sd_jwt_vc(
                claims, issuer=issuer_did, signer=issuer_key, vct=VCT, disclosable=DISCLOSABLE,
                holder_key=holder_key, now=clock(), expires_at=clock() + timedelta(days=30),
            )
            return issuer.tamper(token, holder_key) if issuer.tamper is not None else token

        issuer_port = free_port()
        oid4vci = CredentialIssuer(
            credential_issuer=f"http://127.0.0.1:{issuer_port}/issuer",
            configurations=[CredentialConfiguration(id="ResidentIdentityCredential", vct=VCT)],
            issue=issue,
            store=InMemoryStateStore(),
        )
        await stack.enter_async_context(serve(issuer_routes(oid4vci, clock=clock), port=issuer_port))
        issuer = Issuer(oid4vci.credential_issuer, oid4vci, issuer_did, issuer_key)
        issuer.oid4vci_clock = clock

        service_did, service_key = jwk_did(Key.generate("P-256"))
        resolver = Resolver(methods=("key", "jwk"))
        stack.push_async_callback(resolver.close)

        async def verify(presentation: str, *, audience: str, nonce: str) -> Any:
            return await verify_presentation(
                presentation, audience=audience, nonce=nonce, resolver=resolver, now=clock()
            )

        port = free_port()
        base = f"http://127.0.0.1:{port}"
        verifier = Verifier(
            did=service_did, signer=service_key, response_uri=f"{base}/response", request_uri_base=f"{base}/request",
            store=InMemoryStateStore(), verify=verify, name="Kaga Sake Shop",
            registration=register(service_did, base=withdrawal_base or base),
        )
        service = Service(base, verifier, service_did, service_key, clock=clock)

        service.desk = ReceiptDesk(
            did=service_did, key=service_key, wallet_did=CITY_DID, resolver=resolver, clock=clock,
            purpose=PURPOSE_ID, results=service.results, receipts=service.receipts,
        )

        async def on_result(result: PresentationResult) -> dict[str, Any]:
            service.results.append(result)
            answer = {"receipt_uri": f"{service.receipt_base or base}/receipts/{result.request_id}"}
            return {**answer, "redirect_uri": service.redirect} if service.redirect else answer

        routes = [*verifier_routes(verifier, clock=clock, on_result=on_result), *service.desk.routes()]
        await stack.enter_async_context(serve(routes, port=port))
        yield issuer, service
