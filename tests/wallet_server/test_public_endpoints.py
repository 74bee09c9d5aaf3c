"""Public endpoints: the OpenID4VCI metadata, status lists with ETag and Cache-Control, the
Universal-Resolver-shaped DID endpoint, accreditation through the admin API, and garbage to every
protocol route (4xx, never 5xx)."""

from __future__ import annotations

import json

import pytest

from tests.oid4vc.test_metadata_conformance import check_as_metadata, check_issuer_metadata
from tests.wallet_server._helpers import ISSUER_TOKEN, OPERATOR_TOKEN, admin_headers, new_resident
from tests.wallet_server.test_http_quality import GARBAGE_BODIES
from vcsdk.credentials import verify_status_list_token
from vcsdk.did import did_key_for
from vcsdk.keys import Key
from wallet_server.appkeys import CITY, STATUS_LISTS

RESOLUTION = 'application/ld+json;profile="https://w3id.org/did-resolution"'
OPS = admin_headers(OPERATOR_TOKEN)


async def test_issuer_metadata(client) -> None:
    base = str(client.make_url("")).rstrip("/")
    meta = await (await client.get("/.well-known/openid-credential-issuer/issuer")).json()
    assert meta["credential_issuer"] == f"{base}/issuer"
    assert meta["credential_endpoint"] == f"{base}/issuer/credential"
    config = meta["credential_configurations_supported"]["ResidentIdentityCredential"]
    assert config["format"] == "dc+sd-jwt" and config["vct"].endswith("/ResidentIdentityCredential")
    auth = await (await client.get("/.well-known/oauth-authorization-server/issuer")).json()
    assert auth["issuer"] == f"{base}/issuer" and auth["token_endpoint"] == f"{base}/issuer/token"
    # The wallet server mounts the SDK's issuer: its metadata conform to OpenID4VCI §12.2.4 and RFC 8414 §2.
    assert check_issuer_metadata(meta, served_at=f"{base}/.well-known/openid-credential-issuer/issuer") == []
    assert check_as_metadata(auth, served_at=f"{base}/.well-known/oauth-authorization-server/issuer") == []
    nonce = await client.post("/issuer/nonce")
    assert nonce.status == 200 and nonce.headers["Cache-Control"] == "no-store"
    assert (await nonce.json())["c_nonce"]


async def test_status_list_served_with_etag_and_cache_control(client, clock) -> None:
    resp = await client.get("/status/1")
    assert resp.status == 404 and (await resp.json())["code"] == "not_found"
    published = await client.post("/admin/v1/status-lists/publish", headers=admin_headers(ISSUER_TOKEN))
    assert (await published.json())["items"] == []
    # A list exists once the first status entry is allocated; serve it.
    await client.server.app[STATUS_LISTS].allocate(base_url=str(client.make_url("")))
    resp = await client.get("/status/1")
    assert resp.status == 200 and resp.content_type == "application/statuslist+jwt"
    assert resp.headers["Cache-Control"] == "public, max-age=300" and resp.headers["ETag"].startswith('"')
    token = await resp.text()
    city = await client.server.app[CITY].get()
    uri = str(client.make_url("/status/1"))
    verify_status_list_token(token, city.signing_key.public_key(), uri=uri, now=clock())
    again = await client.get("/status/1", headers={"If-None-Match": resp.headers["ETag"]})
    assert again.status == 304 and again.headers["ETag"] == resp.headers["ETag"]
    # Tokens older than the ttl are re-signed when served.
    clock.advance(seconds=301)
    fresh = await client.get("/status/1", headers={"If-None-Match": resp.headers["ETag"]})
    assert fresh.status == 200 and fresh.headers["ETag"] != resp.headers["ETag"]
    for bad in ("0", "01", "x", "9999999999", "2"):
        assert (await client.get(f"/status/{bad}")).status == 404


