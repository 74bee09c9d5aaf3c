"""docs/oid4vc.md: a city and a service identified by did:jwk (resolvable with no chain), a resident's
device key and claims; before the wallet blocks, the issuer and the verifier the page built are
served on 127.0.0.1 (the page's https URLs are not reachable from a test)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from vcsdk.credentials import RESIDENT_IDENTITY_CREDENTIAL, disclosable_paths, issue_sd_jwt_vc, peek
from vcsdk.did import did_jwk_for
from vcsdk.ethr import Resolver
from vcsdk.keys import Key
from vcsdk.oid4vc import (
    CandidateCredential,
    CredentialConfiguration,
    CredentialIssuer,
    InMemoryStateStore,
    Verifier,
    issuer_routes,
    verifier_routes,
)

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[3]))  # the repository, for the test PKI helper
from _city import now, resident_claims

from tests.oid4vc._pki import make_hierarchy

VCT = "https://credentials.kaga.example/ResidentIdentityCredential"


def _identity() -> tuple[str, Key]:
    key = Key.generate("P-256")
    did = did_jwk_for(key)
    return did, key.with_kid(did + "#0")


async def setup(ns: dict[str, Any]) -> None:
    city_did, city_key = _identity()
    service_did, service_key = _identity()
    device = Key.generate("P-256")
    granted: list[tuple[str, bool]] = []
    ns.update(
        SERVICE_DID=service_did, service_key=service_key, CITY_DID=city_did, city_key=city_key,
        resolver=Resolver([]), did_resolver=Resolver([]), status_checker=None, RESIDENT_VCT=VCT,
        grant_access=lambda state, over_18: granted.append((state, over_18)), _granted=granted,
        show_to_resident=lambda qr, link: None, paths=disclosable_paths(RESIDENT_IDENTITY_CREDENTIAL),
        store=InMemoryStateStore(), claims=resident_claims(now()), send_sms=lambda phone, pin: None,
        resident_phone="+81-000-0000-0000", device_signers=[device], device_public_jwks=[device.public_jwk()],
        device_signer=device, session=aiohttp.ClientSession(), _runners=[],
    )


def _haip_setup(ns: dict[str, Any]) -> None:
    """What the HAIP blocks assume: a wallet provider's CA, the resident's KYC, the issue function."""
    provider = make_hierarchy(now=now(), name="wallet provider")

    def issue_resident_credential(claims: Any, holder_key: Key) -> str:
        return issue_sd_jwt_vc(claims, issuer=ns["CITY_DID"], signer=ns["city_key"], vct=VCT,
                               disclosable=ns["paths"], holder_key=holder_key, now=now())

    async def resident_kyc(request: web.Request) -> Any:
        return ns["claims"]  # the test resident passes KYC

    ns.update(wallet_provider_root=provider.root, _provider=provider, resident_kyc=resident_kyc,
              issue_resident_credential=issue_resident_credential)


async def _haip_wallet(ns: dict[str, Any]) -> None:
    """Before the wallet's HAIP block: the page's HAIP issuer served on loopback, an attestation."""
    from vcsdk.oid4vc import ClientAttestation, WalletAttestationTrust, issue_wallet_attestation

    base = f"http://127.0.0.1:{_free_port()}"
    provider = ns["_provider"]
    twin = CredentialIssuer(
        credential_issuer=f"{base}/haip",
        configurations=[CredentialConfiguration(id="ResidentIdentityCredential", vct=VCT)],
        issue=ns["issue_resident_credential"], store=InMemoryStateStore(), require_dpop=True,
        wallet_attestation=WalletAttestationTrust(trust_anchors=[provider.root]))

    async def sign_in(request: web.Request, session: Any) -> web.StreamResponse:
        raise web.HTTPFound(await twin.authorization_server.authorize(session.id, ns["claims"], now=now()))

    await _serve_at(ns, issuer_routes(twin, clock=now, on_authorization=sign_in), base)
    client_id = "https://wallet.kaga.example"
    instance = Key.generate("P-256")
    token = issue_wallet_attestation(provider.leaf_key, issuer="https://provider.kaga.example", client_id=client_id,
                                     instance_jwk=instance.public_jwk(), now=now(),
                                     x5c=(provider.leaf, provider.intermediate))
    phone = Key.generate("P-256")

    async def open_in_browser(url: str) -> str:
        async with ns["session"].get(url, allow_redirects=False) as resp:
            return resp.headers["Location"]

    ns.update(haip_offer=twin.authorization_offer(["ResidentIdentityCredential"]), WALLET_CLIENT_ID=client_id,
              WALLET_CALLBACK="https://wallet.kaga.example/callback", open_in_browser=open_in_browser,
              wallet_attestation=ClientAttestation(token, instance, client_id), phone=phone,
              phone_jwk=phone.public_jwk())


def _haip_verifier_setup(ns: dict[str, Any]) -> None:
    """The service's certificate (leaf and intermediate under a CA the wallet trusts)."""
    pki = make_hierarchy(now=now(), name="bikes ca")
    ns.update(service_cert_key=pki.leaf_key, service_cert=pki.leaf, intermediate_ca=pki.intermediate,
              _service_pki=pki, user_session={})


