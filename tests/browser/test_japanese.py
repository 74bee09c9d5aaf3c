"""Every screen in Japanese, in headless Chromium with a Japanese browser (``ja-JP``): the wallet
(set-up, wallet with an offer, the offer, the credential, scan, consent, shared, activity, consents
and the withdrawal dialog, the ballot page's list, settings) and every console section for both
roles (sign-in, overview, residents, identity checks, credentials and the revoke dialog, status
lists, receipt anchoring, services, elections, open data). Each passes axe-core at 390x844: the
English journeys check the same screens in English (and photograph them for docs/screenshots; these
stay in the test's folder)."""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import expect

from tests.browser._chromium import Screen, open_screen
from tests.browser._world import browser_world, enrolment_code, kyc_offer, screen_title
from tests.e2e._parties import PURPOSE_ID, query
from tests.wallet_server._helpers import ISSUER_TOKEN, OPERATOR_TOKEN

JA = {"locale": "ja-JP"}


async def console_sign_in(screen: Screen, base: str, token: str) -> None:
    page = screen.page
    await page.goto(f"{base}/console/")
    await screen_title(page, "職員サインイン")
    await page.get_by_label("管理トークン").fill(token)
    await page.get_by_role("button", name="サインイン").click()
    await expect(page.locator("h1#screen-title")).not_to_have_text("職員サインイン")


async def test_every_screen_in_japanese(browser, tmp_path: Path) -> None:
    async with browser_world(tmp_path) as w:
        phone = await open_screen(browser, tmp_path / "ja", **JA)
        page = phone.page
        await page.goto(f"{w.wallet_url}/app/")
        assert await page.evaluate("document.documentElement.lang") == "ja"
        await phone.check("ja-wallet-welcome")
        await page.get_by_label("登録コード").fill(await enrolment_code(w))
        await page.get_by_role("button", name="この端末を登録する").click()
        await screen_title(page, "ウォレット")
        await phone.check("ja-wallet-empty")
        async with w.session.get(f"{w.wallet_url}/admin/v1/residents",
                                 headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"}) as resp:
            (resident,) = (await resp.json())["items"]
        pin = await kyc_offer(w, resident["id"])
        await page.reload()
        await screen_title(page, "ウォレット")
        await phone.check("ja-wallet-offers")
        await page.get_by_role("link", name="内容を確認する").click()
        await expect(page.get_by_label("暗証番号（6桁）")).to_be_visible()
        await phone.check("ja-wallet-offer")
        await page.get_by_label("暗証番号（6桁）").fill(pin)
        await page.get_by_role("button", name="受け取って保存する").click()
        await screen_title(page, "住民証明書")
        await phone.check("ja-wallet-credential", full_page=True)

        async with w.session.get(f"{w.wallet_url}/admin/v1/credentials",
                                 headers={"Authorization": f"Bearer {ISSUER_TOKEN}"}) as resp:
            issued = (await resp.json())["items"][0]  # the first of the resident card's copies
        request = await w.service.verifier.create_request(query(issued["vct"]), purpose=PURPOSE_ID, now=w.clock())
        await page.goto(f"{w.wallet_url}/app/#/scan")
        await expect(page.get_by_label("またはリンクを貼り付け")).to_be_visible()
        await phone.check("ja-wallet-scan")
        await page.get_by_label("またはリンクを貼り付け").fill(request.deep_link)
        await page.get_by_role("button", name="リンクを開く").click()
        await expect(page.get_by_role("button", name="提供する", exact=True)).to_be_visible()
        await phone.check("ja-wallet-consent", full_page=True)
        await page.get_by_role("button", name="提供する", exact=True).click()
        await expect(page.locator(".notice.ok")).to_be_visible()
        await phone.check("ja-wallet-shared")
        await page.goto(f"{w.wallet_url}/app/#/activity")
        await expect(page.locator("li.receipt")).to_have_count(1)
        await phone.check("ja-wallet-activity", full_page=True)
        await page.goto(f"{w.wallet_url}/app/#/consents")
        await expect(page.locator("li.consent")).to_have_count(1)
        await phone.check("ja-wallet-consents")
        await page.get_by_role("button", name="同意を撤回する").click()
        await expect(page.get_by_role("dialog")).to_be_visible()
        await phone.check("ja-wallet-withdraw-dialog")
        await page.keyboard.press("Escape")
        await page.goto(f"{w.wallet_url}/app/#/vote")
        await screen_title(page, "投票")
        await phone.check("ja-wallet-vote", full_page=True)
        await page.goto(f"{w.wallet_url}/app/#/settings")
        await screen_title(page, "設定")
        await phone.check("ja-wallet-settings", full_page=True)

        # -- the console, each role's sections
        staff = await open_screen(browser, tmp_path / "ja", **JA)
        await staff.page.goto(f"{w.wallet_url}/console/")
        await screen_title(staff.page, "職員サインイン")
        await staff.check("ja-console-signin")
        for token, sections in (
            (OPERATOR_TOKEN, ("home", "residents", "anchoring", "services", "elections", "opendata")),
            (ISSUER_TOKEN, ("kyc", "credentials", "status", "elections")),
        ):
            await console_sign_in(staff, w.wallet_url, token)
            for name in sections:
                await staff.page.goto(f"{w.wallet_url}/console/#/{name}")
                current = staff.page.get_by_role("navigation").locator("a[aria-current=page]")
                await expect(current).to_have_attribute("href", f"#/{name}")
                await expect(staff.page.locator("h1#screen-title")).to_be_focused()
                await staff.check(f"ja-console-{name}-{'operator' if token == OPERATOR_TOKEN else 'issuer'}",
                                  full_page=True)
            if token == ISSUER_TOKEN:
                await staff.page.goto(f"{w.wallet_url}/console/#/credentials")
                await staff.page.locator("li.issued").get_by_role("button", name="失効").first.click()
                await expect(staff.page.get_by_role("dialog")).to_be_visible()
                await staff.check("ja-console-revoke-dialog")
                await staff.page.keyboard.press("Escape")
            await staff.page.get_by_role("button", name="サインアウト").click()
        assert not phone.problems and not staff.problems
