"""Device authentication over real HTTP: enrolment, challenge login, DPoP, refresh rotation."""

from __future__ import annotations

import secrets
from typing import Any

import pytest

from tests.wallet_server._helpers import Phone, admin_headers, issue_code, new_resident, sd_jwt
from vcsdk.keys import Key, sign_jws


async def problem(resp: Any, status: int, code: str) -> dict[str, Any]:
    assert resp.status == status, await resp.text()
    assert resp.content_type == "application/problem+json"
    body: dict[str, Any] = await resp.json()
    assert body["code"] == code, body
    assert body["status"] == status
    return body


async def add_device(phone: Phone, client, clock) -> Phone:
    """A second phone of ``phone``'s resident, added through ``POST /v1/devices`` and logged in."""
    second = Phone(client, clock, resident_id=phone.resident_id)
    resp = await phone.call("POST", "/v1/devices", json={"public_jwk": second.key.public_jwk(), "name": "tablet"})
    assert resp.status == 201
    second.device_id = (await resp.json())["id"]
    await second.login()
    return second


async def test_full_device_auth_flow(client, clock) -> None:
    code = await issue_code(client)
    phone = Phone(client, clock)
    resp = await phone.enrol(code["code"].lower())  # codes are case- and dash-insensitive
    assert resp.status == 201
    body = await resp.json()
    assert body["resident_id"] == code["resident_id"]
    assert body["device"]["jkt"] == phone.key.thumbprint()
    phone.resident_id, phone.device_id = body["resident_id"], body["device"]["id"]

    challenge = await (await client.post("/v1/auth/challenge")).json()
    assert challenge["audience"] == "https://wallet.test"
    resp = await client.post(
        "/v1/auth/token", json={"device_id": phone.device_id, "assertion": phone.assertion(challenge["nonce"])}
    )
    assert resp.status == 200 and resp.headers["Cache-Control"] == "no-store"
    tokens = await resp.json()
    assert tokens["token_type"] == "DPoP" and tokens["expires_in"] == 300
    phone.take(tokens)

    me = await phone.call("GET", "/v1/me")
    assert me.status == 200
    assert await me.json() == {"resident_id": phone.resident_id, "device_id": phone.device_id}

    # refresh: needs a DPoP proof of the device key; rotates the refresh token
    old_refresh = phone.refresh_token
    resp = await client.post(
        "/v1/auth/refresh",
        json={"refresh_token": old_refresh},
        headers={"DPoP": phone.proof("POST", "/v1/auth/refresh")},
    )
    assert resp.status == 200, await resp.text()
    phone.take(await resp.json())
    assert phone.refresh_token != old_refresh
    assert (await phone.call("GET", "/v1/me")).status == 200

    # the old refresh token again: reuse → the whole family is revoked
    resp = await client.post(
        "/v1/auth/refresh",
        json={"refresh_token": old_refresh},
        headers={"DPoP": phone.proof("POST", "/v1/auth/refresh")},
    )
    await problem(resp, 401, "refresh_token_reused")
    resp = await client.post(
        "/v1/auth/refresh",
        json={"refresh_token": phone.refresh_token},
        headers={"DPoP": phone.proof("POST", "/v1/auth/refresh")},
    )
    await problem(resp, 401, "authentication_failed")


async def test_enrolment_code_is_single_use(client, clock) -> None:
    code = await issue_code(client)
    assert (await Phone(client, clock).enrol(code["code"])).status == 201
    await problem(await Phone(client, clock).enrol(code["code"]), 404, "not_found")


async def test_enrolling_a_known_key_conflicts(client, clock) -> None:
    phone = await new_resident(client, clock)
    code = await issue_code(client)
    twin = Phone(client, clock, key=phone.key)
    await problem(await twin.enrol(code["code"]), 409, "conflict")


