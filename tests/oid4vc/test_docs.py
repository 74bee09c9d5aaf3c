"""The "verify a resident's age" snippet in docs/oid4vc.md runs as written (20 lines or fewer of SDK
code), with a static key table standing in for the chain-backed DID resolver."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from urllib.parse import parse_qsl

from vcsdk.credentials import StaticKeyResolver, peek, present
from vcsdk.oid4vc import (
    CandidateCredential,
    build_authorization_response,
    build_consent,
    match_dcql,
    verify_request_object,
)

from .conftest import CITY_DID, SERVICE_DID, VCT, resident_credential

DOC = Path(__file__).resolve().parents[2] / "docs" / "oid4vc.md"


def _age_snippet() -> str:
    section = DOC.read_text(encoding="utf-8").split("## Verify a resident's age in your service", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_snippet_is_at_most_twenty_lines():
    lines = [line for line in _age_snippet().splitlines() if line.strip()]
    assert len(lines) <= 20


async def test_snippet_runs(city_key, service_key, device_key):
    granted: list[tuple[str, bool]] = []
    shown: list[tuple[bytes, str]] = []
    namespace = {
        "SERVICE_DID": SERVICE_DID,
        "service_key": service_key,
        "resolver": StaticKeyResolver({CITY_DID: city_key}),
        "status_checker": None,
        "RESIDENT_VCT": VCT,
        "grant_access": lambda state, over_18: granted.append((state, over_18)),
        "show_to_resident": lambda qr, link: shown.append((qr, link)),
    }
    code = compile(_age_snippet(), str(DOC), "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    await eval(code, namespace)
    verifier, request = namespace["verifier"], namespace["request"]
    assert shown and shown[0][1] == request.deep_link and shown[0][0].startswith(b"<?xml")

    # A wallet answers (the real clock is used by the snippet, so the KB-JWT uses it too).
    from datetime import UTC, datetime

    now = datetime.now(UTC)
    wallet_request = verify_request_object(
        request.request_object, service_key.public_key(), expected_client_id=request.client_id, now=now
    )
    vc = resident_credential(city_key, device_key, now=now)
    unverified = peek(vc)
    (chosen,) = build_consent(
        wallet_request,
        match_dcql(
            wallet_request.dcql_query, [CandidateCredential("vc", "dc+sd-jwt", VCT, unverified.unverified_claims)]
        ),
    ).credentials
    presentation = present(
        vc,
        disclose=chosen.claims,
        holder_signer=device_key,
        audience=wallet_request.client_id,
        nonce=wallet_request.nonce,
        now=now,
    )
    post = build_authorization_response(wallet_request, {chosen.query_id: presentation})
    result = await verifier.handle_response(dict(parse_qsl(post.body.decode())), now=now)
    await namespace["on_result"](result)
    assert granted == [(request.state, True)]
