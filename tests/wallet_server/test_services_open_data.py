"""Registered services and open-data releases through the admin API, on SQLite and PostgreSQL.

A registration is signed by the city's P-256 key on its DID and verifies as the wallet verifies it;
an open-data release lists every registered cell, spends epsilon from its month's budget, refuses
to pass it (also when two exports race for the last of it) and never goes below k = 10.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.e2e._parties import PURPOSE, PURPOSE_ID, query, world
from tests.e2e.test_oid4vc_http import accept_offer, answer
from tests.wallet_server._helpers import ISSUER_TOKEN, OPERATOR_TOKEN, admin_headers
from vcsdk.registration import verify_registration
from wallet_server.appkeys import CITY

VCT = "https://credentials.city.example/ResidentIdentityCredential"


def registration_body(did: str = "did:jwk:eyJrdHkiOiJFQyJ9", **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "service_did": did,
        "name": "Kaga Onsen Shop",
        "purposes": [{"id": "age-check", "description": PURPOSE}],
        "claim_sets": [
            {"id": "age", "vct": VCT, "paths": [["age_equal_or_over", "20"]]},
            {"id": "city", "vct": VCT, "paths": [["address", "locality"]]},
        ],
        "retention_days": 30,
        "receipt_endpoint": "https://shop.example/receipts",
        "privacy_policy": "https://shop.example/privacy",
        "jurisdiction": "JP-17",
    }
    body.update(overrides)
    return body


async def test_a_registration_is_signed_by_the_city_and_listed(client) -> None:
    resp = await client.post("/admin/v1/services", json=registration_body(), headers=admin_headers(OPERATOR_TOKEN))
    assert resp.status == 201, await resp.text()
    made = await resp.json()
    assert resp.headers["Location"] == f"/admin/v1/services/{made['id']}"
    assert made["claim_sets"][1] == {"id": "city", "vct": VCT, "paths": [["address", "locality"]]}
    assert made["created_by"] == "ops" and made["jurisdiction"] == "JP-17"
    city = await client.server.app[CITY].get()
    verified = verify_registration(
        made["registration"], city_did=city.did, city_key=city.signing_key.public_key(), now=datetime.now(UTC)
    )
    assert verified.service_did == made["service_did"] and verified.purpose("age-check") is not None
    listing = await (await client.get("/admin/v1/services", headers=admin_headers(OPERATOR_TOKEN))).json()
    assert [s["id"] for s in listing["items"]] == [made["id"]] and listing["next_cursor"] is None


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"service_did": "not-a-did"}, "invalid_input"),
        ({"receipt_endpoint": "http://shop.example/receipts"}, "invalid_input"),
        ({"jurisdiction": "Japan"}, "invalid_input"),
        ({"purposes": []}, "invalid_input"),
        ({"claim_sets": [{"id": "x", "vct": VCT, "paths": []}]}, "invalid_input"),
        ({"retention_days": -1}, "invalid_input"),
        ({"purposes": [{"id": "a", "description": "x"}, {"id": "a", "description": "y"}]}, "invalid_input"),
    ],
)
@pytest.mark.matrix
async def test_a_bad_registration_is_refused(client, change: dict[str, Any], code: str) -> None:
    resp = await client.post(
        "/admin/v1/services", json=registration_body(**change), headers=admin_headers(OPERATOR_TOKEN)
    )
    assert resp.status == 400 and (await resp.json())["code"] == code
    listing = await (await client.get("/admin/v1/services", headers=admin_headers(OPERATOR_TOKEN))).json()
    assert listing["items"] == []


async def test_services_and_open_data_are_the_operators(client) -> None:
    for method, path in (("GET", "/admin/v1/services"), ("GET", "/admin/v1/open-data/releases"),
                         ("GET", "/admin/v1/open-data/ledger")):
        resp = await client.request(method, path, headers=admin_headers(ISSUER_TOKEN))
        assert resp.status == 403, path
    resp = await client.post("/admin/v1/services", json=registration_body(), headers=admin_headers(ISSUER_TOKEN))
    assert resp.status == 403


async def export(client, period: str, epsilon: float, **extra: Any) -> Any:
    return await client.post(
        "/admin/v1/open-data/releases", json={"period": period, "epsilon": epsilon, **extra},
        headers=admin_headers(OPERATOR_TOKEN),
    )


async def test_releases_spend_the_months_budget_and_never_more(client) -> None:
    period = datetime.now(UTC).strftime("%Y-%m")
    resp = await export(client, period, 0.5)
    assert resp.status == 400 and "registered" in (await resp.json())["detail"]  # no cells without services
    await client.post("/admin/v1/services", json=registration_body(), headers=admin_headers(OPERATOR_TOKEN))
    for k in (9, 0):
        assert (await export(client, period, 0.5, k_threshold=k)).status == 400
    first = await export(client, period, 0.6)
    assert first.status == 201, await first.text()
    release = await first.json()
    assert (release["id"], release["seq"], release["epsilon"], release["k_threshold"]) == (
        f"access-{period}-1", 1, "0.6", 10,
    )
    statistics = release["statistics"]
    assert statistics["parameters"]["epsilon"] == 0.6 and statistics["parameters"]["k_threshold"] == 10
    assert [c["claim_set"] for c in statistics["cells"]] == ["age", "city"]  # every registered cell
    assert all(c["suppressed"] and c["count"] is None for c in statistics["cells"])  # nothing near k
    over = await export(client, period, 0.5)  # 0.6 + 0.5 > 1.0
    assert over.status == 409 and (await over.json())["code"] == "privacy_budget_exceeded"
    # Two exports race for the last 0.4: the month's ledger keeps each place once, so one wins.
    answers = await asyncio.gather(export(client, period, 0.4), export(client, period, 0.4))
    assert sorted(a.status for a in answers) == [201, 409]
    ledger = await (await client.get("/admin/v1/open-data/ledger", headers=admin_headers(OPERATOR_TOKEN))).json()
    assert ledger["budget_per_period"] == "1" and [e["epsilon"] for e in ledger["entries"]] == ["0.6", "0.4"]
    listing = await (await client.get("/admin/v1/open-data/releases", headers=admin_headers(OPERATOR_TOKEN))).json()
    assert [r["seq"] for r in listing["items"]] == [1, 2]
    assert (await export(client, "2026-13", 0.1)).status == 400


async def test_a_release_lists_the_cells_of_the_services_registered_that_month(tmp_path: Path) -> None:
    """With a real service, its receipt in the outbox: the cells are the registration's claim sets
    (one the receipt falls in, one it does not), decided by the registrations alone."""
    async with world(tmp_path) as w:
        issued = await accept_offer(w, await w.issue_offer())
        vct = issued["credential"]["vct"]
        headers = admin_headers(OPERATOR_TOKEN)
        body = registration_body(w.service.did, claim_sets=[
            {"id": "age", "vct": vct, "paths": [["age_equal_or_over"]]},
            {"id": "street", "vct": vct, "paths": [["address", "street_address"]]},
        ])
        async with w.session.post(f"{w.wallet_url}/admin/v1/services", json=body, headers=headers) as resp:
            assert resp.status == 201
        request = await w.service.verifier.create_request(query(vct), purpose=PURPOSE_ID, now=w.clock())
        await answer(w, request.deep_link)
        period = w.clock().strftime("%Y-%m")
        async with w.session.post(
            f"{w.wallet_url}/admin/v1/open-data/releases", json={"period": period, "epsilon": 1.0}, headers=headers
        ) as resp:
            assert resp.status == 201
            cells = (await resp.json())["statistics"]["cells"]
        assert [(c["service"], c["claim_set"]) for c in cells] == [(w.service.did, "age"), (w.service.did, "street")]
