"""The city issues over its back office: KYC against the SOAP registry → an OpenID4VCI offer in the
resident's inbox → the phone redeems it over real HTTP → the credential verifies (signature from the
city's did:ethr, accreditation and status on the embedded chain). Revocation, role checks and a
restart on the same database. Every test runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import pytest

from tests.wallet_server._city import ACTIVE, INACTIVE, issue_to, redeem, start_issuance, verify
from tests.wallet_server._helpers import ISSUER_TOKEN, OPERATOR_TOKEN, Phone, admin_headers, new_resident
from tests.wallet_server.conftest import make_settings
from vcsdk.credentials import StatusListIssuer, peek
from vcsdk.errors import CredentialRevokedError, CredentialSuspendedError, ProtocolError
from vcsdk.keys import Key
from vcsdk.kyc import LocalResidentRegistry
from wallet_server import create_app
from wallet_server.appkeys import CITY, ISSUANCE, STORE
from wallet_server.services.issuance import _CONTEXT
from wallet_server.settings import Settings

CITY_SIGNING_KEY = Key.generate("P-256")


@pytest.fixture
async def registry() -> AsyncIterator[LocalResidentRegistry]:
    async with LocalResidentRegistry() as running:
        yield running


@pytest.fixture
def city_settings(database, registry: LocalResidentRegistry) -> Settings:  # type: ignore[no-untyped-def]
    return make_settings(
        database, kyc_registry_url=registry.url, city_signing_key=CITY_SIGNING_KEY, status_list_size=1024
    )


@pytest.fixture
async def city_client(aiohttp_client, city_settings: Settings, clock):  # type: ignore[no-untyped-def]
    return await aiohttp_client(create_app(city_settings, clock=clock))


async def test_kyc_verified_offer_in_inbox_redeemed_and_verified(city_client, clock) -> None:
    phone = await new_resident(city_client, clock)
    resp = await start_issuance(city_client, phone.resident_id)
    assert resp.status == 200 and resp.headers["Cache-Control"] == "no-store"
    answer = await resp.json()
    assert answer["outcome"] == "verified" and answer["tx_code"].isdigit() and len(answer["tx_code"]) == 6
    offer = answer["offer"]
    assert offer["resident_id"] == phone.resident_id and offer["state"] == "pending"
    assert offer["offer_uri"].startswith("openid-credential-offer://?credential_offer_uri=")
    # The offer waits in the resident's inbox (the table the resident API reads); no tx_code there.
    store = city_client.server.app[STORE]
    inbox = await store.list_offers(phone.resident_id, limit=10)
    assert [o.id for o in inbox.items] == [offer["id"]] and answer["tx_code"] not in inbox.items[0].offer_json

    issued = await redeem(city_client, offer["offer_uri"], answer["tx_code"], phone)
    credential = issued.credentials[0]
    claims = peek(credential).unverified_claims
    assert claims["cnf"]["jwk"] == phone.key.public_jwk()
    city = await city_client.server.app[CITY].get()
    assert claims["iss"] == city.did and claims["status"]["status_list"]["uri"].endswith("/status/1")
    verified = await verify(city_client, credential, phone, clock)
    assert verified.key_bound and verified.issuer == city.did
    assert verified.claims["address"] == {"locality": ACTIVE.address.city}
    assert "family_name" not in verified.claims and "birthdate" not in verified.claims
    assert (await store.get_offer(offer["id"])).state == "redeemed"

    listed = await (await city_client.get("/admin/v1/credentials", headers=admin_headers(ISSUER_TOKEN))).json()
    (item,) = listed["items"]
    assert item["resident_id"] == phone.resident_id and item["state"] == "valid" and item["offer_id"] == offer["id"]
    assert item["status_index"] == claims["status"]["status_list"]["idx"]
    assert set(item) == {"id", "offer_id", "resident_id", "configuration_id", "vct", "status_list_id",
                         "status_index", "issued_at", "expires_at", "state", "updated_at"}  # metadata only
    own = await city_client.get(f"/admin/v1/credentials?resident_id={phone.resident_id}",
                                headers=admin_headers(ISSUER_TOKEN))
    assert [c["id"] for c in (await own.json())["items"]] == [item["id"]]

    # The pre-authorized code is single use: a second redemption is refused per the spec.
    with pytest.raises(ProtocolError) as replay:
        await redeem(city_client, offer["offer_uri"], answer["tx_code"], phone)
    assert replay.value.code in ("invalid_grant", "invalid_request")


async def test_wrong_tx_code_is_invalid_grant(city_client, clock) -> None:
    phone = await new_resident(city_client, clock)
    answer = await (await start_issuance(city_client, phone.resident_id)).json()
    wrong = "000000" if answer["tx_code"] != "000000" else "111111"
    with pytest.raises(ProtocolError) as refused:
        await redeem(city_client, answer["offer"]["offer_uri"], wrong, phone)
    assert refused.value.code == "invalid_grant"
    assert (await city_client.get("/admin/v1/credentials", headers=admin_headers(ISSUER_TOKEN))).status == 200


@pytest.mark.parametrize(
    ("overrides", "outcome"),
    [
        ({"birthdate": ACTIVE.birthdate.replace(year=ACTIVE.birthdate.year - 1).isoformat()}, "partial_match"),
        ({"family_name": "存在しない", "given_name": "だれか", "birthdate": "1901-01-01", "address": "無"}, "no_match"),
    ],
    ids=["partial", "none"],
)
async def test_partial_and_no_match_issue_nothing(city_client, clock, overrides, outcome) -> None:
    phone = await new_resident(city_client, clock)
    resp = await start_issuance(city_client, phone.resident_id, **overrides)
    assert resp.status == 200
    answer = await resp.json()
    assert answer["outcome"] == outcome and answer["offer"] is None and answer["tx_code"] is None
    if outcome == "partial_match":
        assert "birthDate" not in answer["matched_fields"] and "familyName" in answer["matched_fields"]
    store = city_client.server.app[STORE]
    assert (await store.list_offers(phone.resident_id, limit=10)).items == ()
    assert (await store.list_issued_credentials(limit=10)).items == ()


async def test_not_active_resident_issues_nothing(city_client, clock) -> None:
    from tests.wallet_server._city import identity

    phone = await new_resident(city_client, clock)
    resp = await city_client.post("/admin/v1/issuances", json={"resident_id": phone.resident_id,
                                                               **identity(INACTIVE)},
                                  headers=admin_headers(ISSUER_TOKEN))
    answer = await resp.json()
    assert answer["outcome"] == "not_active" and answer["status"] in ("moved_out", "deceased")
    assert answer["offer"] is None


async def test_issuance_refusals(city_client, clock) -> None:
    phone = await new_resident(city_client, clock)
    cases = [
        ({"resident_id": "res_unknown"}, 404, "not_found"),
        ({"device_id": "dev_unknown"}, 404, "not_found"),
        ({"birthdate": "1990-02-30"}, 400, "invalid_input"),
        ({"family_name": "a\nb"}, 400, "invalid_input"),
    ]
    for override, status, code in cases:
        body = {"resident_id": phone.resident_id, **_identity(), **override}
        resp = await city_client.post("/admin/v1/issuances", json=body, headers=admin_headers(ISSUER_TOKEN))
        assert resp.status == status, (override, await resp.text())
        assert (await resp.json())["code"] == code
    # A resident without a device yet: nothing to bind to.
    code = await (await city_client.post("/admin/v1/enrolment-codes", json={},
                                         headers=admin_headers(OPERATOR_TOKEN))).json()
    resp = await city_client.post("/admin/v1/issuances", json={"resident_id": code["resident_id"], **_identity()},
                                  headers=admin_headers(ISSUER_TOKEN))
    assert resp.status == 409 and (await resp.json())["code"] == "conflict"


def _identity() -> dict[str, str]:
    from tests.wallet_server._city import identity

    return identity()


async def test_registry_not_configured_is_503(aiohttp_client, database, clock) -> None:
    client = await aiohttp_client(create_app(make_settings(database), clock=clock))
    phone = await new_resident(client, clock)
    resp = await start_issuance(client, phone.resident_id)
    assert resp.status == 503 and (await resp.json())["code"] == "resident_registry_unavailable"


async def test_revoke_suspend_reinstate_publish_and_anchor(city_client, clock) -> None:
    phone = await new_resident(city_client, clock)
    credential, _ = await issue_to(city_client, phone)
    headers = admin_headers(ISSUER_TOKEN)
    (item,) = (await (await city_client.get("/admin/v1/credentials", headers=headers)).json())["items"]
    city = await city_client.server.app[CITY].get()
    uri = peek(credential).unverified_claims["status"]["status_list"]["uri"]

    resp = await city_client.post(f"/admin/v1/credentials/{item['id']}/suspend", headers=headers)
    assert resp.status == 200 and [c["state"] for c in (await resp.json())["items"]] == ["suspended"]
    with pytest.raises(CredentialSuspendedError):
        await verify(city_client, credential, phone, clock)
    resp = await city_client.post(f"/admin/v1/credentials/{item['id']}/reinstate", headers=headers)
    assert [c["state"] for c in (await resp.json())["items"]] == ["valid"]
    await verify(city_client, credential, phone, clock)

    resp = await city_client.post(f"/admin/v1/credentials/{item['id']}/revoke", headers=headers)
    assert resp.status == 200 and [c["state"] for c in (await resp.json())["items"]] == ["revoked"]
    # The served list says revoked, and its digest is the one anchored on chain.
    with pytest.raises(CredentialRevokedError):
        await verify(city_client, credential, phone, clock)
    record = await city_client.server.app[STORE].get_status_list(1)
    issuer = StatusListIssuer.from_json(dict(record.state))
    assert issuer.status(item["status_index"]) == "revoked"
    anchored = await city.trust.status_digest(uri)
    assert anchored is not None and anchored.digest == issuer.digest and anchored.version == issuer.version
    lists = (await (await city_client.get("/admin/v1/status-lists", headers=headers)).json())["items"]
    assert lists[0]["anchored_version"] == lists[0]["version"] == issuer.version and lists[0]["allocated"] == 1
    # Revocation is final.
    resp = await city_client.post(f"/admin/v1/credentials/{item['id']}/reinstate", headers=headers)
    assert resp.status == 400
    resp = await city_client.post("/admin/v1/credentials/icr_nope/revoke", headers=headers)
    assert resp.status == 404
    # Publishing again without a change re-signs but anchors nothing new.
    resp = await city_client.post("/admin/v1/status-lists/publish", headers=headers)
    assert resp.status == 200 and (await resp.json())["items"][0]["anchored_version"] == issuer.version


async def test_batch_copies_share_one_fate(city_client, clock) -> None:
    phone = await new_resident(city_client, clock)
    answer = await (await start_issuance(city_client, phone.resident_id)).json()
    issued = await redeem(city_client, answer["offer"]["offer_uri"], answer["tx_code"], phone, extra_signers=2)
    assert len(issued.credentials) == 3
    indices = {peek(c).unverified_claims["status"]["status_list"]["idx"] for c in issued.credentials}
    assert len(indices) == 3
    headers = admin_headers(ISSUER_TOKEN)
    items = (await (await city_client.get("/admin/v1/credentials", headers=headers)).json())["items"]
    resp = await city_client.post(f"/admin/v1/credentials/{items[0]['id']}/revoke", headers=headers)
    assert {c["state"] for c in (await resp.json())["items"]} == {"revoked"}
    assert len((await resp.json())["items"]) == 3


async def test_roles(city_client, clock) -> None:
    phone = await new_resident(city_client, clock)
    issuer_only = admin_headers(ISSUER_TOKEN)
    operator_only = admin_headers(OPERATOR_TOKEN)
    body = {"issuer": "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK", "credential_type": "urn:t"}
    # An issuer token cannot do operator things …
    for method, path, json_body in [
        ("POST", "/admin/v1/accreditations", body),
        ("POST", "/admin/v1/accreditations/suspend", body),
        ("GET", "/admin/v1/city", None),
        ("POST", "/admin/v1/enrolment-codes", {}),
    ]:
        resp = await city_client.request(method, path, json=json_body, headers=issuer_only)
        assert resp.status == 403 and (await resp.json())["code"] == "forbidden", path
    # … an operator token cannot issue or revoke …
    for method, path in [
        ("POST", "/admin/v1/issuances"),
        ("GET", "/admin/v1/credentials"),
        ("POST", "/admin/v1/credentials/icr_x/revoke"),
        ("POST", "/admin/v1/status-lists/publish"),
        ("GET", "/admin/v1/status-lists"),
    ]:
        resp = await city_client.request(method, path, json={"resident_id": phone.resident_id},
                                         headers=operator_only)
        assert resp.status == 403, path
    # … and a resident's DPoP token reaches no admin route.
    for method, path in [("POST", "/admin/v1/issuances"), ("GET", "/admin/v1/credentials"),
                         ("POST", "/admin/v1/accreditations"), ("GET", "/admin/v1/city")]:
        resp = await phone.call(method, path, json={})
        assert resp.status == 401 and resp.headers["WWW-Authenticate"].startswith("Bearer"), path


async def test_restart_on_the_same_database_continues_the_status_list(
    aiohttp_client, city_settings, clock
) -> None:
    # Status list URIs are part of issued credentials: a restarted server must answer at the same
    # public URL, as it does in production (public_base_url).
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    city_settings = replace(city_settings, public_base_url=f"http://127.0.0.1:{port}")
    first = await aiohttp_client(create_app(city_settings, clock=clock), server_kwargs={"port": port})
    phone = await new_resident(first, clock)
    credential, _ = await issue_to(first, phone)
    headers = admin_headers(ISSUER_TOKEN)
    (item,) = (await (await first.get("/admin/v1/credentials", headers=headers)).json())["items"]
    assert (await first.post(f"/admin/v1/credentials/{item['id']}/revoke", headers=headers)).status == 200
    await first.close()

    second = await aiohttp_client(create_app(city_settings, clock=clock), server_kwargs={"port": port})
    again = Phone(second, clock, key=phone.key, resident_id=phone.resident_id, device_id=phone.device_id)
    await again.login()
    listed = (await (await second.get("/admin/v1/credentials", headers=headers)).json())["items"]
    assert [(c["id"], c["state"]) for c in listed] == [(item["id"], "revoked")]
    fresh, _ = await issue_to(second, again)
    lists = (await (await second.get("/admin/v1/status-lists", headers=headers)).json())["items"]
    assert len(lists) == 1 and lists[0]["allocated"] == 2
    old_idx = peek(credential).unverified_claims["status"]["status_list"]["idx"]
    new_idx = peek(fresh).unverified_claims["status"]["status_list"]["idx"]
    assert old_idx != new_idx
    # The list the new instance serves still says the first credential is revoked.
    record = await second.server.app[STORE].get_status_list(1)
    assert StatusListIssuer.from_json(dict(record.state)).status(old_idx) == "revoked"
    await verify(second, fresh, again, clock)


async def test_a_registry_behind_mutual_tls(aiohttp_client, database, clock, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The city's registry on its private CA, asking for a client certificate: the server's
    kyc_registry_ca_file / _client_cert_file / _client_key_file settings (the SDK client had them)."""
    from tests.tls_fixtures import make_ca

    ca = make_ca(tmp_path / "pki")
    async with LocalResidentRegistry(ssl_context=ca.server_context(require_client_cert=True)) as registry:
        without = make_settings(database, kyc_registry_url=registry.url, city_signing_key=CITY_SIGNING_KEY,
                                kyc_registry_ca_file=str(ca.ca_file))
        client = await aiohttp_client(create_app(without, clock=clock))
        phone = await new_resident(client, clock)
        refused = await start_issuance(client, phone.resident_id)
        assert refused.status == 503 and (await refused.json())["code"] == "resident_registry_unavailable"
        with_cert = replace(without, kyc_registry_client_cert_file=str(ca.client_cert_file),
                            kyc_registry_client_key_file=str(ca.client_key_file))
        client = await aiohttp_client(create_app(with_cert, clock=clock))
        phone = await new_resident(client, clock)
        answer = await (await start_issuance(client, phone.resident_id)).json()
        assert answer["outcome"] == "verified"