async def test_enrolment_refuses_private_and_non_p256_keys(client, clock) -> None:
    code = (await issue_code(client))["code"]
    private = Key.generate("P-256").private_jwk()
    resp = await client.post("/v1/enrolment", json={"code": code, "public_jwk": private, "name": "p"})
    await problem(resp, 400, "invalid_input")
    ed = Key.generate("Ed25519").public_jwk()
    resp = await client.post("/v1/enrolment", json={"code": code, "public_jwk": ed, "name": "p"})
    await problem(resp, 400, "invalid_input")  # the published schema allows EC P-256 only


async def test_stolen_access_token_without_the_device_key_is_refused(client, clock) -> None:
    victim = await new_resident(client, clock)
    thief = Phone(client, clock)  # another key, the victim's token
    thief.access_token = victim.access_token
    # a proof signed with the thief's own key (and its own jwk header)
    await problem(await thief.call("GET", "/v1/me"), 401, "invalid_dpop_proof")
    # a proof with the victim's public jwk in the header but signed by the thief
    forged = thief.proof("GET", "/v1/me", access_token=victim.access_token, key=thief.key).split(".")
    header = sign_jws({"x": 1}, thief.key, typ="dpop+jwt", header={"jwk": victim.key.public_jwk()}).split(".")[0]
    resp = await client.get(
        "/v1/me", headers={"Authorization": f"DPoP {victim.access_token}", "DPoP": ".".join([header, *forged[1:]])}
    )
    await problem(resp, 401, "invalid_dpop_proof")
    # no proof at all, or as a bearer token
    await problem(
        await client.get("/v1/me", headers={"Authorization": f"DPoP {victim.access_token}"}), 401, "invalid_dpop_proof"
    )
    await problem(
        await client.get("/v1/me", headers={"Authorization": f"Bearer {victim.access_token}"}),
        401,
        "authentication_failed",
    )
    resp = await client.get("/v1/me")
    await problem(resp, 401, "authentication_failed")
    assert resp.headers["WWW-Authenticate"].startswith("DPoP")


async def test_dpop_replay_is_refused(client, clock) -> None:
    phone = await new_resident(client, clock)
    headers = phone.auth_headers("GET", "/v1/me")
    assert (await client.get("/v1/me", headers=headers)).status == 200
    await problem(await client.get("/v1/me", headers=headers), 401, "dpop_replay")


async def test_credential_listing_checks_the_proof_in_its_own_query(client, clock) -> None:
    """GET /v1/credentials records the DPoP proof in the listing's round trip: a replayed proof,
    an ended login and a removed device are refused there as everywhere else."""
    phone = await new_resident(client, clock)
    second = await add_device(phone, client, clock)
    headers = phone.auth_headers("GET", "/v1/credentials")
    assert (await client.get("/v1/credentials", headers=headers)).status == 200
    await problem(await client.get("/v1/credentials", headers=headers), 401, "dpop_replay")
    assert (await second.call("GET", "/v1/credentials")).status == 200
    assert (await phone.call("DELETE", f"/v1/devices/{second.device_id}")).status == 204
    await problem(await second.call("GET", "/v1/credentials"), 401, "authentication_failed")
    assert (await phone.call("POST", "/v1/auth/logout", json={"refresh_token": phone.refresh_token})).status == 204
    resp = await phone.call("GET", "/v1/credentials")
    await problem(resp, 401, "authentication_failed")
    assert "logout" in (await resp.json())["detail"]