async def test_did_endpoint_resolves_the_city_did(client) -> None:
    city = await (await client.get("/admin/v1/city", headers=OPS)).json()
    assert city["did"].startswith("did:ethr:0x") and set(city["contracts"]) == {
        "EthereumDIDRegistry", "TrustedIssuerRegistry", "AccessReceiptRegistry"}
    resp = await client.get(f"/1.0/identifiers/{city['did']}")
    assert resp.status == 200 and resp.headers["Content-Type"] == RESOLUTION
    result = json.loads(await resp.text())
    assert set(result) == {"didResolutionMetadata", "didDocument", "didDocumentMetadata"}
    document = result["didDocument"]
    assert document["id"] == city["did"]
    assert any(vm["type"] == "Multikey" for vm in document["verificationMethod"])  # the P-256 signing key
    only_doc = await client.get(f"/1.0/identifiers/{city['did']}", headers={"Accept": "application/did+ld+json"})
    assert only_doc.content_type == "application/did+ld+json" and (await only_doc.json())["id"] == city["did"]
    key_did = did_key_for(Key.generate("P-256"))
    resp = await client.get(f"/1.0/identifiers/{key_did}")
    assert resp.status == 200 and json.loads(await resp.text())["didDocument"]["id"] == key_did


@pytest.mark.parametrize(
    ("did", "status", "error"),
    [
        ("not-a-did", 400, "invalidDid"),
        ("did:ethr:0xZZ", 400, "invalidDid"),
        ("did:web:example.com", 400, "methodNotSupported"),
        ("did:ethr:0x1:0x1111111111111111111111111111111111111111", 404, "notFound"),
        ("did:key:zNotMultibase", 400, "invalidDid"),
        ("did:" + "a" * 600, 400, "invalidDid"),
        ("did:ethr:%00", 400, "invalidDid"),
    ],
)
@pytest.mark.matrix
async def test_did_endpoint_errors(client, did, status, error) -> None:
    resp = await client.get(f"/1.0/identifiers/{did}")
    assert resp.status == status, await resp.text()
    body = await resp.json(content_type=None)
    assert resp.content_type == "application/problem+json"
    assert body["didResolutionMetadata"]["error"] == error and body["code"]


async def test_did_endpoint_errors_speak_to_http_callers(client) -> None:
    """No SDK advice ("add it to the resolver's networks") to someone calling a URL."""
    city = await client.server.app[CITY].get()
    chain = hex(int(city.chain.chain_id))
    other = await (await client.get("/1.0/identifiers/did:ethr:0x1:0x" + "11" * 20)).json(content_type=None)
    assert f"did:ethr:{chain}:" in other["detail"] and "resolver" in other["detail"]
    assert "networks" not in other["detail"] and "EthrNetwork" not in other["detail"]
    web_did = await (await client.get("/1.0/identifiers/did:web:example.com")).json(content_type=None)
    assert "did:ethr (on its chain), did:key and did:jwk" in web_did["detail"]
    path = await (await client.get(f"/1.0/identifiers/{city.did}%2Fservice")).json(content_type=None)
    assert path["code"] == "invalid_did" and "GET /1.0/identifiers/<the DID itself>" in path["detail"], path


async def test_did_endpoint_resolves_the_version_asked_for(client) -> None:
    """?versionId= belongs to the DID URL: it was ignored, and the latest version came back."""
    city = await client.server.app[CITY].get()
    latest = json.loads(await (await client.get(f"/1.0/identifiers/{city.did}")).text())
    assert latest["didDocumentMetadata"].get("versionId")
    first = await client.get(f"/1.0/identifiers/{city.did}", params={"versionId": "1"})
    assert first.status == 200, await first.text()
    early = json.loads(await first.text())
    assert early["didDocument"]["verificationMethod"] != latest["didDocument"]["verificationMethod"]
    unknown = await client.get(f"/1.0/identifiers/{city.did}", params={"version": "1"})
    assert unknown.status == 400 and "versionId and versionTime" in (await unknown.json())["detail"]


