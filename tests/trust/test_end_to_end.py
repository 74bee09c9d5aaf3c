"""Issue 5 end to end on the embedded chain: a city DID on ERC-1056, an accredited issuer, a real
status server on 127.0.0.1, status digests anchored on chain; time driven with ``now=``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest
from aiohttp import web

from vcsdk.credentials import (
    BitstringStatusListIssuer,
    StatusListIssuer,
    VctRegistry,
    build_credential,
    disclosable_paths,
    issue_sd_jwt_vc,
    issue_vc_jwt,
    present,
    resident_identity_claims,
    sd_jwt,
    verify_credential,
    verify_presentation,
    verify_vc,
)
from vcsdk.credentials.status_list import parse_status_claim
from vcsdk.did import EthrNetwork, key_attribute
from vcsdk.errors import (
    CredentialRevokedError,
    CredentialSuspendedError,
    IssuerNotAccreditedError,
    StatusListDigestMismatchError,
    StatusListStaleError,
)
from vcsdk.ethr import EthrRegistry, Resolver
from vcsdk.keys import Key
from vcsdk.registry import EmbeddedChain, key_address
from vcsdk.status import HttpStatusListFetcher, StatusListChecker, StatusListStore, StatusPolicy, status_list_routes
from vcsdk.trust import AccreditationPolicy, StatusDigest, TrustRegistry

VCTS = VctRegistry("https://credentials.kaga.example")
VCT = VCTS.resident_identity
AUD = "https://shop.example"
TTL = timedelta(minutes=5)


@dataclass
class City:
    chain: EmbeddedChain
    gov: Key
    did: str
    signer: Key
    resolver: Resolver
    trust: TrustRegistry
    store: StatusListStore
    base: str
    fetcher: HttpStatusListFetcher
    now: datetime

    def publish(self, lst: StatusListIssuer, path: str, *, at: datetime) -> str:
        token = lst.publish(self.signer, now=at, ttl=TTL, iss=self.did)
        self.store.publish(path, token, max_age=int(TTL.total_seconds()))
        return token

    async def anchor(self, lst: StatusListIssuer) -> None:
        await self.trust.anchor_status_digests([StatusDigest(lst.uri, lst.digest, lst.version + 1)], sender=self.gov)

    def checker(self, *, anchored: bool = True, max_age: timedelta = timedelta(hours=1)) -> StatusListChecker:
        return StatusListChecker(
            resolver=self.resolver, source=self.fetcher, policy=StatusPolicy(max_age=max_age),
            digests=self.trust if anchored else None,
        )


@pytest.fixture
async def city(embedded_chain: EmbeddedChain, aiohttp_server) -> AsyncIterator[City]:  # type: ignore[no-untyped-def]
    chain = embedded_chain
    gov = chain.dev_keys[0]
    did_registry = await chain.deploy("EthereumDIDRegistry", sender=gov)
    network = EthrNetwork(chain_id=int(chain.chain_id), registry=did_registry, chain=chain)
    ethr = await EthrRegistry.bind(chain, network)
    identity = key_address(gov)
    city_key = Key.generate("P-256")
    await ethr.set_attribute(identity, *key_attribute(city_key), sender=gov)
    did = f"did:ethr:{hex(int(chain.chain_id))}:{identity}"
    resolver = Resolver([network], cache_ttl=timedelta(0))
    published = await resolver.resolve_key(did, None)
    signer = city_key.with_kid(published.kid)
    trust = await TrustRegistry.deploy(chain, sender=gov)
    now = datetime.fromtimestamp((await chain.get_block("latest")).timestamp, UTC)
    await trust.accredit(did, VCT, valid_from=now - timedelta(days=1), sender=gov)
    await trust.accredit(did, "ResidentIdentityCredential", valid_from=now - timedelta(days=1), sender=gov)
    store = StatusListStore()
    app = web.Application()
    app.add_routes(status_list_routes(store))
    server = await aiohttp_server(app, host="127.0.0.1")
    async with HttpStatusListFetcher(allow_loopback_http=True) as fetcher:
        yield City(chain, gov, did, signer, resolver, trust, store, f"http://127.0.0.1:{server.port}", fetcher, now)
    await resolver.close()


def _claims() -> dict:
    return resident_identity_claims(
        family_name="Yamada", given_name="Hanako", birthdate="2001-05-05",
        address={"postal_code": "922-8622", "region": "Ishikawa", "locality": "Kaga",
                 "street_address": "Daishoji 1-1"},
        resident_since="2015-04-01",
        verification={"level": "high", "method": "my_number_card", "time": "2026-01-10T10:00:00Z"},
        as_of=date(2026, 1, 10),
    )


async def test_sd_jwt_vc_issue_verify_revoke_suspend_stale_forked_unaccredited(city: City) -> None:
    holder = Key.generate("P-256")
    lst = StatusListIssuer(city.base + "/status/1", size=1 << 16)
    status = lst.allocate()
    idx = parse_status_claim(status).idx
    sd_jwt = issue_sd_jwt_vc(
        _claims(), issuer=city.did, signer=city.signer, vct=VCT,
        disclosable=[list(p) for p in disclosable_paths("ResidentIdentityCredential")],
        holder_key=holder.public_key(), status=status, now=city.now, expires_at=city.now + timedelta(days=365),
    )
    city.publish(lst, "/status/1", at=city.now)
    await city.anchor(lst)
    checker = city.checker(anchored=False)
    accreditation = AccreditationPolicy(city.trust)

    async def verify(at: datetime, chk: StatusListChecker = checker) -> dict:
        nonce = f"n-{int(at.timestamp())}"
        vp = present(sd_jwt, disclose=[["address", "locality"], ["age_equal_or_over", "20"]],
                     holder_signer=holder, audience=AUD, nonce=nonce, now=at)
        v = await verify_presentation(
            vp, audience=AUD, nonce=nonce, resolver=city.resolver, status=chk, accreditation=accreditation, now=at
        )
        return v.claims

    t0 = city.now
    claims = await verify(t0)
    assert claims["address"] == {"locality": "Kaga"} and claims["age_equal_or_over"] == {"20": True}
    assert "birthdate" not in claims and "family_name" not in claims

    # Revoke: published at once, but a verifier sees it only after its cached copy's lifetime.
    lst.revoke(idx)
    city.publish(lst, "/status/1", at=t0 + timedelta(seconds=30))
    await city.anchor(lst)
    await verify(t0 + timedelta(seconds=60))
    with pytest.raises(CredentialRevokedError):
        await verify(t0 + TTL + timedelta(seconds=1))

    # A checker that compares with the chain sees the new anchor and refetches immediately.
    fresh = city.checker()
    with pytest.raises(CredentialRevokedError):
        await verify(t0 + timedelta(seconds=60), fresh)


async def test_suspend_and_reinstate_through_the_cache(city: City) -> None:
    holder = Key.generate("P-256")
    lst = StatusListIssuer(city.base + "/status/2", size=1 << 12)
    status = lst.allocate()
    idx = parse_status_claim(status).idx
    sd_jwt = issue_sd_jwt_vc({"given_name": "Taro"}, issuer=city.did, signer=city.signer, vct=VCT,
                             disclosable=[["given_name"]], holder_key=holder.public_key(), status=status,
                             now=city.now)
    t0 = city.now
    city.publish(lst, "/status/2", at=t0)
    checker = city.checker(anchored=False)

    async def verify(at: datetime) -> None:
        vp = present(sd_jwt, disclose=[["given_name"]], holder_signer=holder, audience=AUD, nonce="n", now=at)
        await verify_presentation(vp, audience=AUD, nonce="n", resolver=city.resolver, status=checker, now=at)

    await verify(t0)
    lst.suspend(idx)
    city.publish(lst, "/status/2", at=t0 + timedelta(seconds=10))
    with pytest.raises(CredentialSuspendedError):
        await verify(t0 + TTL + timedelta(seconds=1))
    lst.reinstate(idx)
    city.publish(lst, "/status/2", at=t0 + TTL + timedelta(seconds=20))
    await verify(t0 + 2 * TTL + timedelta(seconds=2))


async def test_stale_and_digest_mismatched_lists_are_refused(city: City) -> None:
    lst = StatusListIssuer(city.base + "/status/3", size=1 << 12)
    status = lst.allocate()
    t0 = city.now
    old_token = city.publish(lst, "/status/3", at=t0)
    await city.anchor(lst)
    # The status server stops republishing: after the policy's max age the list is refused.
    with pytest.raises(StatusListStaleError):
        await city.checker(max_age=timedelta(hours=1)).check(status, issuer=city.did, now=t0 + timedelta(hours=2))
    # The city publishes and anchors a new version, but the server keeps serving the old one
    # (an old or forked list): the digest differs from the chain's.
    lst.revoke(parse_status_claim(status).idx)
    await city.anchor(lst)
    city.store.publish("/status/3", old_token, max_age=300)
    with pytest.raises(StatusListDigestMismatchError):
        await city.checker().check(status, issuer=city.did, now=t0 + timedelta(seconds=5))


async def test_unaccredited_issuer_is_refused(city: City) -> None:
    policy = AccreditationPolicy(city.trust)
    await policy.check(city.did, VCT, issued_at=city.now, now=city.now)
    with pytest.raises(IssuerNotAccreditedError):
        await policy.check(city.did, VCTS.voting_eligibility, issued_at=city.now, now=city.now)
    with pytest.raises(IssuerNotAccreditedError):
        await policy.check("did:ethr:0x539:0x2222222222222222222222222222222222222222", VCT, issued_at=city.now,
                           now=city.now)
    await city.trust.suspend(city.did, VCT, sender=city.gov)
    with pytest.raises(IssuerNotAccreditedError):
        await policy.check(city.did, VCT, issued_at=city.now, now=city.now)


async def test_w3c_vc_jwt_with_bitstring_status_and_accreditation(city: City) -> None:
    pair = BitstringStatusListIssuer(city.base + "/w3c/rev", city.base + "/w3c/sus", issuer=city.did)
    entries = pair.allocate()
    t0 = city.now

    def publish(at: datetime) -> None:
        for purpose in ("revocation", "suspension"):
            city.store.publish(f"/w3c/{purpose[:3]}", pair.publish(city.signer, purpose, now=at, ttl=TTL),
                               max_age=300, media_type="application/vc+jwt")

    publish(t0)
    vc = build_credential(issuer=city.did, types=["ResidentIdentityCredential"],
                          subject={"id": "did:key:z6MkHolder", **_claims()}, valid_from=t0, status=entries)
    token = issue_vc_jwt(vc, city.signer)
    checker = city.checker(anchored=False)
    accreditation = AccreditationPolicy(city.trust)
    v = await verify_vc(token, resolver=city.resolver, status=checker, accreditation=accreditation, now=t0)
    assert v.credential_type == "ResidentIdentityCredential"
    pair.revoke(int(entries[0]["statusListIndex"]))
    publish(t0 + timedelta(seconds=5))
    with pytest.raises(CredentialRevokedError):
        await verify_vc(token, resolver=city.resolver, status=checker, accreditation=accreditation,
                        now=t0 + TTL + timedelta(seconds=1))


# -- accreditation inside the verify recipe (verify_presentation and verify_credential) ----------


async def _verify_with_accreditation(city: City, recipe: str, vct: str, *, issued: datetime, at: datetime) -> None:
    holder = Key.generate("P-256")
    token = issue_sd_jwt_vc({"given_name": "Taro"}, issuer=city.did, signer=city.signer, vct=vct,
                            disclosable=[["given_name"]], holder_key=holder.public_key(), now=issued)
    policy = AccreditationPolicy(city.trust)
    if recipe == "credential":
        await verify_credential(token, resolver=city.resolver, accreditation=policy, now=at)
        return
    vp = present(token, disclose=[["given_name"]], holder_signer=holder, audience=AUD, nonce="n", now=at)
    await verify_presentation(vp, audience=AUD, nonce="n", resolver=city.resolver, accreditation=policy, now=at)


RECIPES = pytest.mark.parametrize("recipe", ["presentation", "credential"])


@RECIPES
async def test_recipe_accepts_an_accredited_issuer(city: City, recipe: str) -> None:
    await _verify_with_accreditation(city, recipe, VCT, issued=city.now, at=city.now + timedelta(minutes=1))


@RECIPES
async def test_recipe_refuses_an_issuer_never_accredited_for_the_vct(city: City, recipe: str) -> None:
    with pytest.raises(IssuerNotAccreditedError, match="not accredited by"):
        await _verify_with_accreditation(city, recipe, VCTS.voting_eligibility, issued=city.now, at=city.now)


@RECIPES
async def test_recipe_refuses_a_credential_issued_before_the_accreditation(city: City, recipe: str) -> None:
    vct = VCTS.voting_eligibility
    await city.trust.accredit(city.did, vct, valid_from=city.now + timedelta(days=1), sender=city.gov)
    with pytest.raises(IssuerNotAccreditedError, match="when it issued it"):
        await _verify_with_accreditation(city, recipe, vct, issued=city.now, at=city.now + timedelta(days=2))
    # Issued inside the window, the same issuer and type pass.
    issued = city.now + timedelta(days=1, minutes=1)
    await _verify_with_accreditation(city, recipe, vct, issued=issued, at=issued)


@RECIPES
async def test_recipe_refuses_an_issuer_suspended_now(city: City, recipe: str) -> None:
    await city.trust.suspend(city.did, VCT, sender=city.gov)
    with pytest.raises(IssuerNotAccreditedError, match="suspended"):
        await _verify_with_accreditation(city, recipe, VCT, issued=city.now, at=city.now + timedelta(minutes=1))


async def test_recipe_refuses_accreditation_without_iat(city: City) -> None:
    token = sd_jwt.issue({"iss": city.did, "vct": VCT, "given_name": "Taro"}, signer=city.signer,
                         disclosable=[["given_name"]])
    await verify_credential(token, resolver=city.resolver, now=city.now)  # iat is optional in SD-JWT VC
    with pytest.raises(IssuerNotAccreditedError, match="no iat"):
        await verify_credential(token, resolver=city.resolver, accreditation=AccreditationPolicy(city.trust),
                                now=city.now)