async def test_credential_upload_checks_the_proof_in_its_own_statement(client, clock) -> None:
    """POST /v1/credentials records the DPoP proof in the statement that stores the credential:
    a replayed proof, a removed device and an ended login store nothing."""
    phone = await new_resident(client, clock)
    second = await add_device(phone, client, clock)

    def body(n: int) -> dict[str, Any]:
        return {"credential": sd_jwt(n), "format": "dc+sd-jwt"}

    headers = phone.auth_headers("POST", "/v1/credentials")
    assert (await client.post("/v1/credentials", json=body(1), headers=headers)).status == 201
    await problem(await client.post("/v1/credentials", json=body(2), headers=headers), 401, "dpop_replay")
    assert (await second.call("POST", "/v1/credentials", json=body(3))).status == 201
    assert (await phone.call("DELETE", f"/v1/devices/{second.device_id}")).status == 204
    await problem(await second.call("POST", "/v1/credentials", json=body(4)), 401, "authentication_failed")
    assert (await phone.call("POST", "/v1/auth/logout", json={"refresh_token": phone.refresh_token})).status == 204
    await problem(await phone.call("POST", "/v1/credentials", json=body(5)), 401, "authentication_failed")
    await phone.login()
    listing = await (await phone.call("GET", "/v1/credentials")).json()
    assert len(listing["items"]) == 2


async def test_a_proof_is_spent_by_a_refused_request_too(client, clock) -> None:
    """The routes that record the DPoP proof in their own statement spend it when they refuse the
    request before that statement (a bad cursor, a malformed credential): the same proof cannot then
    read the listing or store another credential; and a logged-out token is told so, not that its
    input was bad."""
    phone = await new_resident(client, clock)
    good = {"credential": sd_jwt(1), "format": "dc+sd-jwt"}
    headers = phone.auth_headers("POST", "/v1/credentials")
    bad = await client.post("/v1/credentials", json={"credential": "not a token", "format": "dc+sd-jwt"},
                            headers=headers)
    assert bad.status == 400, await bad.text()
    await problem(await client.post("/v1/credentials", json=good, headers=headers), 401, "dpop_replay")

    headers = phone.auth_headers("GET", "/v1/credentials")
    assert (await client.get("/v1/credentials?cursor=not-a-cursor", headers=headers)).status == 400
    await problem(await client.get("/v1/credentials", headers=headers), 401, "dpop_replay")
    assert (await phone.call("GET", "/v1/credentials")).status == 200

    assert (await phone.call("POST", "/v1/auth/logout", json={"refresh_token": phone.refresh_token})).status == 204
    resp = await phone.call("POST", "/v1/credentials", json={"credential": "not a token", "format": "dc+sd-jwt"})
    await problem(resp, 401, "authentication_failed")
    await problem(await phone.call("GET", "/v1/credentials?limit=0"), 401, "authentication_failed")


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({"htm": "POST"}, id="wrong-htm"),
        pytest.param({"htu": "https://evil.example/v1/me"}, id="wrong-htu-host"),
        pytest.param({"htu": "PATH:/v1/devices"}, id="wrong-htu-path"),
        pytest.param({"ath": "x" * 43}, id="wrong-ath"),
        pytest.param({"ath": None}, id="missing-ath"),
        pytest.param({"jti": None}, id="missing-jti"),
        pytest.param({"iat": None}, id="missing-iat"),
        pytest.param({"iat": "OLD"}, id="stale-iat"),
        pytest.param({"iat": "FUTURE"}, id="future-iat"),
        pytest.param({"iat": "1700000000"}, id="string-iat"),
        pytest.param({"iat": True}, id="boolean-iat"),
    ],
)
async def test_dpop_claim_mismatches_are_refused(client, clock, overrides) -> None:
    phone = await new_resident(client, clock)
    now = int(clock().timestamp())
    if overrides.get("iat") == "OLD":
        overrides["iat"] = now - 3600
    if overrides.get("iat") == "FUTURE":
        overrides["iat"] = now + 3600
    if str(overrides.get("htu", "")).startswith("PATH:"):
        overrides["htu"] = phone.url(overrides["htu"][5:])
    resp = await client.get("/v1/me", headers=phone.auth_headers("GET", "/v1/me", **overrides))
    await problem(resp, 401, "invalid_dpop_proof")