async def _haip_wallet_answers(ns: dict[str, Any]) -> None:
    """The resident's wallet answers the HAIP request (in process: the page's URLs are not served)."""
    from urllib.parse import parse_qsl, urlsplit

    from vcsdk.oid4vc import (
        HolderPresentation,
        load_request_object,
        parse_authorization_request_uri,
    )

    verifier, created = ns["haip_verifier"], ns["created"]
    ref = parse_authorization_request_uri(created.deep_link)
    request_id = urlsplit(ref.request_uri).path.rsplit("/", 1)[1]
    jwt = await verifier.request_object(request_id, now=now(), form={"wallet_nonce": "docs-wallet-nonce"})
    request = await load_request_object(jwt, resolver=None, expected_client_id=ref.client_id, now=now(),
                                        trust_anchors=[ns["_service_pki"].root], wallet_nonce="docs-wallet-nonce")
    vc = ns["issued"].credentials[0]
    unverified = peek(vc)
    holder = HolderPresentation.start(request, [CandidateCredential("vc", "dc+sd-jwt", unverified.unverified_vct,
                                                                    unverified.unverified_claims)])
    holder = holder.consent({"vc": vc}, now=now())
    _, answer = holder.finish({p.query_id: ns["device_signer"].sign(p.signing_input) for p in holder.prepared})
    result = await verifier.handle_response(dict(parse_qsl((answer.body or b"").decode())), now=now())
    ns["response_code_from_fragment"] = result.response_code


async def before(source: str, ns: dict[str, Any]) -> None:
    if "haip_verifier = Verifier(" in source:
        _haip_verifier_setup(ns)
        if "issued" not in ns:  # the resident's credential, as the wallet section below receives it
            ns["issued"] = _issued_now(ns)
    if "haip_verifier.redeem(" in source:
        await _haip_wallet_answers(ns)
    if "WalletAttestationTrust(" in source:
        _haip_setup(ns)
    if "start_authorization(" in source:
        await _haip_wallet(ns)
    if "parse_credential_offer_uri(scanned)" in source:
        base = f"http://127.0.0.1:{_free_port()}"
        twin = CredentialIssuer(
            credential_issuer=f"{base}/issuer",
            configurations=[CredentialConfiguration(id="ResidentIdentityCredential", vct=VCT)],
            issue=lambda claims, holder_key: issue_sd_jwt_vc(
                claims, issuer=ns["CITY_DID"], signer=ns["city_key"], vct=VCT, disclosable=ns["paths"],
                holder_key=holder_key, now=now()),
            store=InMemoryStateStore())
        await _serve_at(ns, issuer_routes(twin, clock=now), base)
        offer, pin = await twin.create_offer("ResidentIdentityCredential", ns["claims"], now=now())
        ns.update(scanned=offer.uri(), pin=pin, _twin=twin)
    if "prepare_issuance(" in source:
        twin = ns["_twin"]
        offer, pin = await twin.create_offer("ResidentIdentityCredential", ns["claims"], now=now())
        phone = Key.generate("P-256")  # the phone of the two-phase blocks (and of the presentation after)
        ns.update(scanned_offer=await twin.publish_offer(offer, now=now()), offer_pin=pin, phone=phone,
                  phone_jwk=phone.public_jwk())
    if "parse_authorization_request_uri(scanned)" in source:
        base = f"http://127.0.0.1:{_free_port()}"
        verifier = Verifier(did=ns["SERVICE_DID"], signer=ns["service_key"], name="Tsukuba Bike Share",
                            verify=ns["verify"], response_uri=f"{base}/oid4vp/response",
                            request_uri_base=f"{base}/oid4vp/request", store=InMemoryStateStore())
        await _serve_at(ns, verifier_routes(verifier, clock=now, on_result=ns["on_result"]), base)
        request = await verifier.create_request(ns["AGE_18"], purpose="Renting a bicycle requires age 18+", now=now())
        vc = ns["issued"].credentials[0]
        unverified = peek(vc)
        ns.update(scanned=request.deep_link, vc=vc, _verifier=verifier, candidates=[
            CandidateCredential("vc", "dc+sd-jwt", unverified.unverified_vct, unverified.unverified_claims)])
    if "HolderPresentation.start(" in source:
        # The phone's key is the one the credential the previous block issued is bound to.
        request = await ns["_verifier"].create_request(
            ns["AGE_18"], purpose="Renting a bicycle requires age 18+", now=now())
        vc = ns["issued"].credentials[0]
        unverified = peek(vc)
        ns.update(scanned=request.deep_link, vc=vc, phone=ns["phone"], candidates=[
            CandidateCredential("vc", "dc+sd-jwt", unverified.unverified_vct, unverified.unverified_claims)])


def _issued_now(ns: dict[str, Any]) -> Any:
    from vcsdk.oid4vc import IssuedCredentials

    vc = issue_sd_jwt_vc(ns["claims"], issuer=ns["CITY_DID"], signer=ns["city_key"], vct=VCT,
                         disclosable=ns["paths"], holder_key=ns["device_signer"], now=now())
    return IssuedCredentials((vc,))


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _serve_at(ns: dict[str, Any], routes: list[web.RouteDef], base: str) -> None:
    app = web.Application()
    app.add_routes(routes)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", int(base.rsplit(":", 1)[1])).start()
    ns["_runners"].append(runner)


async def teardown(ns: dict[str, Any]) -> None:
    for runner in ns.get("_runners", []):
        await runner.cleanup()
    for name in ("session", "resolver", "did_resolver"):
        if name in ns:
            await ns[name].close()
    assert len(ns["_granted"]) == 3 and all(g[1] is True for g in ns["_granted"]), "the service granted no access"