async def test_a_refill_racing_a_revocation_leaves_no_valid_copy(city_client, clock) -> None:
    """Both orders of a refill landing while the city revokes the batch: the copy stored between the
    revocation's read and its change is revoked by the revocation's second look; the copy stored
    after the refill's check but before the revocation finished is revoked by the refill's own
    second look, and the refill is refused."""
    issuance = city_client.server.app[ISSUANCE]
    store = issuance._store
    phone = await new_resident(city_client, clock)
    answer = await (await start_issuance(city_client, phone.resident_id)).json()
    issued = await redeem(city_client, answer["offer"]["offer_uri"], answer["tx_code"], phone, extra_signers=1)
    offer_id = answer["offer"]["id"]
    (first, *_) = await store.issued_credentials_of_offer(offer_id)
    context = {"offer_id": offer_id, "resident_id": phone.resident_id, "base_url": str(city_client.make_url(""))}
    # What the credential endpoint passes for a refill: the subject's claims and the back office's context.
    subject = {k: v for k, v in peek(issued.credentials[0]).unverified_claims.items()
               if k not in ("iss", "iat", "exp", "nbf", "vct", "cnf", "status", "_sd_alg")}  # fmt: skip

    async def refill() -> str:
        return await issuance._issue({**subject, _CONTEXT: context}, Key.generate("P-256"))

    async def one_copy_batch() -> tuple[str, Any, dict[str, str]]:
        """A new resident's batch of one copy: its offer, its copy, and what a refill of it carries."""
        phone = await new_resident(city_client, clock)
        answer = await (await start_issuance(city_client, phone.resident_id)).json()
        await redeem(city_client, answer["offer"]["offer_uri"], answer["tx_code"], phone)
        (copy,) = await store.issued_credentials_of_offer(answer["offer"]["id"])
        base = str(city_client.make_url(""))
        return answer["offer"]["id"], copy, {"offer_id": answer["offer"]["id"], "resident_id": phone.resident_id,
                                             "base_url": base}

    # 1. The refill lands between the revocation's read of the batch and its change.
    real_change = issuance._status_lists.change
    landed: list[str] = []

    async def change_after_a_refill(credentials, action):  # type: ignore[no-untyped-def]
        if not landed:
            landed.append(await refill())
        return await real_change(credentials, action)

    issuance._status_lists.change = change_after_a_refill
    try:
        changed = await issuance.change_status(first.id, "revoke")
    finally:
        issuance._status_lists.change = real_change
    states = {c.id: c.state for c in await store.issued_credentials_of_offer(offer_id)}
    assert len(states) == 3 and set(states.values()) == {"revoked"} and len(changed) == 3

    # 2. A refill whose check passed before a revocation and whose copy is stored after it.
    offer_id, first, context = await one_copy_batch()
    real_add = store.add_issued_credential

    async def add_after_a_revocation(credential):  # type: ignore[no-untyped-def]
        await issuance.change_status(first.id, "revoke")
        await real_add(credential)

    store.add_issued_credential = add_after_a_revocation
    try:
        with pytest.raises(ProtocolError) as refused:
            await refill()
    finally:
        store.add_issued_credential = real_add
    assert refused.value.code == "credential_request_denied"
    states = {c.id: c.state for c in await store.issued_credentials_of_offer(offer_id)}
    assert len(states) == 2 and set(states.values()) == {"revoked"}

    # 3. A refill whose check passed before a suspension stores its copy while the city reinstates:
    # it finds the batch still suspended and suspends its copy; the reinstatement's second look
    # reinstates it, so no copy stays behind (and later refills are not refused).
    offer_id, first, context = await one_copy_batch()
    await issuance.change_status(first.id, "suspend")
    real_read = store.issued_credentials_of_offer
    stale = [False]

    async def read(offer: str):  # type: ignore[no-untyped-def]
        if stale[0]:  # the refill's check, made before the suspension
            stale[0] = False
            return ()
        return await real_read(offer)

    async def change_during_a_refill(credentials, action):  # type: ignore[no-untyped-def]
        if action == "reinstate" and not stale[0] and not landed_3:
            landed_3.append(True)
            stale[0] = True
            with pytest.raises(ProtocolError):  # it finds the batch suspended: its copy suspended too
                await refill()
        return await real_change(credentials, action)

    landed_3: list[bool] = []
    store.issued_credentials_of_offer = read
    issuance._status_lists.change = change_during_a_refill
    try:
        await issuance.change_status(first.id, "reinstate")
    finally:
        store.issued_credentials_of_offer = real_read
        issuance._status_lists.change = real_change
    states = {c.id: c.state for c in await store.issued_credentials_of_offer(offer_id)}
    assert landed_3 and len(states) == 2 and set(states.values()) == {"valid"}


