"""The wallet's QR scanner with a camera: Chromium's fake camera plays a video of the service's QR
code; the page reads it (jsQR, pinned and served locally) and opens the consent screen. In Japanese."""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import expect

from tests.browser._chromium import chromium, open_screen, qr_video
from tests.browser._world import browser_world, enrolment_code, screen_title
from tests.e2e._parties import PURPOSE, PURPOSE_ID, SERVICE_NAME, query
from vcsdk.credentials import VctRegistry


async def test_scanning_a_services_qr_code_opens_its_consent_screen(shots: Path, tmp_path: Path) -> None:
    async with browser_world(tmp_path) as w:
        request = await w.service.verifier.create_request(
            query(VctRegistry().resident_identity), purpose=PURPOSE_ID, now=w.clock()
        )
        video = qr_video(request.deep_link, tmp_path / "qr.y4m")
        camera = ("--use-fake-device-for-media-stream", f"--use-file-for-fake-video-capture={video}")
        async with chromium(*camera) as browser:
            screen = await open_screen(browser, shots, locale="ja-JP", permissions=["camera"])
            page = screen.page
            await page.goto(f"{w.wallet_url}/app/")
            await screen_title(page, "市民ウォレットの設定")
            await screen.check("wallet-welcome-ja")
            await page.get_by_label("登録コード").fill(await enrolment_code(w))
            await page.get_by_role("button", name="この端末を登録する").click()
            await screen_title(page, "ウォレット")

            await page.get_by_role("link", name="読み取り").click()
            await screen_title(page, "QRコードの読み取り")
            await page.get_by_role("button", name="カメラを起動").click()
            # The scanner finds the code in the camera's picture and opens the request.
            await screen_title(page, "情報を提供しますか？")
            await expect(page.locator(".service-name")).to_have_text(SERVICE_NAME)
            await expect(page.locator(".purpose")).to_have_text(PURPOSE)
            # Nothing in this new wallet answers the request: only "don't share" is offered.
            await expect(page.locator(".notice.error")).to_contain_text("この依頼に応えられる証明書がありません")
            await expect(page.get_by_role("button", name="提供する", exact=True)).to_have_count(0)
            await screen.check("wallet-consent-unsatisfiable-ja")
            await page.get_by_role("button", name="提供しない").click()
            await expect(page.locator(".notice")).to_have_text("何も提供しませんでした。")

            assert not screen.problems