async def test_an_htu_mismatch_names_the_url_the_server_expects(client, clock) -> None:
    """Behind a proxy the client and the server disagree on the URL: the answer says which one counts."""
    phone = await new_resident(client, clock)
    resp = await client.get("/v1/me", headers=phone.auth_headers("GET", "/v1/me", htu="https://proxy.example/v1/me"))
    body = await problem(resp, 401, "invalid_dpop_proof")
    assert f"expects htu {phone.url('/v1/me')}" in body["detail"], body


async def test_dpop_proof_shape_is_checked(client, clock) -> None:
    phone = await new_resident(client, clock)
    auth = {"Authorization": f"DPoP {phone.access_token}"}
    claims = {
        "htm": "GET",
        "htu": phone.url("/v1/me"),
        "iat": int(clock().timestamp()),
        "ath": __import__("wallet_server.services.auth", fromlist=["x"]).access_token_hash(phone.access_token),
    }
    cases = {
        "wrong typ": sign_jws(
            {**claims, "jti": secrets.token_urlsafe(9)}, phone.key, typ="jwt", header={"jwk": phone.key.public_jwk()}
        ),
        "no jwk header": sign_jws({**claims, "jti": secrets.token_urlsafe(9)}, phone.key, typ="dpop+jwt"),
        "private jwk header": sign_jws(
            {**claims, "jti": secrets.token_urlsafe(9)},
            phone.key,
            typ="dpop+jwt",
            header={"jwk": phone.key.private_jwk()},
        ),
        "not a jws": "abc.def",
    }
    for name, proof in cases.items():
        resp = await client.get("/v1/me", headers={**auth, "DPoP": proof})
        assert resp.status == 401, name
        assert (await resp.json())["code"] == "invalid_dpop_proof", name
    # two proofs in one request
    headers = [
        ("Authorization", auth["Authorization"]),
        ("DPoP", phone.proof("GET", "/v1/me", access_token=phone.access_token)),
    ]
    headers.append(("DPoP", phone.proof("GET", "/v1/me", access_token=phone.access_token)))
    await problem(await client.get("/v1/me", headers=headers), 401, "invalid_dpop_proof")


async def test_access_token_expires(client, clock) -> None:
    phone = await new_resident(client, clock)
    clock.advance(minutes=6)
    await problem(await phone.call("GET", "/v1/me"), 401, "token_expired")


async def test_forged_and_tampered_access_tokens_are_refused(client, clock) -> None:
    phone = await new_resident(client, clock)
    forger = Key.generate("P-256")
    from tests.wallet_server._helpers import SIGNING_KEY

    claims = {
        "iss": "https://wallet.test",
        "sub": phone.resident_id,
        "dev": phone.device_id,
        "exp": int(clock().timestamp()) + 60,
        "cnf": {"jkt": phone.key.thumbprint()},
    }
    for token in (
        sign_jws(claims, forger, typ="at+jwt", header={"kid": ["not", "a", "string"]}, include_kid=False),
        sign_jws(claims, forger, typ="at+jwt", header={"kid": {"x": 1}}, include_kid=False),
        sign_jws(claims, forger.with_kid(SIGNING_KEY.kid), typ="at+jwt"),
        sign_jws(claims, forger, typ="at+jwt"),
        phone.access_token[:-4] + ("AAAA" if not phone.access_token.endswith("AAAA") else "BBBB"),
        "not-a-token",
    ):
        phone.access_token = token
        await problem(await phone.call("GET", "/v1/me"), 401, "authentication_failed")


async def test_login_failures(client, clock) -> None:
    phone = await new_resident(client, clock)
    other = Key.generate("P-256")

    async def login(assertion: str, device_id: str | None = None) -> Any:
        return await client.post(
            "/v1/auth/token", json={"device_id": device_id or phone.device_id, "assertion": assertion}
        )

    nonce = (await (await client.post("/v1/auth/challenge")).json())["nonce"]
    await problem(await login(phone.assertion(nonce, key=other)), 401, "authentication_failed")
    await problem(await login(phone.assertion(nonce, aud="https://elsewhere")), 401, "authentication_failed")
    await problem(await login(phone.assertion(nonce), device_id="dev_unknown"), 401, "authentication_failed")
    await problem(await login(phone.assertion("never-issued")), 401, "authentication_failed")
    assert (await login(phone.assertion(nonce))).status == 200
    await problem(await login(phone.assertion(nonce)), 401, "authentication_failed")  # nonce is single use
    late = (await (await client.post("/v1/auth/challenge")).json())["nonce"]
    clock.advance(minutes=3)
    await problem(await login(phone.assertion(late)), 401, "authentication_failed")  # expired


