"""Resident routes: credentials with pagination and ETags, devices, and IDOR refusals per route."""

from __future__ import annotations

import json
from typing import Any

from tests.wallet_server._helpers import CITY_DID, Phone, admin_headers, issue_code, new_resident, sd_jwt
from wallet_server.appkeys import STORE

SD_JWT = sd_jwt()


async def store_credential(phone: Phone, n: int = 0, **extra: Any) -> dict[str, Any]:
    body = {"credential": sd_jwt(n), "format": "dc+sd-jwt", "metadata": {"display": f"card {n}"}, **extra}
    resp = await phone.call("POST", "/v1/credentials", json=body)
    assert resp.status == 201, await resp.text()
    result: dict[str, Any] = await resp.json()
    assert resp.headers["Location"] == f"/v1/credentials/{result['id']}"
    return {**result, "_token": body["credential"]}


async def test_store_get_list_delete(client, clock) -> None:
    phone = await new_resident(client, clock)
    created = await store_credential(phone)
    assert set(created) == {"id", "format", "created_at", "metadata", "issuer", "vct", "_token"}
    assert (created["issuer"], created["vct"]) == (CITY_DID, "urn:city:resident")  # read with peek, unverified
    got = await phone.call("GET", f"/v1/credentials/{created['id']}")
    assert got.status == 200
    body = await got.json()
    assert body["credential"] == created["_token"] and body["metadata"] == {"display": "card 0"}
    listing = await (await phone.call("GET", "/v1/credentials")).json()
    assert [c["id"] for c in listing["items"]] == [created["id"]] and listing["next_cursor"] is None
    assert "credential" not in listing["items"][0]
    assert (await phone.call("DELETE", f"/v1/credentials/{created['id']}")).status == 204
    assert (await phone.call("GET", f"/v1/credentials/{created['id']}")).status == 404
    assert (await phone.call("DELETE", f"/v1/credentials/{created['id']}")).status == 404


async def test_credentials_are_encrypted_at_rest(client, clock) -> None:
    phone = await new_resident(client, clock)
    created = await store_credential(phone, metadata={"display": "Voting card"})
    row = await client.app[STORE].get_credential(phone.resident_id, created["id"])
    token = created["_token"].encode()
    assert all(token[i : i + 16] not in row.ciphertext for i in range(0, len(token) - 16, 16))
    assert b"Voting" not in row.ciphertext
    assert CITY_DID.encode() not in row.ciphertext
    resident = await client.app[STORE].get_resident(phone.resident_id)
    assert resident.wrap_key_id == "k1" and len(resident.wrapped_key) == 12 + 32 + 16


