"""Property-based API testing: schemathesis generates requests from /openapi.json and checks answers.

The server runs for real on 127.0.0.1 (its own thread and event loop, SQLite in a temp dir). A phone
is enrolled first, so authenticated operations get a valid access token and a fresh DPoP proof for
each generated request, and the checks reach the handlers instead of stopping at 401.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, assume, given, settings
from schemathesis import GenerationMode
from schemathesis.config import SchemathesisConfig
from schemathesis.core.parameters import ParameterLocation

from tests.wallet_server._helpers import OPERATOR_TOKEN, SIGNING_KEY, ServerThread
from vcsdk.keys import Key, sign_jws
from wallet_server.openapi import build_openapi
from wallet_server.ratelimit import RateLimit
from wallet_server.services import AdminToken
from wallet_server.services.auth import access_token_hash
from wallet_server.settings import Settings

# Examples per operation and generation mode; raise it for a longer local run.
MAX_EXAMPLES = int(os.environ.get("WALLET_SCHEMATHESIS_EXAMPLES", "40"))


class Device:
    """The phone the generated requests act as."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.key = Key.generate("P-256")
        admin = {"Authorization": f"Bearer {OPERATOR_TOKEN}"}
        code = requests.post(f"{base_url}/admin/v1/enrolment-codes", json={}, headers=admin, timeout=10).json()
        enrolled = requests.post(
            f"{base_url}/v1/enrolment",
            json={"code": code["code"], "public_jwk": self.key.public_jwk(), "name": "fuzz"},
            timeout=10,
        ).json()
        self.device_id = enrolled["device"]["id"]
        self.login()

    def login(self) -> None:
        nonce = requests.post(f"{self.base_url}/v1/auth/challenge", timeout=10).json()["nonce"]
        import time

        assertion = sign_jws(
            {"nonce": nonce, "aud": "https://wallet.test", "iat": int(time.time())}, self.key, typ="wallet-auth+jwt"
        )
        tokens = requests.post(
            f"{self.base_url}/v1/auth/token", json={"device_id": self.device_id, "assertion": assertion}, timeout=10
        ).json()
        self.access_token = tokens["access_token"]

    def headers(self, method: str, path: str) -> dict[str, str]:
        import time

        proof = sign_jws(
            {
                "htm": method.upper(),
                "htu": f"{self.base_url}{path}",
                "iat": int(time.time()),
                "jti": secrets.token_urlsafe(12),
                "ath": access_token_hash(self.access_token),
            },
            self.key,
            typ="dpop+jwt",
            header={"jwk": self.key.public_jwk()},
            include_kid=False,
        )
        return {"Authorization": f"DPoP {self.access_token}", "DPoP": proof}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    db = Path(tmp_path_factory.mktemp("fuzz")) / "wallet.db"
    settings_ = Settings(
        database_url=f"sqlite:///{db}",
        issuer="https://wallet.test",
        token_signing_keys=(SIGNING_KEY,),
        data_keys=(("k1", b"\x02" * 32),),
        current_data_key="k1",
        admin_tokens=(
            AdminToken("ops", hashlib.sha256(OPERATOR_TOKEN.encode()).hexdigest(), frozenset({"operator", "issuer"})),
        ),
        ip_rate_limit=RateLimit(rate=10_000.0, burst=100_000),
        device_rate_limit=RateLimit(rate=10_000.0, burst=100_000),
    )
    with ServerThread(settings_) as running:
        yield running


@pytest.fixture(scope="module")
def device(server: ServerThread) -> Device:
    return Device(server.base_url)


@pytest.fixture(scope="module")
def api_schema(server: ServerThread) -> Any:
    document = requests.get(f"{server.base_url}/openapi.json", timeout=10).json()
    config = SchemathesisConfig.from_dict(
        {
            "checks": {
                # 413 is a fine answer to a schema-violating (oversized) body.
                "negative_data_rejection": {"expected-statuses": [400, 401, 403, 404, 405, 409, 413, 415, 429]},
                # Schema-valid is not always acceptable: a random x/y is no point on P-256, a random
                # enrolment code was never issued. Every other check (5xx, schemas, statuses, auth) runs.
                "positive_data_acceptance": {"enabled": False},
            }
        }
    )
    return schemathesis.openapi.from_dict(document, config=config)


_PATHS = build_openapi()["paths"]
# Negative generation needs something to break: only operations with parameters or a body get it.
OPERATIONS = [
    (path, method.upper(), mode)
    for path, ops in _PATHS.items()
    for method, op in ops.items()
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    if mode is GenerationMode.POSITIVE or "parameters" in op or "requestBody" in op
]


def test_served_document_is_the_generated_one(server: ServerThread) -> None:
    assert requests.get(f"{server.base_url}/openapi.json", timeout=10).json() == build_openapi()


@pytest.mark.slow  # a fuzz suite: hundreds of generated requests per operation
@pytest.mark.parametrize(("path", "method", "mode"), OPERATIONS, ids=[f"{m} {p} {g.value}" for p, m, g in OPERATIONS])
def test_api_conforms_to_its_openapi_document(
    api_schema: Any, server: ServerThread, device: Device, path: str, method: str, mode: GenerationMode
) -> None:
    operation = api_schema[path][method]
    security = operation.definition.raw.get("security", [])

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    def run(case: Any) -> None:
        headers: dict[str, str] = {}
        header_mode = case.meta.components.get(ParameterLocation.HEADER) if case.meta else None
        if header_mode is not None and header_mode.mode is GenerationMode.NEGATIVE:
            pass  # the generated (broken) Authorization header is the point of this case
        elif any("dpop" in s for s in security):
            headers = device.headers(case.method, case.formatted_path)
        elif any("adminToken" in s for s in security):
            headers = {"Authorization": f"Bearer {OPERATOR_TOKEN}"}
        kwargs = case.as_transport_kwargs(base_url=server.base_url)
        prepared = requests.Request(kwargs["method"], kwargs["url"], params=kwargs.get("params")).prepare()
        # aiohttp's HTTP parser refuses a request line over 8190 bytes with a plain-text 400 before
        # any application code runs; such cases say nothing about this API.
        assume(len(prepared.url or "") < 8000)
        if path == "/v1/devices/{device_id}" and (case.path_parameters or {}).get("device_id") == device.device_id:
            return  # never let a generated id remove the device the run authenticates with
        case.call_and_validate(base_url=server.base_url, headers=headers, timeout=30)

    run()
