"""An election run from the wallet server's admin API, end to end over HTTP on 127.0.0.1: the city
creates it, commits its token key on chain and opens it; a resident's phone receives the
eligibility credential through its wallet (registry check over SOAP, OpenID4VCI), then, as the SDK's
voter functions do, checks the key against the chain, blinds a serial, gets the blind signature from
the city's token issuer and casts the ballot directly at the voting service; the city closes,
fetches the publication and keeps the tally it verified against the chain. Refusals are typed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests._net import free_port
from tests.e2e._parties import ACTIVE, World, identity, world
from tests.e2e._voting import ballot_box, fund, new_service_key, voting_service_url
from tests.e2e.test_oid4vc_http import accept_offer
from tests.wallet_server._helpers import ISSUER_TOKEN, OPERATOR_TOKEN
from vcsdk.credentials import present
from vcsdk.errors import TokenAlreadyIssuedError
from vcsdk.oid4vc import send
from vcsdk.voting import (
    ELIGIBILITY_CLAIMS,
    BallotAnchor,
    begin_token,
    cast_request,
    election_request,
    parse_cast_answer,
    parse_election_answer,
    parse_token_answer,
    parse_token_nonce,
    prepare_ballot,
    token_nonce_request,
    token_request,
)


def real_clock() -> datetime:
    return datetime.now(UTC)


def election_body(election_id: str, service_url: str, *, opens_in: timedelta = timedelta(minutes=10)) -> dict[str, Any]:
    opens = datetime.now(UTC).replace(microsecond=0) + opens_in
    return {
        "election_id": election_id,
        "title": "Kaga city referendum 2027",
        "choices": ["Yes", "No"],
        "districts": [{"district": "kaga", "city": ACTIVE.address.city, "postal_code_prefixes": []}],
        "election_day": (opens + timedelta(days=1)).date().isoformat(),
        "opens_at": opens.isoformat(),
        "closes_at": (opens + timedelta(hours=12)).isoformat(),
        "voting_service_url": service_url,
        "voting_service_name": "Kaga internet voting",
    }


async def call(w: World, method: str, path: str, body: Any = None, *, token: str = OPERATOR_TOKEN) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}"}
    async with w.session.request(method, w.wallet_url + path, json=body, headers=headers) as resp:
        return resp.status, await resp.json()


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
async def test_an_election_from_creation_to_the_verified_tally(tmp_path: Path, backend: str) -> None:
    async with world(tmp_path, backend, clock=real_clock) as w:
        port = free_port()
        election_id = "kaga-2027-referendum"
        service_url = voting_service_url(port, election_id)

        # -- the operator creates it; the keys are the server's, sealed; nothing is on chain yet
        status, created = await call(w, "POST", "/admin/v1/elections", election_body(election_id, service_url))
        assert status == 201, created
        assert created["state"] == "draft" and created["anchor"] is None and len(created["token_keys"]) == 1
        assert created["token_issuer"] == f"{w.wallet_url}/voting/{election_id}/ballot-tokens"
        status, again = await call(w, "POST", "/admin/v1/elections", election_body(election_id, service_url))
        assert status == 409 and again["code"] == "conflict", again
        # tokens are not issued before the election is open
        async with w.session.post(f"{created['token_issuer']}/nonce") as resp:
            assert resp.status == 409 and (await resp.json())["error"] == "election_state"

        # -- commit on chain, allowing the voting service's account to anchor ballots
        service_key = new_service_key()
        anchorer = await fund(w.city.chain, service_key)
        status, committed = await call(w, "POST", f"/admin/v1/elections/{election_id}/commit", {"anchorer": anchorer})
        assert status == 200, committed
        assert committed["state"] == "committed"
        contract = committed["anchor"]["contract"]
        status, twice = await call(w, "POST", f"/admin/v1/elections/{election_id}/commit", {})
        assert status == 409 and twice["code"] == "election_state"
        status, _ = await call(w, "POST", f"/admin/v1/elections/{election_id}/open", token=ISSUER_TOKEN)
        assert status == 403  # an issuer does not run elections
        status, opened = await call(w, "POST", f"/admin/v1/elections/{election_id}/open")
        assert status == 200 and opened["state"] == "open"

        # the public description is what the voting service is configured from
        async with w.session.get(f"{w.wallet_url}/voting/{election_id}") as resp:
            public = await resp.json()
        assert public["anchor"]["contract"] == contract and public["token_keys"] == committed["token_keys"]
        async with ballot_box(tmp_path, w.city.chain, service_key, public, port=port) as box:
            # -- an issuer checks the resident against the registry and offers the eligibility credential
            path = f"/admin/v1/elections/{election_id}/eligibility-offers"
            wrong = {**identity(), "birthdate": "1999-01-01"}
            status, refused = await call(w, "POST", path, wrong, token=ISSUER_TOKEN)
            assert status == 200 and refused == {"outcome": "not_eligible", "reason": "no_match", "offer_uri": None,
                                                 "tx_code": None, "district": None}
            status, bad = await call(w, "POST", path, {**identity(), "birthdate": "yesterday"}, token=ISSUER_TOKEN)
            assert status == 400 and bad["code"] == "invalid_input", bad
            status, offered = await call(w, "POST", path, identity(), token=ISSUER_TOKEN)
            assert status == 200 and offered["outcome"] == "offered" and offered["district"] == "kaga", offered

            # -- the phone scans the offer link into its wallet and accepts it with the PIN
            status, scanned = await w.phone.call("POST", "/v1/offers", {"offer_uri": offered["offer_uri"]})
            assert status == 201, scanned
            stored = await accept_offer(w, offered["tx_code"])
            status, full = await w.phone.call("GET", f"/v1/credentials/{stored['credential']['id']}")
            assert status == 200 and full["vct"].endswith("VotingEligibilityCredential"), full
            credential = full["credential"]

            # -- the device: the key against the chain, a blinded serial, the city's blind signature
            info = parse_election_answer(await send(w.session, election_request(box.base)))
            key = info.token_keys[None]
            committed_key = await BallotAnchor(w.city.chain, info.contract).committed_token_key(key)
            pending = begin_token(key, election=info.election, district=None, committed=committed_key)
            tokens_url = public["token_issuer"]

            async def ask(pending: Any) -> Any:
                nonce = parse_token_nonce(await send(w.session, token_nonce_request(tokens_url)))
                vp = present(credential, disclose=ELIGIBILITY_CLAIMS, holder_signer=w.phone.key, audience=tokens_url,
                             nonce=nonce, now=real_clock())
                return await send(w.session, token_request(tokens_url, pending, presentation=vp, nonce=nonce))

            token = parse_token_answer(await ask(pending), pending)
            second = begin_token(key, election=info.election, district=None, committed=committed_key)
            with pytest.raises(TokenAlreadyIssuedError):
                parse_token_answer(await ask(second), second)

            # -- the ballot goes to the voting service directly
            box.open()
            ballot = prepare_ballot(info.election, "Yes")
            receipt = parse_cast_answer(await send(w.session, cast_request(box.base, token, ballot)), ballot)
            assert receipt.choice == "Yes"

            # -- publish before the service did: refused, nothing kept
            status, closed = await call(w, "POST", f"/admin/v1/elections/{election_id}/close")
            assert status == 200 and closed["state"] == "closed"
            async with w.session.post(f"{tokens_url}/nonce") as resp:
                assert resp.status == 409  # no more tokens
            status, early = await call(w, "POST", f"/admin/v1/elections/{election_id}/publish")
            assert status == 409 and early["code"] == "voting_open", early
            await box.close()
            status, published = await call(w, "POST", f"/admin/v1/elections/{election_id}/publish")
            assert status == 200, published
            assert published["state"] == "published"
            assert published["tally"]["counts"] == {"Yes": 1, "No": 0}
            assert published["tally"]["ballots"] == 1

        # -- what the city's database holds about the election: no serial, no token, no ballot
        async with w.session.get(f"{w.wallet_url}/voting/{election_id}") as resp:
            assert (await resp.json())["tally"]["counts"] == {"Yes": 1, "No": 0}
        held = b"".join(p.read_bytes() for p in tmp_path.glob("wallet.db*"))
        assert held or backend == "postgres"
        for secret in (token.serial, token.signature, token.to_json()["serial"].encode(),
                       token.to_json()["signature"].encode(), ballot.salt):
            assert secret not in held


async def test_election_input_and_state_errors_are_typed(tmp_path: Path) -> None:
    async with world(tmp_path, clock=real_clock) as w:
        url = voting_service_url(free_port(), "x")
        body = election_body("kaga-bad", url)
        for broken, code in (
            ({**body, "opens_at": (datetime.now(UTC) - timedelta(hours=1)).isoformat()}, "invalid_input"),
            ({**body, "choices": ["Yes"]}, "invalid_input"),
            ({**body, "closes_at": body["opens_at"]}, "invalid_input"),
            ({**body, "election_id": "Not An Id"}, "invalid_input"),
            ({**body, "voting_service_url": "ftp://x"}, "invalid_request"),
        ):
            status, answer = await call(w, "POST", "/admin/v1/elections", broken)
            assert status == 400 and answer["code"] == code, (broken, answer)
        status, answer = await call(w, "GET", "/admin/v1/elections/nope")
        assert status == 404 and answer["code"] == "not_found"
        status, _ = await call(w, "POST", "/admin/v1/elections", body)
        assert status == 201
        for action in ("open", "close", "publish"):
            status, answer = await call(w, "POST", f"/admin/v1/elections/kaga-bad/{action}")
            assert status == 409 and answer["code"] == "election_state", (action, answer)
        status, answer = await call(w, "POST", "/admin/v1/elections/kaga-bad/commit", {"anchorer": "0x12"})
        assert status == 400 and answer["code"] == "invalid_input"
        path = "/admin/v1/elections/kaga-bad/eligibility-offers"
        status, answer = await call(w, "POST", path, identity(), token=ISSUER_TOKEN)
        assert status == 409 and answer["code"] == "election_state"
        async with w.session.post(f"{w.wallet_url}/voting/kaga-bad/ballot-tokens/sign", data=b"{") as resp:
            assert resp.status in (400, 409)
        status, listing = await call(w, "GET", "/admin/v1/elections", token=ISSUER_TOKEN)
        assert status == 200 and [e["election_id"] for e in listing["items"]] == ["kaga-bad"]
