"""An election in headless Chromium, against the real parties on a JSON-RPC node (anvil) the browser
reads too: an operator creates the election in the console, commits its token key on chain and
opens it; an issuer checks a resident against the SOAP registry and offers the eligibility
credential; the resident's web wallet stores it, and the ballot page checks the token key against
the chain, blinds a serial in the browser, gets the city's blind signature, casts directly at the
voting service (another origin), keeps the receipt and checks its inclusion against the chain; the
operator closes the election and keeps the tally verified against the chain. Every screen passes
axe-core, in English and Japanese, at 390x844."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

from playwright.async_api import expect

from tests._net import free_port
from tests.browser._chromium import open_screen
from tests.browser._world import browser_world, enrolment_code, screen_title
from tests.browser.test_console import sign_in, sign_out
from tests.e2e._parties import ACTIVE, identity
from tests.e2e._voting import ballot_box, fund, new_service_key, voting_service_url
from tests.wallet_server._helpers import ISSUER_TOKEN, OPERATOR_TOKEN
from vcsdk.registry import DevNode

ELECTION_ID = "kaga-2027-referendum"
TITLE = "Kaga city referendum 2027"


def minute(moment: datetime) -> str:
    """A ``datetime-local`` value (the browser runs in UTC here)."""
    return moment.strftime("%Y-%m-%dT%H:%M")


async def test_an_election_from_the_console_to_a_ballot_cast_in_the_browser(
    browser, shots: Path, tmp_path: Path, anvil_node: DevNode
) -> None:
    port = free_port()
    service_url = voting_service_url(port, ELECTION_ID)
    origins = (f"http://127.0.0.1:{port}", f"{urlsplit(anvil_node.url).scheme}://{urlsplit(anvil_node.url).netloc}")
    async with browser_world(tmp_path, node=anvil_node, web_connect_origins=origins, web_rpc_url=anvil_node.url) as w:
        staff = await open_screen(browser, shots, timezone_id="UTC")
        page = staff.page

        # -- an operator creates the election and its token key
        await sign_in(staff, w.wallet_url, OPERATOR_TOKEN)
        sections = page.get_by_role("navigation", name="Sections")
        await sections.get_by_role("link", name="Elections").click()
        await screen_title(page, "Elections")
        await expect(page.get_by_text("No election yet.")).to_be_visible()
        opens = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(minutes=15)
        await page.get_by_label("Election id").fill(ELECTION_ID)
        await page.get_by_label("Title", exact=True).fill(TITLE)
        await page.get_by_label("Choices").fill("Yes\nNo")
        await page.get_by_label("Districts").fill(f"kaga, {ACTIVE.address.city}")
        await page.get_by_label("Voting opens").fill(minute(opens))
        await page.get_by_label("Voting closes").fill(minute(opens + timedelta(hours=12)))
        await page.get_by_label("Voting service", exact=True).fill(service_url)
        await staff.check("console-elections-new", full_page=True)
        await page.get_by_role("button", name="Create election and token keys").click()
        card = page.locator("li.election")
        await expect(card).to_have_attribute("data-state", "draft")
        await expect(page.locator("#status")).to_contain_text(f"{TITLE} is created")

        # -- commit the key on chain (the voting service's account may anchor), then open
        service_key = new_service_key()
        anchorer = await fund(w.city.chain, service_key)
        await card.get_by_label("Voting service account (optional)").fill(anchorer)
        await staff.check("console-elections-draft", full_page=True)
        await card.get_by_role("button", name=f"Commit token key on chain: {TITLE}").click()
        await expect(card).to_have_attribute("data-state", "committed")
        await expect(card.locator(".commitment")).to_contain_text("the election’s key: block ")
        contract = await card.locator(".contract").inner_text()
        await staff.check("console-elections-committed", full_page=True)
        await card.get_by_role("button", name=f"Open voting: {TITLE}").click()
        await expect(card).to_have_attribute("data-state", "open")
        ballot_page = await page.locator(f"#ballot-page-{ELECTION_ID}").inner_text()
        assert ballot_page.startswith(f"{w.wallet_url}/app/#/vote?") and "rpc=" in ballot_page

        async with w.session.get(f"{w.wallet_url}/voting/{ELECTION_ID}") as resp:
            public = await resp.json()
        assert public["anchor"]["contract"] == contract
        async with ballot_box(tmp_path, w.city.chain, service_key, public, port=port,
                              allow_origins=(w.wallet_url,)) as box:
            # -- the resident's phone, enrolled with a code from the counter
            phone = await open_screen(browser, shots, timezone_id="UTC")
            await phone.page.goto(f"{w.wallet_url}/app/")
            await phone.page.get_by_label("Enrolment code").fill(await enrolment_code(w))
            await phone.page.get_by_role("button", name="Register this phone").click()
            await screen_title(phone.page, "Your wallet")

            # -- an issuer checks the resident against the registry: the eligibility credential's offer
            await sign_out(page)
            await sign_in(staff, w.wallet_url, ISSUER_TOKEN)
            await sections.get_by_role("link", name="Elections").click()
            await screen_title(page, "Elections")
            await expect(page.get_by_role("button", name="Create election and token keys")).to_have_count(0)
            claimed = identity(ACTIVE)
            await card.get_by_label("Family name").fill(claimed["family_name"])
            await card.get_by_label("Given name").fill(claimed["given_name"])
            await card.get_by_label("Date of birth").fill(claimed["birthdate"])
            await card.get_by_label("Address").fill(claimed["address"])
            await card.get_by_role("button", name="Check and offer voting credential").click()
            outcome = card.locator("section[data-outcome]")
            await expect(outcome).to_have_attribute("data-outcome", "offered")
            link = await page.locator("#eligibility-offer").inner_text()
            pin = await page.locator("#eligibility-pin").inner_text()
            assert link.startswith("openid-credential-offer://") and pin.isdigit()
            await staff.check("console-elections-eligibility", full_page=True)

            # -- the resident pastes the link, enters the PIN: the credential is in the wallet
            await phone.page.get_by_role("link", name="Scan").click()
            await phone.page.get_by_label("Or paste a link").fill(link)
            await phone.page.get_by_role("button", name="Open link").click()
            await screen_title(phone.page, "Credential offer")
            await phone.page.get_by_label("PIN (6 digits)").fill(pin)
            await phone.page.get_by_role("button", name="Accept and store").click()
            await screen_title(phone.page, "Voting eligibility")
            await expect(phone.page.locator("dl.claims").first).to_contain_text(ELECTION_ID)
            await phone.check("wallet-credential-eligibility", full_page=True)

            # -- the ballot page: the key checked on chain, a blind signature for a serial only the phone knows
            await phone.page.goto(ballot_page)
            await screen_title(phone.page, TITLE)
            state = phone.page.locator("#ballot-state")
            await expect(state).to_have_attribute("data-state", "open")
            await phone.check("wallet-vote-token")
            await phone.page.get_by_role("button", name="Get my ballot token").click()
            await expect(state).to_have_attribute("data-state", "token")
            await expect(phone.page.locator("#key-checked")).to_contain_text("committed on the blockchain")
            await phone.check("wallet-vote-ballot", full_page=True)

            # -- voting opens at the service; the ballot goes there directly, from the browser
            box.open()
            await phone.page.get_by_label("Yes", exact=True).check()
            await phone.page.get_by_role("button", name="Cast my ballot").click()
            await expect(state).to_have_attribute("data-state", "cast")
            await expect(phone.page.locator("#voted-choice")).to_have_text("Yes")
            assert await box.service.store.ballot_count(ELECTION_ID) == 1
            check = phone.page.get_by_role("button", name="Check my ballot")
            await check.click()
            await expect(phone.page.locator("[data-verified]")).to_have_attribute("data-verified", "pending")
            await box.service.anchor_pending(flush=True)
            await check.click()
            await expect(phone.page.locator("[data-verified]")).to_have_attribute("data-verified", "true")
            await phone.check("wallet-vote-receipt", full_page=True)
            # the ballot page keeps the election; in Japanese too
            await phone.page.get_by_role("link", name="Settings").click()
            await phone.page.get_by_label("Language").select_option("ja")
            await phone.page.get_by_role("link", name="投票").click()
            await screen_title(phone.page, "投票")
            await expect(phone.page.locator("li.card")).to_contain_text("投票しました")
            await phone.check("wallet-vote-list-ja")
            await phone.page.goto(ballot_page)
            await screen_title(phone.page, TITLE)
            await expect(state).to_have_attribute("data-state", "cast")
            await phone.check("wallet-vote-receipt-ja", full_page=True)

            # the wallet server saw none of it: no serial, signature or ballot in its database
            records = b"".join(p.read_bytes() for p in tmp_path.glob("wallet.db*"))
            (stored,) = await box.service.store.ballots(ELECTION_ID)
            assert stored.token.serial not in records and stored.token.signature not in records

            # -- the operator closes; the service publishes; the console keeps the verified tally
            await sign_out(page)
            await sign_in(staff, w.wallet_url, OPERATOR_TOKEN)
            await sections.get_by_role("link", name="Elections").click()
            await card.get_by_role("button", name=f"Close: {TITLE}").click()
            dialog = page.get_by_role("dialog")
            await expect(dialog).to_contain_text("cannot be undone")
            await staff.check("console-elections-close-dialog")
            await dialog.get_by_role("button", name="Close").click()
            await expect(card).to_have_attribute("data-state", "closed")
            await box.close()
            await card.get_by_role("button", name=f"Fetch and verify results: {TITLE}").click()
            await expect(card).to_have_attribute("data-state", "published")
            await expect(card.locator("tr[data-choice=Yes]")).to_contain_text("1")
            await expect(card.locator("tr[data-choice=No]")).to_contain_text("0")
            await expect(card.locator(".tally")).to_contain_text("Ballots: 1; anchored batches: 1.")
            await staff.check("console-elections-tally", full_page=True)
            await page.get_by_role("button", name="日本語").click()
            await screen_title(page, "選挙")
            await expect(card.locator(".state")).to_have_text("結果を検証済み")
            await staff.check("console-elections-ja", full_page=True)
            assert not staff.problems and not phone.problems
