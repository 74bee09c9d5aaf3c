"""The Python client in docs/wallet-api.md runs against a real server."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.wallet_server._helpers import OPERATOR_TOKEN, SIGNING_KEY, ServerThread
from wallet_server.services import AdminToken
from wallet_server.settings import Settings

DOC = Path(__file__).resolve().parents[2] / "docs" / "wallet-api.md"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerThread]:
    base = "http://127.0.0.1"
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'w.db'}",
        token_signing_keys=(SIGNING_KEY,),
        data_keys=(("k1", b"\x03" * 32),),
        current_data_key="k1",
        admin_tokens=(AdminToken("ops", hashlib.sha256(OPERATOR_TOKEN.encode()).hexdigest(), frozenset({"operator"})),),
        issuer=base,
    )
    with ServerThread(settings) as running:
        yield running


def test_the_documented_python_client_works(server: ServerThread) -> None:
    code = requests.post(
        f"{server.base_url}/admin/v1/enrolment-codes", json={}, headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"}
    ).json()["code"]
    # The block of "A complete client in Python" (the page has another, run against vcsdk dev up).
    (snippet,) = [b for b in re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S) if "import requests" in b]
    snippet = snippet.replace('"https://wallet.city.example"', repr(server.base_url)).replace('"ABCD-…"', repr(code))
    namespace: dict[str, Any] = {}
    exec(compile(snippet, str(DOC), "exec"), namespace)
    assert namespace["page"] == {"items": [], "next_cursor": None}