async def test_cursor_pagination(client, clock) -> None:
    phone = await new_resident(client, clock)
    ids = [(await store_credential(phone, n))["id"] for n in range(5)]
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        path = "/v1/credentials?limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = await (await phone.call("GET", path)).json()
        seen += [c["id"] for c in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(ids) and len(seen) == 5 and pages == 3
    for bad in ("limit=0", "limit=101", "limit=abc", "limit=-1", "cursor=garbage", "cursor=WzEsMl0"):
        resp = await phone.call("GET", f"/v1/credentials?{bad}")
        assert resp.status == 400, bad
        assert (await resp.json())["code"] == "invalid_input"


async def test_etags_and_if_none_match(client, clock) -> None:
    phone = await new_resident(client, clock)
    created = await store_credential(phone)
    first = await phone.call("GET", f"/v1/credentials/{created['id']}")
    etag = first.headers["ETag"]
    assert etag.startswith('"') and first.headers["Cache-Control"] == "private, no-cache"
    again = await phone.call("GET", f"/v1/credentials/{created['id']}", headers={"If-None-Match": etag})
    assert again.status == 304 and again.headers["ETag"] == etag
    weak = await phone.call("GET", f"/v1/credentials/{created['id']}", headers={"If-None-Match": f'"x", W/{etag}'})
    assert weak.status == 304
    other = await phone.call("GET", f"/v1/credentials/{created['id']}", headers={"If-None-Match": '"nope"'})
    assert other.status == 200
    listing = await phone.call("GET", "/v1/credentials")
    list_etag = listing.headers["ETag"]
    assert (await phone.call("GET", "/v1/credentials", headers={"If-None-Match": list_etag})).status == 304
    await store_credential(phone, 1)
    assert (await phone.call("GET", "/v1/credentials", headers={"If-None-Match": list_etag})).status == 200


async def test_credential_listing_is_canonical_json(client, clock) -> None:
    """The listing, assembled from summaries encoded once, is the compact sorted-keys JSON every
    other answer is (so its ETag is that of the content), on every page and on repeat."""
    phone = await new_resident(client, clock)
    for n in range(3):
        await store_credential(phone, n)
    for path in ("/v1/credentials?limit=2", "/v1/credentials?limit=2", "/v1/credentials?limit=5"):
        raw = await (await phone.call("GET", path)).read()
        assert raw == json.dumps(json.loads(raw), separators=(",", ":"), sort_keys=True).encode()
    page = json.loads(raw)
    assert len(page["items"]) == 3 and page["next_cursor"] is None
    cursor = json.loads(await (await phone.call("GET", "/v1/credentials?limit=1")).read())["next_cursor"]
    assert isinstance(cursor, str)


async def test_store_credential_validation(client, clock) -> None:
    phone = await new_resident(client, clock)
    for body in (
        {"format": "dc+sd-jwt"},
        {"credential": SD_JWT, "format": "mdoc"},
        {"credential": "has spaces in it", "format": "dc+sd-jwt"},
        {"credential": "not.an.sd-jwt~", "format": "dc+sd-jwt"},
        {"credential": SD_JWT, "format": "vc+jwt"},
        {"credential": SD_JWT, "format": "dc+sd-jwt", "metadata": ["not", "an", "object"]},
        {"credential": SD_JWT, "format": "dc+sd-jwt", "metadata": {"big": "x" * 9000}},
        {"credential": 12, "format": "dc+sd-jwt"},
    ):
        resp = await phone.call("POST", "/v1/credentials", json=body)
        assert resp.status == 400, body



async def test_store_credential_refuses_whitespace_and_non_ascii(client, clock) -> None:
    # Every character str.isspace() finds in ASCII, and a non-ASCII one, anywhere in the token.
    phone = await new_resident(client, clock)
    cut = SD_JWT.index("~")
    for char in "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f é":
        for token in (char + SD_JWT, SD_JWT[:cut] + char + SD_JWT[cut:], SD_JWT + char):
            resp = await phone.call("POST", "/v1/credentials", json={"credential": token, "format": "dc+sd-jwt"})
            problem = await resp.json()
            assert resp.status == 400 and problem["code"] == "invalid_input", (char, problem)
            assert "ASCII without whitespace" in problem["detail"], (char, problem)
    assert (await (await phone.call("GET", "/v1/credentials")).json())["items"] == []

async def test_devices_list_add_remove(client, clock) -> None:
    phone = await new_resident(client, clock)
    second = Phone(client, clock)
    resp = await phone.call("POST", "/v1/devices", json={"public_jwk": second.key.public_jwk(), "name": "tablet"})
    assert resp.status == 201
    listing = await (await phone.call("GET", "/v1/devices")).json()
    assert sorted(d["name"] for d in listing["items"]) == ["phone", "tablet"]
    assert (
        await phone.call("POST", "/v1/devices", json={"public_jwk": second.key.public_jwk(), "name": "x"})
    ).status == 409
    # a phone may remove itself; its own token dies with it
    assert (await phone.call("DELETE", f"/v1/devices/{phone.device_id}")).status == 204
    assert (await phone.call("GET", "/v1/devices")).status == 401


async def test_second_enrolment_code_adds_a_device_for_the_same_resident(client, clock) -> None:
    phone = await new_resident(client, clock)
    code = await issue_code(client, phone.resident_id)
    new_phone = Phone(client, clock)
    resp = await new_phone.enrol(code["code"], name="new phone")
    assert (await resp.json())["resident_id"] == phone.resident_id
    resp = await client.post("/admin/v1/enrolment-codes", json={"resident_id": "res_missing"}, headers=admin_headers())
    assert resp.status == 404


# -- IDOR: resident B against every route that names A's objects ---------------------------------


async def test_idor_credentials(client, clock) -> None:
    alice = await new_resident(client, clock)
    bob = await new_resident(client, clock)
    secret = await store_credential(alice)
    path = f"/v1/credentials/{secret['id']}"
    assert (await bob.call("GET", path)).status == 404
    assert (await bob.call("GET", path, headers={"If-None-Match": "*"})).status == 404
    assert (await bob.call("DELETE", path)).status == 404
    listing = await (await bob.call("GET", "/v1/credentials")).json()
    assert listing["items"] == []
    # alice's cursor handed to bob pages through bob's own credentials only
    for n in range(3):
        await store_credential(alice, n + 1)
    page = await (await alice.call("GET", "/v1/credentials?limit=1")).json()
    stolen = await (await bob.call("GET", f"/v1/credentials?cursor={page['next_cursor']}")).json()
    assert stolen["items"] == []
    assert (await alice.call("GET", path)).status == 200


async def test_idor_devices(client, clock) -> None:
    alice = await new_resident(client, clock)
    bob = await new_resident(client, clock)
    assert (await bob.call("DELETE", f"/v1/devices/{alice.device_id}")).status == 404
    bob_devices = await (await bob.call("GET", "/v1/devices")).json()
    assert [d["id"] for d in bob_devices["items"]] == [bob.device_id]
    assert (await alice.call("GET", "/v1/me")).status == 200


async def test_idor_logout(client, clock) -> None:
    alice = await new_resident(client, clock)
    bob = await new_resident(client, clock)
    resp = await bob.call("POST", "/v1/auth/logout", json={"refresh_token": alice.refresh_token})
    assert resp.status == 404
    resp = await client.post(
        "/v1/auth/refresh",
        json={"refresh_token": alice.refresh_token},
        headers={"DPoP": alice.proof("POST", "/v1/auth/refresh")},
    )
    assert resp.status == 200


async def test_idor_access_token_of_one_resident_with_proof_of_another(client, clock) -> None:
    alice = await new_resident(client, clock)
    bob = await new_resident(client, clock)
    # bob presents alice's token with a valid proof of his own key: cnf.jkt binds it to alice's device
    headers = {
        "Authorization": f"DPoP {alice.access_token}",
        "DPoP": bob.proof("GET", "/v1/me", access_token=alice.access_token),
    }
    assert (await client.get("/v1/me", headers=headers)).status == 401


async def test_admin_lists_residents_metadata_only(client, clock) -> None:
    await new_resident(client, clock)
    await new_resident(client, clock)
    await new_resident(client, clock)
    page = await (await client.get("/admin/v1/residents?limit=2", headers=admin_headers())).json()
    assert len(page["items"]) == 2 and page["next_cursor"]
    assert all(set(r) == {"id", "status", "created_at"} for r in page["items"])
    rest = await (await client.get(f"/admin/v1/residents?cursor={page['next_cursor']}", headers=admin_headers())).json()
    assert len(rest["items"]) == 1 and rest["next_cursor"] is None