async def test_accreditation_through_the_admin_api(client) -> None:
    issuer = did_key_for(Key.generate("P-256"))
    ref = {"issuer": issuer, "credential_type": "https://credentials.city.example/LibraryCard"}
    resp = await client.get("/admin/v1/accreditations", params=ref, headers=OPS)
    assert resp.status == 404
    resp = await client.post("/admin/v1/accreditations/suspend", json=ref, headers=OPS)
    assert resp.status == 404
    resp = await client.post("/admin/v1/accreditations", json=ref, headers=OPS)
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["state"] == "accredited"
    city = await client.server.app[CITY].get()
    assert (await city.trust.accreditation(issuer, ref["credential_type"])) is not None
    resp = await client.post("/admin/v1/accreditations/suspend", json=ref, headers=OPS)
    assert (await resp.json())["state"] == "suspended" and (await resp.json())["suspended_since"]
    resp = await client.post("/admin/v1/accreditations/reinstate", json=ref, headers=OPS)
    assert (await resp.json())["state"] == "accredited"
    got = await client.get("/admin/v1/accreditations", params=ref, headers=OPS)
    assert (await got.json())["issuer"] == issuer
    for bad in [
        {**ref, "issuer": "not a did"},
        {**ref, "valid_from": "yesterday"},
        {**ref, "valid_from": "2030-01-01T00:00:00Z", "valid_until": "2029-01-01T00:00:00Z"},
        {**ref, "valid_from": "0001-01-01T00:00:00Z"},
        {**ref, "valid_from": "2030-01-01T00:00:00"},
        {**ref, "credential_type": "a\u0000b"},
    ]:
        resp = await client.post("/admin/v1/accreditations", json=bad, headers=OPS)
        assert resp.status == 400, (bad, await resp.text())


PROTOCOL_ROUTES = [
    ("GET", "/.well-known/openid-credential-issuer/issuer"),
    ("GET", "/.well-known/oauth-authorization-server/issuer"),
    ("GET", "/issuer/credential-offer/abc"),
    ("POST", "/issuer/token"),
    ("POST", "/issuer/nonce"),
    ("POST", "/issuer/credential"),
    ("POST", "/issuer/notification"),
    ("GET", "/status/1"),
    ("GET", "/1.0/identifiers/did:ethr:0x1"),
]


@pytest.mark.parametrize(("method", "path"), PROTOCOL_ROUTES, ids=[f"{m} {p}" for m, p in PROTOCOL_ROUTES])
@pytest.mark.matrix
async def test_garbage_to_protocol_routes_gives_4xx(client, clock, method, path) -> None:
    phone = await new_resident(client, clock)
    bodies = [*GARBAGE_BODIES, ("application/x-www-form-urlencoded", b"grant_type=x&grant_type=y"),
              ("application/x-www-form-urlencoded", b"pre-authorized_code=%FF&grant_type=" + b"A" * 5000)]
    for content_type, body in bodies:
        for headers in ({}, {"Authorization": "Bearer " + "A" * 2000}, {"Authorization": "Bearer x"},
                        phone.auth_headers(method, path)):
            resp = await client.request(method, path, data=body, headers={"Content-Type": content_type, **headers})
            assert resp.status < 500, (content_type, body[:30], await resp.text())
            if resp.status >= 400 and path.startswith("/issuer/"):
                error = await resp.json()
                assert error["error"] and "Traceback" not in json.dumps(error)


async def test_deactivated_did_is_410_with_its_resolution_result(client) -> None:
    from vcsdk.registry import key_address

    city = await client.server.app[CITY].get()
    owner = city.chain.dev_keys[1]  # type: ignore[attr-defined]
    identity = key_address(owner)
    await city.ethr.deactivate(identity, sender=owner)
    did = f"did:ethr:{hex(int(city.chain.chain_id))}:{identity}"
    resp = await client.get(f"/1.0/identifiers/{did}")
    assert resp.status == 410 and resp.headers["Content-Type"] == RESOLUTION
    result = json.loads(await resp.text())
    assert result["didDocumentMetadata"]["deactivated"] is True and result["didDocument"]["id"] == did
