"""The parties of the browser journeys, all real and on 127.0.0.1: the wallet server (the city's
back office and the residents' wallet) on the embedded chain, the SOAP resident registry, and a
third-party service with its own did:ethr (tests/e2e/_parties.py).

The browser signs DPoP proofs and logins with the real clock, so the parties run on it too.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from playwright.async_api import Locator, Page, expect

from tests.chain_fixtures import mine
from tests.e2e._parties import ACTIVE, World, identity, world
from tests.wallet_server._helpers import ISSUER_TOKEN, OPERATOR_TOKEN
from vcsdk.registry import DevNode
from wallet_server.appkeys import RECEIPTS

#: The copies of the resident card the web wallet asks for (COPIES in app/screens.js; the city's
#: issuer allows batches of 10).
COPIES = 5


def real_clock() -> datetime:
    return datetime.now(UTC)


@asynccontextmanager
async def browser_world(tmp_path: Path, *, node: DevNode | None = None, **settings: Any) -> AsyncIterator[World]:
    """The parties on the embedded chain, or on ``node`` (a JSON-RPC node the browser can read too)."""
    async with world(tmp_path, node=node, clock=real_clock, phone=False, settings=settings) as w:
        yield w


async def admin(w: World, method: str, path: str, body: Any = None, *, token: str = OPERATOR_TOKEN) -> Any:
    async with w.session.request(
        method, w.wallet_url + path, json=body, headers={"Authorization": f"Bearer {token}"}
    ) as resp:
        assert resp.status < 300, await resp.text()
        return await resp.json()


async def enrolment_code(w: World) -> str:
    return str((await admin(w, "POST", "/admin/v1/enrolment-codes", {}))["code"])


async def kyc_offer(w: World, resident_id: str) -> str:
    """The city's back office checks the identity and offers the credential; returns the PIN."""
    body = {"resident_id": resident_id, **identity()}
    answer = await admin(w, "POST", "/admin/v1/issuances", body, token=ISSUER_TOKEN)
    assert answer["outcome"] == "verified", answer
    return str(answer["tx_code"])


async def anchor_receipts(w: World) -> None:
    """Two rounds of the anchoring task around one more block (mined on the dev node behind the
    wallet server's chain): the receipts become final."""
    receipts = w.wallet[RECEIPTS]
    report = await receipts.tick()
    assert report.sent >= 1 and report.chain_error is None, report
    await mine(w.city.chain)
    report = await receipts.tick()
    assert report.finalized >= 1, report


async def tab_to(page: Page, target: Locator, *, limit: int = 40, back: bool = False) -> None:
    """Press Tab (or Shift+Tab) until ``target`` has the focus: it is reachable by keyboard alone."""
    for _ in range(limit):
        if await target.evaluate("el => el === document.activeElement"):
            return
        await page.keyboard.press("Shift+Tab" if back else "Tab")
    raise AssertionError(f"{target} is not reachable with the keyboard within {limit} presses")


async def screen_title(page: Page, text: str) -> None:
    """The screen changed: its heading shows ``text`` and has the focus (screen readers announce it)."""
    heading = page.locator("h1#screen-title")
    await expect(heading).to_have_text(text)
    await expect(heading).to_be_focused()


async def open_election(w: World, service_url: str, anchorer: str, *, election_id: str, title: str) -> dict[str, Any]:
    """The city's operator creates an election over the admin API, commits its token key on chain
    (the voting service's account may anchor) and opens it; returns its public description."""
    opens = real_clock().replace(microsecond=0) + timedelta(minutes=15)
    body = {
        "election_id": election_id, "title": title, "choices": ["Yes", "No"],
        "districts": [{"district": "kaga", "city": ACTIVE.address.city, "postal_code_prefixes": []}],
        "election_day": (opens + timedelta(days=1)).date().isoformat(), "opens_at": opens.isoformat(),
        "closes_at": (opens + timedelta(hours=12)).isoformat(), "voting_service_url": service_url,
    }
    await admin(w, "POST", "/admin/v1/elections", body)
    await admin(w, "POST", f"/admin/v1/elections/{election_id}/commit", {"anchorer": anchorer})
    return dict(await admin(w, "POST", f"/admin/v1/elections/{election_id}/open"))


async def eligibility_offer(w: World, election_id: str) -> tuple[str, str]:
    """An issuer's registry check for the seed resident: the offer link and its PIN."""
    answer = await admin(w, "POST", f"/admin/v1/elections/{election_id}/eligibility-offers", identity(),
                         token=ISSUER_TOKEN)
    assert answer["outcome"] == "offered", answer
    return str(answer["offer_uri"]), str(answer["tx_code"])
