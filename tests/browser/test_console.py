"""City staff in the console, in headless Chromium, against the real parties: an operator enrols a
new resident, an issuer checks the identity against the SOAP registry (a partial match first, then
the exact one) and the offer reaches the resident's wallet, then the issuer revokes the credential
and the resident's wallet shows it revoked. Each token sees only its role's sections."""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import Page, expect

from tests.browser._chromium import Screen, open_screen
from tests.browser._world import COPIES, browser_world, screen_title
from tests.e2e._parties import ACTIVE, identity
from tests.wallet_server._helpers import ISSUER_TOKEN, OPERATOR_TOKEN


async def sign_in(screen: Screen, base: str, token: str) -> None:
    page = screen.page
    await page.goto(f"{base}/console/")
    await screen_title(page, "Staff sign-in")
    await page.get_by_label("Admin token").fill(token)
    await page.get_by_role("button", name="Sign in").click()
    await screen_title(page, "Overview")


async def sign_out(page: Page) -> None:
    await page.get_by_role("button", name="Sign out").click()
    await screen_title(page, "Staff sign-in")


async def test_staff_enrol_check_identity_issue_and_revoke(browser, shots: Path, tmp_path: Path) -> None:
    async with browser_world(tmp_path) as w:
        staff = await open_screen(browser, shots)
        page = staff.page
        await page.goto(f"{w.wallet_url}/console/")
        await screen_title(page, "Staff sign-in")
        await staff.check("console-signin")
        await page.get_by_label("Admin token").fill("not-a-token")
        await page.get_by_role("button", name="Sign in").click()
        await expect(page.locator("#status")).to_have_text("This token is not valid.")
        await expect(page.get_by_label("Admin token")).to_have_attribute("aria-invalid", "true")

        # -- an operator: the city's set-up and a new resident's enrolment code
        await sign_in(staff, w.wallet_url, OPERATOR_TOKEN)
        sections = page.get_by_role("navigation", name="Sections")
        await expect(sections.get_by_role("link")).to_have_text(
            ["Overview", "Residents", "Receipt anchoring", "Services", "Elections", "Open data"]
        )
        await expect(page.locator("dl.claims")).to_contain_text(w.city.did)
        await staff.check("console-home")
        await sections.get_by_role("link", name="Residents").click()
        await screen_title(page, "Residents")
        await page.get_by_role("button", name="New resident: enrolment code").click()
        code = await page.locator("#enrolment-code").inner_text()
        heading = await page.locator("#code-result h2").inner_text()
        resident_id = heading.removeprefix("Enrolment code for ")
        assert resident_id.startswith("res_") and len(code) >= 16
        await expect(page.locator("tbody tr")).to_have_count(1)
        await staff.check("console-residents")

        # -- the resident enrols their phone with the code
        phone = await open_screen(browser, shots)
        await phone.page.goto(f"{w.wallet_url}/app/")
        await phone.page.get_by_label("Enrolment code").fill(code)
        await phone.page.get_by_role("button", name="Register this phone").click()
        await screen_title(phone.page, "Your wallet")

        # -- an issuer: identity check against the registry, then the offer
        await sign_out(page)
        await sign_in(staff, w.wallet_url, ISSUER_TOKEN)
        await expect(sections.get_by_role("link")).to_have_text(
            ["Overview", "Identity checks", "Credentials", "Status lists", "Elections"]
        )
        await sections.get_by_role("link", name="Identity checks").click()
        await screen_title(page, "Identity check and issuance")
        claimed = identity(ACTIVE)
        await page.get_by_label("Resident id").fill(resident_id)
        await page.get_by_label("Family name").fill(claimed["family_name"])
        await page.get_by_label("Given name").fill(claimed["given_name"])
        await page.get_by_label("Date of birth").fill("1999-01-01")  # not what the registry says
        await page.get_by_label("Address").fill(claimed["address"])
        await page.get_by_role("button", name="Check and offer credential").click()
        outcome = page.locator("section[data-outcome]")
        await expect(outcome).to_have_attribute("data-outcome", "partial_match")
        await expect(outcome).to_contain_text("Matching fields:")
        await expect(page.locator("#outcome-title")).to_be_focused()  # the outcome is read out first
        await staff.check("console-kyc-partial", full_page=True)
        await page.get_by_label("Date of birth").fill(claimed["birthdate"])
        await page.get_by_role("button", name="Check and offer credential").click()
        await expect(outcome).to_have_attribute("data-outcome", "verified")
        pin = await page.locator("#tx-code").inner_text()
        assert pin.isdigit() and len(pin) == 6
        await expect(page.locator("table.data tbody tr")).to_have_count(2)  # this session's checks
        assert claimed["family_name"] not in await page.evaluate("sessionStorage.getItem('vcsdk.console.kyc')")
        await staff.check("console-kyc", full_page=True)

        # -- the resident accepts the offer with the PIN from the counter
        await phone.page.reload()
        await phone.page.get_by_role("link", name="Review offer").click()
        await phone.page.get_by_label("PIN (6 digits)").fill(pin)
        await phone.page.get_by_role("button", name="Accept and store").click()
        await screen_title(phone.page, "Resident card")
        await expect(phone.page.locator("#credential-status")).to_have_attribute("data-status", "valid")

        # -- the issuer revokes it; the status list is re-signed and anchored
        await sections.get_by_role("link", name="Status lists").click()
        await screen_title(page, "Status lists")
        before = int(await page.locator("tbody tr").first.get_attribute("data-version") or "0")
        await sections.get_by_role("link", name="Credentials").click()
        await screen_title(page, "Issued credentials")
        # the web wallet took the resident card as a batch of copies, one per service: one record each
        rows = page.locator("li.issued")
        await expect(rows).to_have_count(COPIES)
        for i in range(COPIES):
            await expect(rows.nth(i)).to_have_attribute("data-state", "valid")
            await expect(rows.nth(i)).to_contain_text(resident_id)
        row = rows.first
        await staff.check("console-credentials")
        credential_id = await row.get_attribute("data-credential")
        await row.get_by_role("button", name=f"Revoke: {credential_id}").click()
        dialog = page.get_by_role("dialog")
        await expect(dialog).to_contain_text("cannot be undone")
        await staff.check("console-revoke-dialog")
        await dialog.get_by_role("button", name="Revoke").click()
        await expect(page.locator("#status")).to_contain_text("Credential revoked")
        # revoking one copy revoked the batch: every copy, and nothing more to do with any
        for i in range(COPIES):
            await expect(rows.nth(i)).to_have_attribute("data-state", "revoked")
        await expect(rows.get_by_role("button")).to_have_count(0)
        await sections.get_by_role("link", name="Status lists").click()
        await screen_title(page, "Status lists")
        after = int(await page.locator("tbody tr").first.get_attribute("data-version") or "0")
        assert after > before
        await staff.check("console-status")

        # -- the resident's wallet reads the city's status list: revoked
        await phone.page.reload()
        await screen_title(phone.page, "Resident card")
        await expect(phone.page.locator("#credential-status")).to_have_attribute("data-status", "revoked")
        await expect(phone.page.locator("#credential-status")).to_have_text("Revoked by the issuer")
        await phone.check("wallet-credential-revoked")

        # -- an operator sees where receipt anchoring stands
        await sign_out(page)
        await sign_in(staff, w.wallet_url, OPERATOR_TOKEN)
        await sections.get_by_role("link", name="Receipt anchoring").click()
        await screen_title(page, "Receipt anchoring")
        await expect(page.locator("#queued")).to_have_text("0")
        await staff.check("console-anchoring")

        # -- the operator registers the service, then releases the month's open data
        await sections.get_by_role("link", name="Services").click()
        await screen_title(page, "Registered services")
        await expect(page.get_by_text("No service is registered yet.")).to_be_visible()
        await page.get_by_label("Service DID").fill(w.service.did)
        await page.get_by_label("Name residents see").fill("Kaga Onsen Shop")
        await page.get_by_label("Purpose", exact=True).fill("Selling sake requires age 20+")
        await page.get_by_label("Aged 20 or over").check()
        await page.get_by_label("City", exact=True).check()
        await page.get_by_label("Receipt endpoint").fill("https://shop.example/receipts")
        await page.get_by_label("Privacy policy").fill("https://shop.example/privacy")
        await page.get_by_role("button", name="Sign and register").click()
        service = page.locator("li.service")
        await expect(service).to_have_attribute("data-service", w.service.did)
        await expect(service).to_contain_text("Aged 20 or over, City")
        await staff.check("console-services", full_page=True)
        await sections.get_by_role("link", name="Open data").click()
        await screen_title(page, "Open data")
        await page.get_by_label("Epsilon (ε)").fill("0.7")
        await page.get_by_role("button", name="Release statistics").click()
        release = page.locator("section.release")
        await expect(release).to_have_count(1)
        await expect(release.locator("tbody tr")).to_have_count(1)  # the registered claim set is the cell
        await expect(release).to_contain_text("fewer than 10")
        await expect(page.locator("tr[data-period]")).to_contain_text("0.7")
        await staff.check("console-open-data", full_page=True)
        await page.get_by_role("button", name="Release statistics").click()  # 0.7 + 0.7 > 1
        await expect(page.locator("#status")).to_contain_text("privacy budget cannot pay")
        await expect(release).to_have_count(1)
        await page.get_by_role("button", name="日本語").click()
        await screen_title(page, "オープンデータ")
        await expect(release).to_contain_text("10 未満")
        await staff.check("console-open-data-ja", full_page=True)
        assert not staff.problems and not phone.problems
