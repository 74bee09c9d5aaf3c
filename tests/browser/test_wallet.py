"""A resident in the web wallet, in headless Chromium, against the real parties on a JSON-RPC node
(anvil) the browser reads too: enrolment with a code → the city's offer with its PIN → the consent
screen for a service → a second service, shown another copy of the resident card (its own key) →
history with each receipt's on-chain proof checked → consents and withdrawal
→ settings → the voting credential → the ballot page: the key checked on chain, the token blinded
and unblinded in the browser, the ballot cast at the voting service, its inclusion checked. Keyboard
only where it matters; every screen passes axe-core and is photographed at 390x844."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from playwright.async_api import expect

from tests._net import free_port
from tests.browser._chromium import open_screen
from tests.browser._world import (
    COPIES,
    anchor_receipts,
    browser_world,
    eligibility_offer,
    enrolment_code,
    kyc_offer,
    open_election,
    screen_title,
    tab_to,
)
from tests.e2e._parties import ACTIVE, PURPOSE, PURPOSE_ID, SERVICE_NAME, query, serve_service
from tests.e2e._voting import ballot_box, fund, new_service_key, voting_service_url
from tests.wallet_server._helpers import ISSUER_TOKEN, OPERATOR_TOKEN
from vcsdk.keys import Key
from vcsdk.oid4vc import PresentationResult
from vcsdk.registry import Chain, DevNode

ELECTION_ID = "kaga-2027-library"
ELECTION_TITLE = "Kaga library referendum 2027"
SHOP_NAME = "Kaga Onsen Shop"

_DEVICE_KEY = """async () => {
  const db = await new Promise((ok, no) => {
    const r = indexedDB.open('vcsdk-wallet'); r.onsuccess = () => ok(r.result); r.onerror = no })
  const record = await new Promise((ok) => {
    const r = db.transaction('device').objectStore('device').get('current'); r.onsuccess = () => ok(r.result) })
  let exported = 'exported'
  try { await crypto.subtle.exportKey('jwk', record.keyPair.privateKey) } catch (e) { exported = e.name }
  return {extractable: record.keyPair.privateKey.extractable, algorithm: record.keyPair.privateKey.algorithm,
          exported, publicJwk: record.publicJwk, deviceId: record.deviceId, residentId: record.residentId}
}"""

# The copy keys the page keeps: thumbprint, public JWK, and whether the private half could leave.
_COPY_KEYS = """async () => {
  const db = await new Promise((ok, no) => {
    const r = indexedDB.open('vcsdk-wallet'); r.onsuccess = () => ok(r.result); r.onerror = no })
  const records = await new Promise((ok) => {
    const r = db.transaction('copies').objectStore('copies').getAll(); r.onsuccess = () => ok(r.result) })
  const out = []
  for (const record of records) {
    let exported = 'exported'
    try { await crypto.subtle.exportKey('jwk', record.keyPair.privateKey) } catch (e) { exported = e.name }
    out.push({thumbprint: record.thumbprint, publicJwk: record.publicJwk, exported,
              extractable: record.keyPair.privateKey.extractable})
  }
  return out
}"""


def _thumbprint(jwk: dict[str, str]) -> str:
    """RFC 7638, computed here independently of the page."""
    canonical = json.dumps({k: jwk[k] for k in ("crv", "kty", "x", "y")}, separators=(",", ":"))
    digest = hashlib.sha256(canonical.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _cnf(result: PresentationResult) -> dict[str, Any]:
    """The key the presented credential is bound to, as the service received it."""
    ((presented,),) = result.credentials.values()
    payload = presented.presentation.split("~")[0].split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["cnf"]["jwk"])


async def test_resident_enrols_receives_consents_checks_history_and_votes(
    browser, shots: Path, tmp_path: Path, anvil_node: DevNode
) -> None:
    port = free_port()
    service_url = voting_service_url(port, ELECTION_ID)
    node = urlsplit(anvil_node.url)
    origins = (f"http://127.0.0.1:{port}", f"{node.scheme}://{node.netloc}")
    async with browser_world(tmp_path, node=anvil_node, web_connect_origins=origins, web_rpc_url=anvil_node.url) as w:
        screen = await open_screen(browser, shots)
        page = screen.page
        await page.goto(f"{w.wallet_url}/app/")

        # -- enrolment, with the keyboard alone
        await screen_title(page, "Set up your City Wallet")
        await screen.check("wallet-welcome")
        code = await enrolment_code(w)
        await tab_to(page, page.get_by_label("Enrolment code"))
        await page.keyboard.type(code)
        await tab_to(page, page.get_by_role("button", name="Register this phone"))
        await page.keyboard.press("Enter")
        await screen_title(page, "Your wallet")
        await expect(page.get_by_text("No credentials yet")).to_be_visible()
        await screen.check("wallet-empty")

        # the device key: P-256, non-extractable, in IndexedDB; the server knows only its public half
        key = await page.evaluate(_DEVICE_KEY)
        assert key["extractable"] is False and key["exported"] == "InvalidAccessError"
        assert key["algorithm"] == {"name": "ECDSA", "namedCurve": "P-256"}
        assert set(key["publicJwk"]) == {"kty", "crv", "x", "y"}
        async with w.session.get(
            f"{w.wallet_url}/admin/v1/residents", headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"}
        ) as resp:
            residents = (await resp.json())["items"]
        assert [r["id"] for r in residents] == [key["residentId"]]

        # -- the city checks the identity (KYC over SOAP) and offers the credential; the PIN comes by letter
        pin = await kyc_offer(w, key["residentId"])
        await page.reload()
        await screen_title(page, "Your wallet")
        await expect(page.get_by_role("heading", name="Offers waiting for you")).to_be_visible()
        await screen.check("wallet-offers")
        await tab_to(page, page.get_by_role("link", name="Review offer"))
        await page.keyboard.press("Enter")
        await screen_title(page, "Credential offer")
        await expect(page.get_by_label("PIN (6 digits)")).to_be_visible()
        await screen.check("wallet-offer")
        await tab_to(page, page.get_by_label("PIN (6 digits)"))
        await page.keyboard.type("000000" if pin != "000000" else "111111")  # a wrong PIN first
        await page.keyboard.press("Enter")
        await expect(page.locator("#status")).to_contain_text("The PIN is wrong")
        await page.get_by_label("PIN (6 digits)").fill(pin)
        await page.keyboard.press("Enter")
        await screen_title(page, "Resident card")
        claims = page.locator("dl.claims").first
        await expect(claims).to_contain_text(ACTIVE.family_name)
        await expect(claims).to_contain_text(ACTIVE.address.city)
        await expect(claims).to_contain_text("Aged 20 or over")
        await screen.check("wallet-credential", full_page=True)

        # -- a service asks (its link pasted into Scan): who, the purpose, exactly what goes and what stays
        # the city issued a batch of copies, each bound to a key the page made for it (non-extractable,
        # in IndexedDB under its thumbprint); the wallet lists them as one card
        async with w.session.get(f"{w.wallet_url}/admin/v1/credentials", headers=_issuer_headers()) as resp:
            issued = (await resp.json())["items"]
        assert len(issued) == COPIES and len({c["status_index"] for c in issued}) == COPIES
        copy_keys = await page.evaluate(_COPY_KEYS)
        assert len(copy_keys) == COPIES
        for copy in copy_keys:
            assert copy["extractable"] is False and copy["exported"] == "InvalidAccessError"
            assert copy["thumbprint"] == _thumbprint(copy["publicJwk"])
            assert copy["publicJwk"]["x"] != key["publicJwk"]["x"]
        await page.get_by_role("link", name="Wallet", exact=True).click()
        await screen_title(page, "Your wallet")
        card = page.locator("li.credential")
        await expect(card).to_have_attribute("data-copies", str(COPIES))
        await expect(card).to_contain_text(f"{COPIES} copies")
        vct = issued[0]["vct"]
        request = await w.service.verifier.create_request(query(vct), purpose=PURPOSE_ID, now=w.clock())
        await page.get_by_role("link", name="Scan").click()
        await screen_title(page, "Scan a QR code")
        await screen.check("wallet-scan")
        await page.get_by_label("Or paste a link").fill(request.deep_link)
        await page.get_by_role("button", name="Open link").click()
        await screen_title(page, "Share your data?")
        await expect(page.locator(".service-name")).to_have_text(SERVICE_NAME)
        await expect(page.locator(".purpose")).to_have_text(PURPOSE)  # the city's words, from the registration
        await expect(page.locator(".registration")).to_contain_text("Registered with the city")
        await expect(page.locator(".retention")).to_have_text("30 days at most")
        shares = page.locator("ul.share li")
        await expect(shares).to_have_text(["Aged 20 or over: Yes", f"City: {ACTIVE.address.city}"])
        withheld = await page.locator("ul.withhold li").all_inner_texts()
        for hidden in ("Family name", "Given name", "Date of birth", "Street address", "Postal code",
                       "Aged 18 or over"):
            assert hidden in withheld, (hidden, withheld)
        assert "Aged 20 or over" not in withheld and "City" not in withheld
        await expect(page.locator(".copies-left")).to_have_attribute("data-copies-left", str(COPIES - 1))
        await screen.check("wallet-consent", full_page=True)
        await tab_to(page, page.get_by_role("button", name="Share", exact=True))
        await page.keyboard.press("Enter")
        await expect(page.locator(".notice.ok")).to_have_text(f"Shared with {SERVICE_NAME}.")
        await screen.check("wallet-shared")
        # the service verified it (signature, status, accreditation on chain) and saw exactly the two claims
        (result,) = w.service.results
        expected = {"age_equal_or_over": {"20": True}, "address": {"locality": ACTIVE.address.city}}
        assert dict(result.claims()) == expected
        first_cnf = _cnf(result)

        # -- history: recorded, then anchored on chain; the page checks each proof against the chain
        await page.get_by_role("link", name="See your activity").click()
        await screen_title(page, "Activity")
        receipt = page.locator("li.receipt")
        await expect(receipt).to_have_attribute("data-state", "queued")
        await screen.check("wallet-activity-queued")
        await anchor_receipts(w)
        await page.reload()
        await screen_title(page, "Activity")
        await expect(receipt).to_have_attribute("data-state", "final")
        await expect(receipt).to_have_attribute("data-verified", "true")
        await expect(receipt).to_contain_text("Proof checked against the blockchain")
        block = int(await receipt.locator(".block-number").inner_text())
        assert block >= 1
        await screen.check("wallet-activity", full_page=True)

        # -- consents, and withdrawing one (a native dialog; keyboard)
        await page.get_by_role("link", name="Your consents").click()
        await screen_title(page, "Your consents")
        consent = page.locator("li.consent")
        await expect(consent).to_have_attribute("data-state", "given")
        await screen.check("wallet-consents")
        await tab_to(page, page.get_by_role("button", name="Withdraw consent"))
        await page.keyboard.press("Enter")
        dialog = page.get_by_role("dialog")
        await expect(dialog).to_be_visible()
        await screen.check("wallet-withdraw-dialog")
        await tab_to(page, dialog.get_by_role("button", name="Withdraw consent"))
        await page.keyboard.press("Enter")
        # the list is read again from the server after the withdrawal
        await expect(consent).to_have_attribute("data-state", "withdrawn")
        await expect(consent).to_contain_text("Withdrawn")

        # -- a second service: it is shown another copy, bound to another of the page's keys
        async with AsyncExitStack() as stack:
            shop = await serve_service(stack, w.wallet, w.city, w.clock, await _funded(w.city.chain), name=SHOP_NAME)
            request = await shop.verifier.create_request(query(vct), purpose=PURPOSE_ID, now=w.clock())
            await page.get_by_role("link", name="Scan").click()
            await page.get_by_label("Or paste a link").fill(request.deep_link)
            await page.get_by_role("button", name="Open link").click()
            await screen_title(page, "Share your data?")
            await expect(page.locator(".service-name")).to_have_text(SHOP_NAME)
            await expect(page.locator(".copies-left")).to_have_attribute("data-copies-left", str(COPIES - 2))
            await page.get_by_role("button", name="Share", exact=True).click()
            await expect(page.locator(".notice.ok")).to_have_text(f"Shared with {SHOP_NAME}.")
            (shop_result,) = shop.results
            assert dict(shop_result.claims()) == expected
        second_cnf = _cnf(shop_result)
        # two services, two keys: neither the device key, both among the page's copy keys
        assert first_cnf != second_cnf
        page_keys = {c["publicJwk"]["x"] for c in copy_keys}
        assert {first_cnf["x"], second_cnf["x"]} <= page_keys
        assert key["publicJwk"]["x"] not in (first_cnf["x"], second_cnf["x"])

        # -- settings: devices, language
        await page.get_by_role("link", name="Settings").click()
        await screen_title(page, "Settings")
        await screen.check("wallet-settings", full_page=True)
        await page.get_by_label("Language").select_option("ja")
        await screen_title(page, "設定")
        assert await page.evaluate("document.documentElement.lang") == "ja"
        await expect(page.get_by_role("navigation")).to_contain_text("ウォレット")
        await screen.check("wallet-settings-ja")
        await page.get_by_role("link", name="ウォレット").click()
        await screen_title(page, "ウォレット")
        await expect(page.locator("li.credential h3")).to_have_text("住民証明書")
        await screen.check("wallet-ja")
        await page.get_by_role("link", name="設定").click()
        await page.get_by_label("言語").select_option("en")
        await screen_title(page, "Settings")

        # -- a screen the resident left before its data arrived never replaces the one they went to:
        # the language change redraws settings after the device list, held here until the resident
        # has moved on to the wallet
        held = asyncio.Event()

        async def hold(route: Any) -> None:
            await held.wait()
            await route.continue_()

        await page.route("**/v1/devices", hold)
        await page.get_by_label("Language").select_option("ja")
        await page.get_by_role("link", name="ウォレット").click()
        await screen_title(page, "ウォレット")
        async with page.expect_response("**/v1/devices"):
            held.set()
        await page.unroute("**/v1/devices", hold)
        await page.wait_for_timeout(300)  # the late answer has been handled by now
        await screen_title(page, "ウォレット")
        await page.get_by_role("link", name="設定").click()
        await page.get_by_label("言語").select_option("en")
        await screen_title(page, "Settings")

        # -- an election: the city opens it and offers the voting credential; the resident votes
        service_key = new_service_key()
        election = await open_election(w, service_url, await fund(w.city.chain, service_key),
                                       election_id=ELECTION_ID, title=ELECTION_TITLE)
        async with ballot_box(tmp_path, w.city.chain, service_key, election, port=port,
                              allow_origins=(w.wallet_url,)) as box:
            link, pin = await eligibility_offer(w, ELECTION_ID)
            await page.get_by_role("link", name="Scan").click()
            await page.get_by_label("Or paste a link").fill(link)
            await page.get_by_role("button", name="Open link").click()
            await screen_title(page, "Credential offer")
            await page.get_by_label("PIN (6 digits)").fill(pin)
            await page.keyboard.press("Enter")
            await screen_title(page, "Voting eligibility")
            await page.goto(election["ballot_page"])
            await screen_title(page, ELECTION_TITLE)
            state = page.locator("#ballot-state")
            await tab_to(page, page.get_by_role("button", name="Get my ballot token"))
            await page.keyboard.press("Enter")
            await expect(state).to_have_attribute("data-state", "token")
            await expect(page.locator("#key-checked")).to_contain_text("committed on the blockchain")
            box.open()
            # a radio group: Tab reaches it, the arrow keys choose
            await tab_to(page, page.get_by_label("Yes", exact=True))
            await page.keyboard.press("ArrowDown")
            await expect(page.get_by_label("No", exact=True)).to_be_checked()
            await tab_to(page, page.get_by_role("button", name="Cast my ballot"))
            await page.keyboard.press("Enter")
            await expect(state).to_have_attribute("data-state", "cast")
            await expect(page.locator("#voted-choice")).to_have_text("No")
            await box.service.anchor_pending(flush=True)
            await page.get_by_role("button", name="Check my ballot").click()
            await expect(page.locator("[data-verified]")).to_have_attribute("data-verified", "true")
            (stored,) = await box.service.store.ballots(ELECTION_ID)
            assert stored.choice == "No"
            # the page's receipt is the ballot the service holds; the wallet server saw none of it
            assert await page.locator("dd.mono").last.inner_text() == "0x" + stored.commitment.hex()
            records = b"".join(p.read_bytes() for p in tmp_path.glob("wallet.db*"))
            assert stored.token.serial not in records and stored.token.signature not in records
            # the phone keeps the election and its receipt
            await page.get_by_role("link", name="Vote").click()
            await screen_title(page, "Vote")
            await expect(page.locator("li.card")).to_contain_text("Your ballot is cast.")
            await screen.check("wallet-vote-list", full_page=True)
        assert not screen.problems



async def _funded(chain: Chain) -> Key:
    """A funded owner for another service's did:ethr on the node."""
    owner = new_service_key()
    await fund(chain, owner)
    return owner