async def test_refresh_needs_the_device_key(client, clock) -> None:
    phone = await new_resident(client, clock)
    thief = Key.generate("P-256")
    body = {"refresh_token": phone.refresh_token}
    await problem(await client.post("/v1/auth/refresh", json=body), 401, "invalid_dpop_proof")
    resp = await client.post(
        "/v1/auth/refresh", json=body, headers={"DPoP": phone.proof("POST", "/v1/auth/refresh", key=thief)}
    )
    await problem(resp, 401, "invalid_dpop_proof")
    # the failed attempts did not burn the token
    resp = await client.post("/v1/auth/refresh", json=body, headers={"DPoP": phone.proof("POST", "/v1/auth/refresh")})
    assert resp.status == 200


async def test_removing_a_device_kills_its_tokens(client, clock) -> None:
    phone = await new_resident(client, clock)
    second = await add_device(phone, client, clock)
    assert (await second.call("GET", "/v1/me")).status == 200
    assert (await phone.call("DELETE", f"/v1/devices/{second.device_id}")).status == 204
    await problem(await second.call("GET", "/v1/me"), 401, "authentication_failed")
    resp = await client.post(
        "/v1/auth/refresh",
        json={"refresh_token": second.refresh_token},
        headers={"DPoP": second.proof("POST", "/v1/auth/refresh")},
    )
    await problem(resp, 401, "authentication_failed")
    assert (await phone.call("GET", "/v1/me")).status == 200


async def test_logout_ends_the_login(client, clock) -> None:
    phone = await new_resident(client, clock)
    assert (await phone.call("POST", "/v1/auth/logout", json={"refresh_token": phone.refresh_token})).status == 204
    resp = await client.post(
        "/v1/auth/refresh",
        json={"refresh_token": phone.refresh_token},
        headers={"DPoP": phone.proof("POST", "/v1/auth/refresh")},
    )
    await problem(resp, 401, "authentication_failed")


async def test_logout_ends_the_access_token_at_once(client, clock) -> None:
    """The access token of the login that logged out is refused right after, not when it expires."""
    phone = await new_resident(client, clock)
    other = Phone(client, clock, resident_id=phone.resident_id, device_id=phone.device_id, key=phone.key)
    await other.login()  # a second login of the same device: it is not ended
    old_access = phone.access_token
    assert (await phone.call("GET", "/v1/me")).status == 200
    assert (await phone.call("POST", "/v1/auth/logout", json={"refresh_token": phone.refresh_token})).status == 204
    await problem(await phone.call("GET", "/v1/me"), 401, "authentication_failed")
    assert phone.access_token == old_access  # the same token, well within its lifetime
    assert (await other.call("GET", "/v1/me")).status == 200


async def test_admin_auth_and_roles(client) -> None:
    await problem(await client.post("/admin/v1/enrolment-codes", json={}), 401, "authentication_failed")
    resp = await client.post("/admin/v1/enrolment-codes", json={}, headers=admin_headers("wrong"))
    await problem(resp, 401, "authentication_failed")
    resp = await client.post(
        "/admin/v1/enrolment-codes",
        json={},
        headers=admin_headers(__import__("tests.wallet_server._helpers", fromlist=["x"]).ISSUER_TOKEN),
    )
    await problem(resp, 403, "forbidden")
    resp = await client.get("/admin/v1/residents", headers={"Authorization": "DPoP abc"})
    await problem(resp, 401, "authentication_failed")
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")
