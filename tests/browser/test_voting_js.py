"""The ballot page's device code (wallet_server/web/shared/voting.js), run in Chromium against the
SDK: blind RSA with blindrsa-ts against vcsdk.blindrsa (RFC 9474, both directions of the protocol),
inclusion proofs against vcsdk.receipts' Merkle trees, the eligibility presentation against
verify_presentation, and the contract constants against the shipped ABI."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from eth_utils import keccak

from tests._net import serve
from tests.browser._chromium import open_screen
from tests.wallet_server.conftest import make_settings
from vcsdk import blindrsa
from vcsdk._b64 import b64url_decode, b64url_encode
from vcsdk.credentials import StaticKeyResolver, issue_sd_jwt_vc, verify_presentation
from vcsdk.keys import Key
from vcsdk.receipts import MerkleTree
from wallet_server import create_app
from wallet_server.pages import WEB_DIR

MODULE = "/static/shared/voting.js"


async def call(page: Any, expression: str, arg: Any = None) -> Any:
    """Evaluate ``expression`` in the page with ``m`` the voting module and ``a`` the argument."""
    return await page.evaluate(f"async (a) => {{ const m = await import('{MODULE}'); return ({expression}) }}", arg)


@pytest.fixture
async def page(browser, tmp_path: Path):  # type: ignore[no-untyped-def]
    async with serve(create_app(make_settings((f"sqlite:///{tmp_path / 'w.db'}", None)))) as base:
        screen = await open_screen(browser, tmp_path)
        await screen.page.goto(f"{base}/app/")
        yield screen.page
        assert not screen.problems


def test_contract_constants_are_the_abis() -> None:
    source = (WEB_DIR / "shared" / "voting.js").read_text("utf-8")
    abi = json.loads((Path(__file__).parents[2] / "vcsdk/registry/artifacts/AccessReceiptRegistry.json").read_text())
    abi = abi["abi"] if isinstance(abi, dict) else abi
    event = next(e for e in abi if e.get("name") == "BatchAnchored")
    function = next(e for e in abi if e.get("name") == "rootOf")
    signature = f"BatchAnchored({','.join(i['type'] for i in event['inputs'])})"
    assert f"BATCH_ANCHORED_TOPIC = '0x{keccak(text=signature).hex()}'" in source
    call = f"rootOf({','.join(i['type'] for i in function['inputs'])})"
    assert f"ROOT_OF_SELECTOR = '0x{keccak(text=call)[:4].hex()}'" in source


async def test_blind_signature_with_blindrsa_ts_and_vcsdk(page) -> None:
    """The page blinds (blindrsa-ts), the SDK signs blindly, the page unblinds; the SDK verifies."""
    private = blindrsa.generate_key()
    spki = b64url_encode(blindrsa.public_key_to_der(private.public_key()))
    key = {"election_id": "kaga-2026", "district": None, "spki": spki}
    pending = await call(page, "await m.beginToken(a)", key)
    blind_sig = blindrsa.blind_sign(private, b64url_decode(pending["blindedMsg"]))
    token = await call(page, "await m.finishToken(a[0], a[1])", [pending, b64url_encode(blind_sig)])
    prefix, serial = b64url_decode(token["prefix"]), b64url_decode(token["serial"])
    assert len(prefix) == 32 and len(serial) == 32 and b64url_decode(pending["inputMsg"])[:32] == prefix
    message = await call(page, "Array.from(m.tokenMessage(a[0], a[1], Uint8Array.from(a[2])))",
                         ["kaga-2026", None, list(serial)])
    signed = prefix + bytes(message)
    blindrsa.verify(private.public_key(), signed, b64url_decode(token["signature"]),
                    variant=blindrsa.RSABSSA_SHA384_PSS_RANDOMIZED)
    # The city saw only the blinded message: it differs from everything the token carries.
    assert b64url_decode(pending["blindedMsg"]) not in (signed, b64url_decode(token["signature"]))
    # A signature under another key does not finish into a token.
    blinded = b64url_decode(pending["blindedMsg"])
    for _ in range(64):  # a key whose modulus exceeds the blinded message (about half of them do)
        other_key = blindrsa.generate_key()
        if int.from_bytes(blinded, "big") < other_key.public_key().public_numbers().n:
            break
    else:
        pytest.fail("no other key with a modulus above the blinded message")
    other = blindrsa.blind_sign(other_key, blinded)
    refused = await call(page, "await m.finishToken(a[0], a[1]).then(() => 'finished', () => 'refused')",
                         [pending, b64url_encode(other)])
    assert refused == "refused"


VERIFY = "await m.verifyInclusion(Uint8Array.from(a[0]), a[1], Uint8Array.from(a[2]))"


async def test_inclusion_proofs_as_vcsdk_receipts(page) -> None:
    for size in (1, 2, 3, 7, 8, 13):
        leaves = [hashlib.sha256(bytes([size, i])).digest() for i in range(size)]
        tree = MerkleTree(leaves)
        for index in range(size):
            proof = tree.proof(index).to_json()
            args = [list(leaves[index]), dict(proof), list(tree.root)]
            ok = await call(page, VERIFY, args)
            assert ok is True, (size, index)
            wrong = [list(leaves[(index + 1) % size]) if size > 1 else [0] * 32, dict(proof), list(tree.root)]
            assert await call(page, VERIFY, wrong) is False


async def test_the_eligibility_presentation_verifies_with_the_sdk(page) -> None:
    """The page discloses the four top-level claims with a KB-JWT its own WebCrypto key signs."""
    jwk = await page.evaluate(
        """async () => {
            const d = await import('/static/shared/device.js')
            window.__key = await d.newDeviceKey()
            return window.__key.publicJwk
        }"""
    )
    issuer_key = Key.generate("P-256").with_kid("did:example:city#key-1")
    now = datetime.now(UTC)
    claims: dict[str, Any] = {"election_id": "kaga-2026", "eligible": True, "district": "kaga", "age_over_18": True,
                              "note": "never disclosed"}
    token = issue_sd_jwt_vc(claims, issuer="did:example:city", signer=issuer_key, vct="urn:city:voting",
                            disclosable=[(n,) for n in claims], holder_key=Key.from_jwk(jwk), now=now,
                            expires_at=now + timedelta(days=1), decoys=2)
    presentation = await call(
        page,
        "await m.presentTopLevel(a, m.ELIGIBILITY_CLAIMS, {audience: 'https://city.example/ballot-tokens',"
        " nonce: 'n-123', privateKey: window.__key.keyPair.privateKey})",
        token,
    )
    verified = await verify_presentation(
        presentation, audience="https://city.example/ballot-tokens", nonce="n-123",
        resolver=StaticKeyResolver({"did:example:city": issuer_key.public_key()}), now=datetime.now(UTC),
    )
    disclosed = {k: v for k, v in verified.claims.items() if k in claims}
    assert disclosed == {"election_id": "kaga-2026", "eligible": True, "district": "kaga", "age_over_18": True}