def _issuer_headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {ISSUER_TOKEN}"}


async def test_the_page_refills_the_resident_card_when_its_last_copy_is_shown(
    browser, shots: Path, tmp_path: Path
) -> None:
    async with browser_world(tmp_path) as w:
        screen = await open_screen(browser, shots)
        page = screen.page
        await page.goto(f"{w.wallet_url}/app/")
        await screen_title(page, "Set up your City Wallet")
        await page.get_by_label("Enrolment code").fill(await enrolment_code(w))
        await page.get_by_role("button", name="Register this phone").click()
        await screen_title(page, "Your wallet")
        pin = await kyc_offer(w, (await page.evaluate(_DEVICE_KEY))["residentId"])
        await page.reload()
        await page.get_by_role("link", name="Review offer").click()
        await page.get_by_label("PIN (6 digits)").fill(pin)
        await page.keyboard.press("Enter")
        await screen_title(page, "Resident card")
        async with w.session.get(f"{w.wallet_url}/admin/v1/credentials", headers=_issuer_headers()) as resp:
            vct = (await resp.json())["items"][0]["vct"]

        # each presentation shows a copy never shown before (copy_policy one_time); the last one
        # shown, the page makes fresh keys and refills the batch
        for left in range(COPIES - 1, -1, -1):
            request = await w.service.verifier.create_request(query(vct), purpose=PURPOSE_ID, now=w.clock())
            await page.get_by_role("link", name="Scan").click()
            await page.get_by_label("Or paste a link").fill(request.deep_link)
            await page.get_by_role("button", name="Open link").click()
            await screen_title(page, "Share your data?")
            await expect(page.locator(".copies-left")).to_have_attribute("data-copies-left", str(left))
            await page.get_by_role("button", name="Share", exact=True).click()
            await expect(page.locator(".notice.ok")).to_have_text(f"Shared with {SERVICE_NAME}.")
        await expect(page.locator("#status")).to_contain_text("New copies of your Resident card")
        cnf = {_cnf(r)["x"] for r in w.service.results}
        assert len(cnf) == COPIES  # five presentations, five keys

        async with w.session.get(f"{w.wallet_url}/admin/v1/credentials", headers=_issuer_headers()) as resp:
            issued = (await resp.json())["items"]
        assert len(issued) == 2 * COPIES
        copy_keys = await page.evaluate(_COPY_KEYS)
        assert len(copy_keys) == 2 * COPIES
        assert all(c["extractable"] is False for c in copy_keys)

        # the refilled copies are the batch's: the next presentation shows one of them, with a new key
        request = await w.service.verifier.create_request(query(vct), purpose=PURPOSE_ID, now=w.clock())
        await page.get_by_role("link", name="Scan").click()
        await page.get_by_label("Or paste a link").fill(request.deep_link)
        await page.get_by_role("button", name="Open link").click()
        await screen_title(page, "Share your data?")
        await expect(page.locator(".copies-left")).to_have_attribute("data-copies-left", str(COPIES - 1))
        await page.get_by_role("button", name="Share", exact=True).click()
        await expect(page.locator(".notice.ok")).to_have_text(f"Shared with {SERVICE_NAME}.")
        new = _cnf(w.service.results[-1])["x"]
        assert new not in cnf and new in {c["publicJwk"]["x"] for c in copy_keys}
        assert not screen.problems
