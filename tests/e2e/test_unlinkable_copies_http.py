"""Services that pool what they received cannot link a resident — end to end over real HTTP on
127.0.0.1 (see ``_parties.py``).

The resident's phone makes a fresh key per credential copy and the city issues a batch (OpenID4VCI
batch issuance): each copy with its own ``cnf`` key, salts, signature and a status index drawn at
random, ``iat`` and ``exp`` to the hour. The wallet server shows each copy to one service only, and
by default only once. Two services (a shop and a library) then record every byte they receive from
the wallet server over many presentations of one resident, and a voting service every byte of the
ballot the resident casts; :func:`values` takes it all apart (JSON members, JWS headers, payloads
and signatures, Disclosures, salts, digests, keys, status indices, pseudonyms, record ids, times).

A value counts as linking only if it is not also in what the same services received from another
resident in the same hour (the population baseline: issuer, type, status list, disclosed claim
values, the hour of issuance). The test asserts that no linking value is common to two services, and
that no value repeats between two presentations to the same service except its pseudonym for the
resident. The control is a credential bound to the device key alone (what the pooling would find
without copies): there the same pooling finds the key, the issuer signature, the salts and the
status index, so the check can fail.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import aiohttp

from tests.e2e._parties import PURPOSE_ID, HttpPhone, Service, World, identity, query, serve_service, world
from tests.e2e.test_oid4vc_http import accept_offer, answer
from tests.voting._town import build_town
from tests.wallet_server._helpers import ISSUER_TOKEN, OPERATOR_TOKEN
from vcsdk._b64 import b64url_decode
from vcsdk.credentials import peek
from vcsdk.errors import VcsdkError
from vcsdk.keys import Key
from vcsdk.kyc import SEED_RESIDENTS, LocalResidentRegistry, ResidentRegistryClient
from vcsdk.oid4vc import send
from vcsdk.registry import EmbeddedChain
from vcsdk.status import HttpStatusListFetcher
from vcsdk.voting import cast_request, parse_cast_answer, prepare_ballot

BATCH = 10  # the city's issuer batch size (CredentialIssuer's default)
SECOND = next(e.record for e in SEED_RESIDENTS if e.record.resident_id == "KG-000102")  # same town, adult


# -- taking what a service received apart ---------------------------------------------------------


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None


def _b64_json(part: str) -> Any:
    try:
        return json.loads(b64url_decode(part, what="part"))
    except (VcsdkError, ValueError, UnicodeDecodeError):
        return None


def _leaves(value: Any, out: set[str]) -> None:
    if isinstance(value, dict):
        for member in value.values():
            _leaves(member, out)
    elif isinstance(value, list):
        for item in value:
            _leaves(item, out)
    elif isinstance(value, str):
        _text(value, out)
    elif value is not None:
        out.add(f"#{json.dumps(value)}")  # numbers and booleans, tagged apart from strings


def _text(text: str, out: set[str]) -> None:
    if not text or text in out:
        return
    out.add(text)
    parsed = _json(text)
    if isinstance(parsed, dict | list):  # JSON in a form field (vp_token) or a JSON string
        _leaves(parsed, out)
        return
    if "~" in text:  # an SD-JWT (+KB): issuer JWT, Disclosures, KB-JWT
        for part in text.split("~"):
            _text(part, out)
        return
    parts = text.split(".")
    if len(parts) == 3 and all(parts):  # a compact JWS: header, payload, signature
        header, payload = _b64_json(parts[0]), _b64_json(parts[1])
        if isinstance(header, dict) and payload is not None:
            _leaves(header, out)
            _leaves(payload, out)
            out.add(parts[2])
            return
    decoded = _b64_json(text)
    if isinstance(decoded, list):  # a Disclosure: [salt, name, value]
        _leaves(decoded, out)


def values(bodies: Iterable[bytes]) -> set[str]:
    """Every value in what a service received: request paths, form fields and JSON, recursively."""
    out: set[str] = set()
    for raw in bodies:
        path, _, body = raw.partition(b"\n")
        out.update(p for p in path.decode().split("/") if p)
        text = body.decode()
        parsed = _json(text)
        if parsed is not None:
            _leaves(parsed, out)
        else:
            for _, field in parse_qsl(text):
                _text(field, out)
    return out


# -- the parties ------------------------------------------------------------------------------------


async def _phone(w: World, name: str) -> HttpPhone:
    async with w.session.post(
        f"{w.wallet_url}/admin/v1/enrolment-codes", json={}, headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"}
    ) as resp:
        code = (await resp.json())["code"]
    phone = HttpPhone(w.session, w.wallet_url, w.clock)
    await phone.enrol(code)
    return phone


async def _offer(w: World, phone: HttpPhone, record: Any) -> str:
    status, outcome = await w.admin(
        "/admin/v1/issuances", {"resident_id": phone.resident_id, **identity(record)}, token=ISSUER_TOKEN
    )
    assert status == 200 and outcome["outcome"] == "verified", outcome
    return str(outcome["tx_code"])


async def _present(w: World, service: Service, received: list[bytes], phone: HttpPhone, vct: str) -> set[str]:
    """One presentation; returns everything the service received for it."""
    w.clock.advance(seconds=61)  # presentations happen at different times
    await phone.login()  # a fresh access token for the moved clock
    start = len(received)
    link = (await service.verifier.create_request(query(vct), purpose=PURPOSE_ID, now=w.clock())).deep_link
    done = (await answer(w, link, phone=phone))["done"]
    assert done["state"] == "shared" and "receipt_id" in done["outcome"], done
    return values(received[start:])


def _linking(a: set[str], b: set[str], baseline: set[str]) -> set[str]:
    return (a & b) - baseline


async def _voting_pool(aiohttp_server: Any, chain: EmbeddedChain, tmp_path: Path, phone: HttpPhone) -> set[str]:
    """The same phone gets an eligibility credential bound to its device key, a blind-signed ballot
    token, and casts a ballot: everything the voting service receives."""
    folder = tmp_path / "town"
    folder.mkdir()
    async with (
        LocalResidentRegistry(port=0) as local_registry,
        ResidentRegistryClient(local_registry.url) as registry,
        aiohttp.ClientSession() as session,
        HttpStatusListFetcher(allow_loopback_http=True) as fetcher,
    ):
        town = await build_town(aiohttp_server, chain, folder, registry, session, fetcher)
        try:
            credential = await town.get_credential("TK-000203", phone.key)
            town.publish_status()
            token = await town.ballot_token(credential, phone.key)
            town.clock.now = town.service.election.opens_at
            ballot = prepare_ballot(town.service.election, "Sato")
            request = cast_request(town.base, token, ballot)
            parse_cast_answer(await send(session, request), ballot)
            assert request.body is not None
            return values([request.url.encode() + b"\n" + bytes(request.body)])
        finally:
            await town.store.close()
            await town.issuer.ledger.close()
            await town.resolver.close()


async def test_services_pooling_everything_find_no_common_value(
    tmp_path: Path, aiohttp_server: Any, embedded_chain: EmbeddedChain
) -> None:
    async with world(tmp_path) as w, AsyncExitStack() as stack:
        shop_seen: list[bytes] = []
        library_seen: list[bytes] = []
        shop = await serve_service(stack, w.wallet, w.city, w.clock, w.city.chain.dev_keys[3], name="Kaga Onsen Shop",
                                   received=shop_seen)
        library = await serve_service(stack, w.wallet, w.city, w.clock, w.city.chain.dev_keys[4], name="Kaga Library",
                                      received=library_seen)

        # -- a batch of copies for the resident, and one for a neighbour (the baseline), same hour
        first = await accept_offer(w, await w.issue_offer(), copies=BATCH)
        vct = first["credential"]["vct"]
        neighbour = await _phone(w, "neighbour")
        await accept_offer(w, await _offer(w, neighbour, SECOND), copies=3, phone=neighbour)

        # the city's record knows every copy: distinct status indices, drawn at random, not in a run
        headers = {"Authorization": f"Bearer {ISSUER_TOKEN}"}
        async with w.session.get(
            f"{w.wallet_url}/admin/v1/credentials?resident_id={w.phone.resident_id}", headers=headers
        ) as resp:
            issued = (await resp.json())["items"]
        indices = [c["status_index"] for c in issued]
        assert len(issued) == BATCH and len(set(indices)) == BATCH
        assert sorted(indices) != list(range(min(indices), min(indices) + BATCH))  # not sequential

        # the stored copies: own keys, own signatures, own salts, one iat and exp, to the hour
        copies = []
        cursor = ""
        while True:
            status, page = await w.phone.call("GET", f"/v1/credentials?limit=100{cursor}")
            for item in page["items"]:
                assert item["metadata"]["batch"] == first["offer"]["id"] and item["metadata"]["copies"] == BATCH
                status, stored = await w.phone.call("GET", f"/v1/credentials/{item['id']}")
                copies.append(stored["credential"])
            if not page["next_cursor"]:
                break
            cursor = f"&cursor={page['next_cursor']}"
        claims = [peek(c).unverified_claims for c in copies]
        assert len({json.dumps(c["cnf"]) for c in claims}) == BATCH
        assert len({c.split("~")[0].rsplit(".", 1)[1] for c in copies}) == BATCH
        payloads = [_b64_json(c.split("~")[0].split(".")[1]) for c in copies]
        assert len({json.dumps(p["_sd"]) for p in payloads}) == BATCH  # fresh salts: fresh digests
        assert len({(c["iat"], c["exp"]) for c in claims}) == 1 and claims[0]["iat"] % 3600 == 0
        assert w.phone.key.public_jwk() not in [c["cnf"]["jwk"] for c in claims]

        # -- the neighbour shows a copy to each service: what is common to everyone
        baseline = await _present(w, shop, shop_seen, neighbour, vct)
        baseline |= await _present(w, library, library_seen, neighbour, vct)

        # -- the resident shows copies four times to each service, interleaved
        at_shop: list[set[str]] = []
        at_library: list[set[str]] = []
        for _ in range(4):
            at_shop.append(await _present(w, shop, shop_seen, w.phone, vct))
            at_library.append(await _present(w, library, library_seen, w.phone, vct))
        voting = await _voting_pool(aiohttp_server, embedded_chain, tmp_path, w.phone)

        # what was taken apart is what matters: each presentation carries one copy's key, never twice
        shown = [[c["cnf"]["jwk"]["x"] for c in claims if c["cnf"]["jwk"]["x"] in one] for one in at_shop + at_library]
        assert all(len(keys) == 1 for keys in shown) and len({keys[0] for keys in shown}) == 8

        shop_pool, library_pool = set().union(*at_shop), set().union(*at_library)
        assert not _linking(shop_pool, library_pool, baseline)
        assert not _linking(shop_pool, voting, baseline)
        assert not _linking(library_pool, voting, baseline)

        # within one service, only its pseudonym for the resident comes back (one-time use)
        for seen in (at_shop, at_library):
            for i, one in enumerate(seen):
                for other in seen[i + 1:]:
                    repeated = _linking(one, other, baseline)
                    assert len(repeated) == 1, repeated
        pseudonym_shop = _linking(at_shop[0], at_shop[1], baseline)
        pseudonym_library = _linking(at_library[0], at_library[1], baseline)
        assert pseudonym_shop != pseudonym_library

        # -- the check can fail: a credential bound to the device key alone, shown to both services
        control = (await accept_offer(w, await w.issue_offer()))["credential"]
        status, stored = await w.phone.call("GET", f"/v1/credentials/{control['id']}")
        token = stored["credential"]
        # the batch has two copies left; the device-bound credential is offered next to them, so the
        # control chooses it explicitly
        linked = set()
        for service, seen in ((shop, shop_seen), (library, library_seen)):
            w.clock.advance(seconds=61)
            await w.phone.login()
            start = len(seen)
            link = (await service.verifier.create_request(query(vct), purpose=PURPOSE_ID, now=w.clock())).deep_link
            status, screen = await w.phone.call("POST", "/v1/presentations", {"request_uri": link})
            (choice,) = [o for o in screen["credentials"][0]["options"] if o["copies_left"] is None]
            status, consent = await w.phone.call(
                "POST", f"/v1/presentations/{screen['id']}/consent",
                {"selections": [{"query_id": "resident", "credential_id": choice["credential_id"]}]},
            )
            signatures = [
                {"query_id": s["query_id"], "signature": w.phone.signature(s["signing_input"], s["jwk"])}
                for s in consent["signing_inputs"]
            ]
            status, done = await w.phone.call(
                "POST", f"/v1/presentations/{screen['id']}/signature", {"signatures": signatures}
            )
            assert status == 200 and done["state"] == "shared", done
            linked.add(frozenset(values(seen[start:])))
        found = _linking(*(set(v) for v in linked), baseline)
        device = w.phone.key.public_jwk()
        index = peek(token).unverified_claims["status"]["status_list"]["idx"]
        signature = token.split("~")[0].rsplit(".", 1)[1]
        salts = {_b64_json(d)[0] for d in token.split("~")[1:] if d}
        # the holder key, the issuer signature, the status index, and the salts of what both asked for
        assert {device["x"], device["y"], signature, f"#{index}"} <= found
        assert len(salts & found) >= 3


async def _screen(w: World, vct: str, service: Service | None = None) -> dict[str, Any]:
    w.clock.advance(seconds=61)
    await w.phone.login()
    service = service or w.service
    link = (await service.verifier.create_request(query(vct), purpose=PURPOSE_ID, now=w.clock())).deep_link
    status, screen = await w.phone.call("POST", "/v1/presentations", {"request_uri": link})
    assert status == 201, screen
    return screen


async def _share(w: World, screen: dict[str, Any]) -> dict[str, Any]:
    status, consent = await w.phone.call("POST", f"/v1/presentations/{screen['id']}/consent", {})
    assert status == 200, consent
    signatures = [
        {"query_id": s["query_id"], "signature": w.phone.signature(s["signing_input"], s["jwk"])}
        for s in consent["signing_inputs"]
    ]
    status, done = await w.phone.call("POST", f"/v1/presentations/{screen['id']}/signature", {"signatures": signatures})
    assert status == 200 and done["state"] == "shared", done
    return {"done": done, "jwk": consent["signing_inputs"][0]["jwk"]}


async def _refill(w: World, batch: str, count: int) -> tuple[int, Any]:
    status, to_sign = await w.phone.call("POST", f"/v1/offers/{batch}/refill", {"keys": w.phone.new_copy_keys(count)})
    if status != 200:
        return status, to_sign
    signatures = [w.phone.signature(i["signing_input"], i["jwk"]) for i in to_sign["signing_inputs"]]
    return await w.phone.call("POST", f"/v1/offers/{batch}/refill/signature", {"signatures": signatures})


async def test_each_copy_serves_one_service_the_wallet_refills_and_revocation_takes_every_copy(
    tmp_path: Path,
) -> None:
    async with world(tmp_path) as w, AsyncExitStack() as stack:
        library = await serve_service(stack, w.wallet, w.city, w.clock, w.city.chain.dev_keys[3], name="Kaga Library")
        accepted = await accept_offer(w, await w.issue_offer(), copies=3)
        batch, vct = accepted["offer"]["id"], accepted["credential"]["vct"]

        # -- one-time use (the default): a fresh copy each time, the resident told when to refill
        keys = []
        for left in (2, 1, 0):
            screen = await _screen(w, vct)
            (option,) = screen["credentials"][0]["options"]
            assert option["copies_left"] == left
            assert screen["refill"] == ([batch] if left == 0 else [])
            keys.append((await _share(w, screen))["jwk"]["x"])
        assert len(set(keys)) == 3
        screen = await _screen(w, vct)
        assert screen["satisfiable"] is False and screen["refill"] == [batch]  # never a used copy again
        status, declined = await w.phone.call("POST", f"/v1/presentations/{screen['id']}/decline")
        assert status == 200 and declined["state"] == "declined"

        # -- refill: new copies for fresh keys, with the refresh token (no new offer, no KYC)
        status, refilled = await _refill(w, batch, 4)
        assert status == 201, refilled
        assert refilled["metadata"]["batch"] == batch and refilled["metadata"]["copies"] == 4
        screen = await _screen(w, vct)
        (option,) = screen["credentials"][0]["options"]
        assert option["copies_left"] == 3 and screen["refill"] == []

        # -- per service (the resident's setting): each service keeps its own copy; still none shared
        status, settings = await w.phone.call("PATCH", "/v1/privacy", {"copy_policy": "per_service"})
        assert status == 200 and settings["copy_policy"] == "per_service"
        shop_keys = {(await _share(w, await _screen(w, vct)))["jwk"]["x"] for _ in range(2)}
        library_keys = {(await _share(w, await _screen(w, vct, library)))["jwk"]["x"] for _ in range(2)}
        assert len(shop_keys) == 1 and len(library_keys) == 1 and shop_keys != library_keys
        # the shop keeps a copy it saw before; the library never gets one another service saw
        assert shop_keys <= set(keys) and not library_keys & set(keys)
        screen = await _screen(w, vct)  # its own copy again; unshown copies remain for other services
        assert screen["satisfiable"] is True and screen["refill"] == []
        status, declined = await w.phone.call("POST", f"/v1/presentations/{screen['id']}/decline")
        assert status == 200 and declined["state"] == "declined"

        # -- revocation: the city revokes one copy and every copy of the batch, refills included, goes
        headers = {"Authorization": f"Bearer {ISSUER_TOKEN}"}
        async with w.session.get(
            f"{w.wallet_url}/admin/v1/credentials?resident_id={w.phone.resident_id}", headers=headers
        ) as resp:
            issued = (await resp.json())["items"]
        assert len(issued) == 7
        status, revoked = await w.admin(f"/admin/v1/credentials/{issued[0]['id']}/revoke", {}, token=ISSUER_TOKEN)
        assert status == 200 and sorted(c["state"] for c in revoked["items"]) == ["revoked"] * 7
        screen = await _screen(w, vct, library)
        assert screen["satisfiable"] is False  # no copy is offered any more
        status, problem = await _refill(w, batch, 2)  # and no refill revives it
        assert status == 400 and problem["code"] == "credential_request_denied", problem


async def test_copy_refusals_are_typed_and_a_copy_raced_to_two_services_is_shown_once(tmp_path: Path) -> None:
    async with world(tmp_path) as w, AsyncExitStack() as stack:
        library = await serve_service(stack, w.wallet, w.city, w.clock, w.city.chain.dev_keys[3], name="Kaga Library")
        tx_code = await w.issue_offer()
        status, inbox = await w.phone.call("GET", "/v1/offers")
        offer_id = inbox["items"][0]["id"]
        accept = f"/v1/offers/{offer_id}/accept"

        # -- keys the wallet refuses before the issuer sees them
        one = w.phone.new_copy_keys(1)[0]
        private = Key.generate("P-256").private_jwk()
        secp = Key.generate("secp256k1").public_jwk()
        for keys in ([one, one], [private], [secp], w.phone.new_copy_keys(21), [], "x"):
            status, problem = await w.phone.call("POST", accept, {"tx_code": tx_code, "keys": keys})
            assert status == 400 and problem["code"] == "invalid_input", (keys, problem)
        status, problem = await w.phone.call("POST", accept, {"tx_code": tx_code, "keys": w.phone.new_copy_keys(11)})
        assert status == 400 and problem["code"] == "invalid_input", problem  # more than the issuer's batch size
        assert "that many keys" in problem["detail"]

        # -- one signature per key proof, each with its own key
        keys = w.phone.new_copy_keys(2)
        status, to_sign = await w.phone.call("POST", accept, {"tx_code": tx_code, "keys": keys})
        assert status == 200, to_sign
        first, second = to_sign["signing_inputs"]
        sign = f"/v1/offers/{offer_id}/signature"
        status, problem = await w.phone.call("POST", sign, {"signatures": [w.phone.signature(first["signing_input"])]})
        assert status == 400 and problem["code"] == "signature_invalid"
        swapped = [w.phone.signature(first["signing_input"], second["jwk"]),
                   w.phone.signature(second["signing_input"], first["jwk"])]
        status, problem = await w.phone.call("POST", sign, {"signatures": swapped})
        assert status == 400 and problem["code"] == "signature_invalid"
        signed = [w.phone.signature(i["signing_input"], i["jwk"]) for i in (first, second)]
        status, credential = await w.phone.call("POST", sign, {"signatures": signed})
        assert status == 201, credential
        vct = credential["vct"]

        # -- two services at once: both screens offer the same unshown copy; it is shown to one only
        shop_screen, library_screen = await _screen(w, vct), await _screen(w, vct, library)
        offered = {s["credentials"][0]["options"][0]["credential_id"] for s in (shop_screen, library_screen)}
        assert len(offered) == 1
        await _share(w, shop_screen)
        status, consent = await w.phone.call("POST", f"/v1/presentations/{library_screen['id']}/consent", {})
        (item,) = consent["signing_inputs"]
        signature = w.phone.signature(item["signing_input"], item["jwk"])
        signatures = [{"query_id": item["query_id"], "signature": signature}]
        status, problem = await w.phone.call(
            "POST", f"/v1/presentations/{library_screen['id']}/signature", {"signatures": signatures}
        )
        assert status == 409 and "already shown" in problem["detail"], problem
        assert len(library.results) == 0  # nothing reached the library
        again = await _share(w, await _screen(w, vct, library))  # started again: the other copy
        assert again["jwk"]["x"] != item["jwk"]["x"]

        # -- a credential accepted without copy keys cannot be refilled here
        device_bound = await accept_offer(w, await w.issue_offer())
        status, problem = await w.phone.call(
            "POST", f"/v1/offers/{device_bound['offer']['id']}/refill", {"keys": w.phone.new_copy_keys(1)}
        )
        assert status == 409 and problem["code"] == "conflict", problem
        status, problem = await w.phone.call("POST", f"/v1/offers/{offer_id}/refill", {"keys": []})
        assert status == 400 and problem["code"] == "invalid_input"


async def test_a_suspended_batch_gets_no_new_copies_until_it_is_reinstated(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        accepted = await accept_offer(w, await w.issue_offer(), copies=3)
        batch, vct = accepted["offer"]["id"], accepted["credential"]["vct"]
        headers = {"Authorization": f"Bearer {ISSUER_TOKEN}"}
        url = f"{w.wallet_url}/admin/v1/credentials?resident_id={w.phone.resident_id}"

        async def states() -> list[str]:
            async with w.session.get(url, headers=headers) as resp:
                return sorted(c["state"] for c in (await resp.json())["items"])

        async with w.session.get(url, headers=headers) as resp:
            first = (await resp.json())["items"][0]["id"]
        status, _ = await w.admin(f"/admin/v1/credentials/{first}/suspend", {}, token=ISSUER_TOKEN)
        assert status == 200 and await states() == ["suspended"] * 3

        # While suspended: no copy is offered, and a refill hands out no valid copy.
        assert (await _screen(w, vct))["satisfiable"] is False
        status, problem = await _refill(w, batch, 2)
        assert status == 400 and problem["code"] == "credential_request_denied", problem
        assert "suspended" in problem["detail"]
        assert await states() == ["suspended"] * 3

        # Reinstated, the batch refills as before.
        status, _ = await w.admin(f"/admin/v1/credentials/{first}/reinstate", {}, token=ISSUER_TOKEN)
        assert status == 200 and await states() == ["valid"] * 3
        w.clock.advance(seconds=61)
        await w.phone.login()
        status, refilled = await _refill(w, batch, 2)
        assert status == 201, refilled
        assert await states() == ["valid"] * 5
