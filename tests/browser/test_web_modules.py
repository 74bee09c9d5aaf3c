"""The wallet's own readers, run in Chromium and compared with the SDK: the SD-JWT claims it shows
(with recursive, array-element and decoy disclosures) and the split into shared and withheld."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests._net import serve
from tests.browser._chromium import open_screen
from tests.wallet_server.conftest import make_settings
from vcsdk.credentials import issue_sd_jwt_vc, sd_jwt
from vcsdk.keys import Key
from wallet_server import create_app

NOW = datetime(2026, 4, 1, tzinfo=UTC)
ISSUER = Key.generate("P-256")
HOLDER = Key.generate("P-256")
CLAIMS: dict[str, Any] = {
    "family_name": "加賀",
    "given_name": "花子",
    "birthdate": "1990-04-01",
    "address": {"postal_code": "922-8501", "locality": "加賀市", "street_address": "大聖寺南町ニ41"},
    "age_equal_or_over": {"18": True, "20": True, "65": False},
    "nationalities": ["JP", "FR"],
    "verification": {"level": "substantial", "method": "resident_registry"},
}
CASES: dict[str, tuple[list[tuple[Any, ...]], int]] = {
    "flat": ([("family_name",), ("given_name",), ("birthdate",)], 0),
    "recursive": ([("address",), ("address", "locality"), ("address", "street_address"), ("age_equal_or_over",),
                   ("age_equal_or_over", "20"), ("age_equal_or_over", "65")], 0),
    "array elements and decoys": ([("nationalities", None), ("family_name",), ("verification", "level")], 3),
    "nothing selective": ([], 2),
}
READ = """async (token) => {
  const m = await import('/static/shared/sdjwt.js')
  const read = await m.readSdJwt(token)
  const split = m.shareSplit(read, [['address', 'locality'], ['age_equal_or_over', '20'], ['nationalities', null]])
  return {claims: read.claims, selective: read.selective, always: read.always,
          shared: split.shared.map(([p]) => p), withheld: split.withheld.map(([p]) => p)}
}"""


@pytest.fixture
async def page(browser, tmp_path: Path):  # type: ignore[no-untyped-def]
    async with serve(create_app(make_settings((f"sqlite:///{tmp_path / 'w.db'}", None)))) as base:
        screen = await open_screen(browser, tmp_path)
        await screen.page.goto(f"{base}/app/")
        yield screen.page
        assert not screen.problems


def _sdk_claims(token: str) -> dict[str, Any]:
    parsed = sd_jwt.parse(token)
    processed = sd_jwt.process_disclosures(parsed.payload, parsed.disclosures, hashlib.sha256)
    return {k: v for k, v in processed.claims.items() if k not in ("_sd", "_sd_alg")}


def _leaves(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(value, dict):
        return [leaf for k, v in value.items() for leaf in _leaves(v, (*path, k))]
    if isinstance(value, list):
        return [leaf for i, v in enumerate(value) for leaf in _leaves(v, (*path, i))]
    return [path]


async def test_the_wallet_reads_what_the_sdk_reads(page) -> None:
    for case, (disclosable, decoys) in CASES.items():
        token = issue_sd_jwt_vc(CLAIMS, issuer="did:example:city", signer=ISSUER, vct="urn:city:resident",
                               disclosable=disclosable, holder_key=HOLDER.public_key(), now=NOW, decoys=decoys)
        seen = await page.evaluate(READ, token)
        assert seen["claims"] == _sdk_claims(token), case
        expected = {p for path in disclosable for p in _expand(path, CLAIMS)}
        assert {tuple(p) for p in seen["selective"]} == expected, case
        assert set(seen["always"]) >= {"iss", "iat", "vct", "cnf"}, case
        # Shared and withheld cover each selectively disclosable leaf once; nothing else is listed.
        selective_leaves = {leaf for leaf in _leaves(CLAIMS) if any(_covers(p, leaf) for p in expected)}
        shared, withheld = {tuple(p) for p in seen["shared"]}, {tuple(p) for p in seen["withheld"]}
        assert shared | withheld == selective_leaves and not shared & withheld, case
        asked = [("address", "locality"), ("age_equal_or_over", "20"), ("nationalities", None)]
        assert all(any(_covers(a, leaf) for a in asked) for leaf in shared), case
        assert not any(any(_covers(a, leaf) for a in asked) for leaf in withheld), case


def _expand(path: tuple[Any, ...], value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """A DCQL claims path with ``None`` (every element) as the concrete paths it names."""
    if not path:
        return [prefix]
    head, *rest = path
    if head is None:
        return [p for i, item in enumerate(value) for p in _expand(tuple(rest), item, (*prefix, i))]
    return _expand(tuple(rest), value[head], (*prefix, head))


def _covers(prefix: tuple[Any, ...], path: tuple[Any, ...]) -> bool:
    return len(prefix) <= len(path) and all(p is None or p == q for p, q in zip(prefix, path, strict=False))
