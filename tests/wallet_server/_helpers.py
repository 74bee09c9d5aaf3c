"""Test helpers: a phone that holds a device key and signs DPoP proofs, and a settable clock."""

from __future__ import annotations

import asyncio
import secrets
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient

from vcsdk.keys import Key, sign_jws
from wallet_server import create_app
from wallet_server.services.auth import access_token_hash
from wallet_server.settings import Settings

OPERATOR_TOKEN = "operator-token-" + "x" * 20
ISSUER_TOKEN = "issuer-token-" + "y" * 20
SIGNING_KEY = Key.generate("P-256")


class Clock:
    """A clock the test moves by hand; starts at the real time so proofs made with it are fresh."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def admin_headers(token: str = OPERATOR_TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass
class Phone:
    """A resident's phone: a P-256 key that never leaves it, and the tokens the server gave it."""

    client: TestClient  # type: ignore[type-arg]
    clock: Clock
    key: Key = field(default_factory=lambda: Key.generate("P-256"))
    resident_id: str = ""
    device_id: str = ""
    access_token: str = ""
    refresh_token: str = ""

    def url(self, path: str) -> str:
        return str(self.client.make_url(path))

    def proof(
        self,
        method: str,
        path: str,
        *,
        access_token: str | None = None,
        key: Key | None = None,
        **overrides: Any,
    ) -> str:
        signer = key or self.key
        claims: dict[str, Any] = {
            "htm": method,
            "htu": self.url(path),
            "iat": int(self.clock().timestamp()),
            "jti": secrets.token_urlsafe(12),
        }
        if access_token is not None:
            claims["ath"] = access_token_hash(access_token)
        claims.update(overrides)
        claims = {k: v for k, v in claims.items() if v is not None}
        return sign_jws(claims, signer, typ="dpop+jwt", header={"jwk": signer.public_jwk()}, include_kid=False)

    def auth_headers(self, method: str, path: str, **overrides: Any) -> dict[str, str]:
        return {
            "Authorization": f"DPoP {self.access_token}",
            "DPoP": self.proof(method, path.split("?")[0], access_token=self.access_token, **overrides),
        }

    async def call(self, method: str, path: str, **kwargs: Any) -> Any:
        headers = {**self.auth_headers(method, path), **kwargs.pop("headers", {})}
        return await self.client.request(method, path, headers=headers, **kwargs)

    async def enrol(self, code: str, name: str = "phone") -> Any:
        return await self.client.post(
            "/v1/enrolment", json={"code": code, "public_jwk": self.key.public_jwk(), "name": name}
        )

    def assertion(self, nonce: str, *, aud: str = "https://wallet.test", key: Key | None = None, **extra: Any) -> str:
        claims = {"nonce": nonce, "aud": aud, "iat": int(self.clock().timestamp()), **extra}
        return sign_jws(claims, key or self.key, typ="wallet-auth+jwt")

    async def login(self) -> None:
        challenge = await (await self.client.post("/v1/auth/challenge")).json()
        resp = await self.client.post(
            "/v1/auth/token", json={"device_id": self.device_id, "assertion": self.assertion(challenge["nonce"])}
        )
        assert resp.status == 200, await resp.text()
        self.take(await resp.json())

    def take(self, tokens: dict[str, Any]) -> None:
        self.access_token = tokens["access_token"]
        self.refresh_token = tokens["refresh_token"]


async def issue_code(client: TestClient, resident_id: str | None = None) -> dict[str, Any]:  # type: ignore[type-arg]
    body = {} if resident_id is None else {"resident_id": resident_id}
    resp = await client.post("/admin/v1/enrolment-codes", json=body, headers=admin_headers())
    assert resp.status == 201, await resp.text()
    result: dict[str, Any] = await resp.json()
    return result


async def new_resident(client: TestClient, clock: Clock) -> Phone:  # type: ignore[type-arg]
    """Enrol a new resident's phone and log it in."""
    code = await issue_code(client)
    phone = Phone(client, clock)
    resp = await phone.enrol(code["code"])
    assert resp.status == 201, await resp.text()
    body = await resp.json()
    phone.resident_id, phone.device_id = body["resident_id"], body["device"]["id"]
    await phone.login()
    return phone


class ServerThread:
    """The wallet server on 127.0.0.1 with a free port, in a thread with its own loop."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._loop = asyncio.new_event_loop()
        self._started = threading.Event()
        self._runner: web.AppRunner | None = None
        self.base_url = ""
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._start())
        self._started.set()
        self._loop.run_forever()
        if self._runner is not None:
            self._loop.run_until_complete(self._runner.cleanup())
        self._loop.close()

    async def _start(self) -> None:
        self._runner = web.AppRunner(create_app(self._settings), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.base_url = f"http://127.0.0.1:{port}"

    def __enter__(self) -> ServerThread:
        self._thread.start()
        assert self._started.wait(timeout=30), "server did not start"
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=30)


CITY_KEY = Key.generate("P-256")
CITY_DID = "did:example:city"


def sd_jwt(n: int = 0, *, holder: Key | None = None) -> str:
    """A real SD-JWT VC from a test issuer, different for every ``n``."""
    from vcsdk.credentials import issue_sd_jwt_vc

    return issue_sd_jwt_vc(
        {"given_name": "Ada", "card_number": n},
        issuer=CITY_DID,
        signer=CITY_KEY,
        vct="urn:city:resident",
        disclosable=[("given_name",), ("card_number",)],
        holder_key=holder.public_key() if holder else None,
        now=datetime.now(UTC),
    )