async def test_the_service_recipe_consumes_a_nonce_it_is_given_a_store_for(city_client, clock) -> None:
    """``vcsdk.Service.verify`` called on its own: with the store that issued the nonce, a replay of
    the same presentation is refused; the Verifier does this for the OpenID4VP flow."""
    import vcsdk
    from vcsdk.credentials import InMemoryNonceStore, present
    from vcsdk.errors import ReplayedNonceError
    from vcsdk.status import HttpStatusListFetcher

    phone = await new_resident(city_client, clock)
    credential, _ = await issue_to(city_client, phone)
    city = await city_client.server.app[CITY].get()
    nonces = InMemoryNonceStore()
    nonce = await nonces.issue(now=clock())
    vp = present(credential, disclose=[("address", "locality")], holder_signer=phone.key, audience="https://shop.test",
                 nonce=nonce, now=clock())  # fmt: skip
    async with HttpStatusListFetcher(allow_loopback_http=True) as fetcher:
        shop = vcsdk.Service.of(did="did:web:shop.test", key=Key.generate("P-256"), resolver=city.resolver,
                                trust=city.trust, status_source=fetcher)  # fmt: skip
        verified = await shop.verify(vp, audience="https://shop.test", nonce=nonce, now=clock(), nonces=nonces)
        assert verified.claims["address"]["locality"]
        with pytest.raises(ReplayedNonceError):
            await shop.verify(vp, audience="https://shop.test", nonce=nonce, now=clock(), nonces=nonces)
