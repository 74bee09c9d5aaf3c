"""The admin routes the city console needs: who the token is, and where receipt anchoring stands."""

from __future__ import annotations

from pathlib import Path

from tests.chain_fixtures import mine
from tests.e2e._parties import PURPOSE_ID, query, world
from tests.e2e.test_oid4vc_http import accept_offer, answer
from tests.wallet_server._helpers import ISSUER_TOKEN, OPERATOR_TOKEN, admin_headers, new_resident
from wallet_server.appkeys import RECEIPTS


async def test_me_names_the_token_and_its_roles(client, clock) -> None:
    for token, name, roles in ((OPERATOR_TOKEN, "ops", ["operator"]), (ISSUER_TOKEN, "iss", ["issuer"])):
        resp = await client.get("/admin/v1/me", headers=admin_headers(token))
        assert resp.status == 200 and resp.headers["Cache-Control"] == "no-store"
        assert await resp.json() == {"name": name, "roles": roles}
    for headers in ({}, {"Authorization": "Bearer not-a-token"}, {"Authorization": "Basic abc"}):
        resp = await client.get("/admin/v1/me", headers=headers)
        assert resp.status == 401 and (await resp.json())["code"] == "authentication_failed"
        assert resp.headers["WWW-Authenticate"].startswith("Bearer")
    phone = await new_resident(client, clock)  # a resident's DPoP token is no admin token
    resp = await client.get("/admin/v1/me", headers=phone.auth_headers("GET", "/admin/v1/me"))
    assert resp.status == 401


async def test_anchoring_needs_the_operator_role(client) -> None:
    resp = await client.get("/admin/v1/receipts/anchoring", headers=admin_headers(ISSUER_TOKEN))
    assert resp.status == 403 and (await resp.json())["code"] == "forbidden"
    resp = await client.get("/admin/v1/receipts/anchoring", headers=admin_headers(OPERATOR_TOKEN))
    assert resp.status == 200
    assert await resp.json() == {
        "queued": 0, "open_batches": 0, "batches": [], "batch_size": 256, "max_age_seconds": 300, "confirmations": 12,
    }


async def test_anchoring_follows_a_receipt_from_queue_to_final(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        issued = await accept_offer(w, await w.issue_offer())
        request = await w.service.verifier.create_request(
            query(issued["credential"]["vct"]), purpose=PURPOSE_ID, now=w.clock()
        )
        await answer(w, request.deep_link)

        async def overview() -> dict:
            async with w.session.get(
                f"{w.wallet_url}/admin/v1/receipts/anchoring", headers=admin_headers(OPERATOR_TOKEN)
            ) as resp:
                assert resp.status == 200
                return await resp.json()

        start = await overview()
        assert (start["queued"], start["open_batches"], start["batches"]) == (1, 0, [])
        await w.wallet[RECEIPTS].tick()
        sent = await overview()
        (batch,) = sent["batches"]
        assert (sent["queued"], sent["open_batches"], batch["size"], batch["attempts"]) == (0, 1, 1, 1)
        assert batch["state"] != "final" and batch["tx_hash"].startswith("0x") and batch["root"].startswith("0x")
        await mine(w.city.chain, 1)
        await w.wallet[RECEIPTS].tick()
        final = await overview()
        (batch,) = final["batches"]
        assert (final["open_batches"], batch["state"]) == (0, "final")
        assert batch["block_number"] >= 1 and batch["final_at"]
        assert "rcpt" not in str(final)  # counts and batches only: no receipt ids or contents
