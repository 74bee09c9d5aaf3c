"""Python clients of the wallet server's HTTP API: a resident's phone and the city's staff.

:class:`WalletClient` is what a wallet app does, in Python: it holds the device key (which never
leaves it), enrols, logs in by signing a challenge, sends a DPoP proof (RFC 9449) with every call,
and signs the ``signing_input`` the server hands out for key proofs and presentations.
:class:`AdminClient` calls the city admin API with an admin token. Both are thin: each method is one
documented route (docs/wallet-api.md), or the two or three calls of one step. A non-2xx answer
raises :class:`WalletApiError` with the server's problem ``code`` and ``detail``.

Use them for prototypes, tests and scripts against a running server (``vcsdk dev up``).
"""

from __future__ import annotations

import secrets
import time
from types import TracebackType
from typing import Any, Self

import aiohttp

from vcsdk.encoding import b64url_encode
from vcsdk.errors import VcsdkError
from vcsdk.keys import Key, sign_jws
from wallet_server.services.auth import access_token_hash

__all__ = ["AdminClient", "WalletApiError", "WalletClient"]


class WalletApiError(VcsdkError):
    """The wallet server answered with an error: ``code`` is its problem code, ``status`` the HTTP status."""

    code = "wallet_api_error"

    def __init__(self, method: str, path: str, status: int, body: Any) -> None:
        problem = body if isinstance(body, dict) else {}
        code = str(problem.get("code") or problem.get("error") or f"http_{status}")
        detail = str(problem.get("detail") or problem.get("error_description") or "")
        super().__init__(f"{method} {path} answered {status} {code}: {detail}".rstrip(": "), code=code,
                         details={"status": status})
        self.status = status
        self.body = body


class _Api:
    def __init__(self, base_url: str, session: aiohttp.ClientSession | None) -> None:
        self.base_url = base_url.rstrip("/")
        self._session = session
        self._own_session = session is None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        return self._session

    async def _send(self, method: str, path: str, *, json: Any = None, headers: dict[str, str] | None = None) -> Any:
        async with self.session.request(method, self.base_url + path, json=json, headers=headers) as response:
            body = await response.json(content_type=None) if response.content_length != 0 else None
            if response.status >= 400:
                raise WalletApiError(method, path, response.status, body)
            return body

    async def close(self) -> None:
        """Close the HTTP session this client opened (not one it was given)."""
        if self._own_session and self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()


class AdminClient(_Api):
    """The city admin API (``/admin/v1/…``) with an admin token (``vcsdk dev up`` prints one).

    :param base_url: the wallet server, e.g. ``http://127.0.0.1:8080``.
    :param token: the admin token (``Authorization: Bearer``).
    """

    def __init__(self, base_url: str, token: str, *, session: aiohttp.ClientSession | None = None) -> None:
        super().__init__(base_url, session)
        self._headers = {"Authorization": f"Bearer {token}"}

    async def call(self, method: str, path: str, json: Any = None) -> Any:
        """One admin route; returns the JSON answer. :raises WalletApiError: on a 4xx/5xx answer."""
        return await self._send(method, path, json=json, headers=self._headers)

    async def enrolment_code(self, resident_id: str | None = None) -> str:
        """A one-time enrolment code for a new resident (or another phone of ``resident_id``)."""
        body = {} if resident_id is None else {"resident_id": resident_id}
        return str((await self.call("POST", "/admin/v1/enrolment-codes", body))["code"])

    async def issue(self, resident_id: str, **identity: str) -> dict[str, Any]:
        """KYC against the resident registry, then an offer in the resident's inbox.

        :param identity: ``family_name``, ``given_name``, ``birthdate`` (YYYY-MM-DD), ``address``.
        :return: the answer: ``outcome`` (``verified``, ``partial_match``, …), ``tx_code``, ``offer``.
        """
        return dict(await self.call("POST", "/admin/v1/issuances", {"resident_id": resident_id, **identity}))

    async def credentials(self, resident_id: str) -> list[dict[str, Any]]:
        """The credentials issued to a resident (metadata only, never claims)."""
        return list((await self.call("GET", f"/admin/v1/credentials?resident_id={resident_id}"))["items"])

    async def revoke(self, credential_id: str) -> dict[str, Any]:
        """Revoke a credential: the status list is published and its digest anchored at once."""
        return dict(await self.call("POST", f"/admin/v1/credentials/{credential_id}/revoke", {}))


class WalletClient(_Api):
    """A resident's phone: the device key, and DPoP-bound calls to the wallet API.

    :param base_url: the wallet server, e.g. ``http://127.0.0.1:8080``.
    :param device_key: the phone's private P-256 key (default: a fresh one).
    :param audience: the server's ``issuer`` setting, the ``aud`` of login assertions (the
        challenge names it; this is only a fallback).
    """

    def __init__(
        self, base_url: str, *, device_key: Key | None = None, session: aiohttp.ClientSession | None = None
    ) -> None:
        super().__init__(base_url, session)
        self.device_key = device_key or Key.generate("P-256")
        self.resident_id = ""
        self.device_id = ""
        self._access_token = ""
        self._copy_keys: dict[str, Key] = {}

    def __repr__(self) -> str:
        return f"WalletClient({self.base_url!r}, device={self.device_id or 'not enrolled'})"

    def _proof(self, method: str, url: str) -> str:
        claims: dict[str, Any] = {"htm": method, "htu": url, "iat": int(time.time()), "jti": secrets.token_urlsafe(16)}
        if self._access_token:
            claims["ath"] = access_token_hash(self._access_token)
        key = self.device_key
        return sign_jws(claims, key, typ="dpop+jwt", header={"jwk": key.public_jwk()}, include_kid=False)

    def sign(self, signing_input: str, jwk: dict[str, Any] | None = None) -> str:
        """The device's ES256 signature of a ``signing_input`` the server handed out, base64url:
        with the key of ``jwk`` when it is one of this phone's credential copy keys, else the device key."""
        key = self._copy_keys.get(str(jwk.get("x"))) if isinstance(jwk, dict) else None
        return b64url_encode((key or self.device_key).sign(signing_input.encode("ascii")))

    def new_copy_keys(self, count: int) -> list[dict[str, str]]:
        """``count`` fresh P-256 keys, one per credential copy (kept on this phone); their public JWKs."""
        keys = [Key.generate("P-256") for _ in range(count)]
        self._copy_keys.update({k.public_jwk()["x"]: k for k in keys})
        return [k.public_jwk() for k in keys]

    async def enrol(self, code: str, *, name: str = "phone") -> None:
        """Enrol this phone with an enrolment code, then log in.

        :raises WalletApiError: e.g. ``invalid_input`` for a used or expired code.
        """
        body = await self._send("POST", "/v1/enrolment",
                                json={"code": code, "public_jwk": self.device_key.public_jwk(), "name": name})
        self.resident_id, self.device_id = body["resident_id"], body["device"]["id"]
        await self.login()

    async def login(self) -> None:
        """Sign the server's challenge with the device key and take the tokens."""
        challenge = await self._send("POST", "/v1/auth/challenge")
        assertion = sign_jws({"nonce": challenge["nonce"], "aud": challenge["audience"], "iat": int(time.time())},
                             self.device_key, typ="wallet-auth+jwt")
        tokens = await self._send("POST", "/v1/auth/token", json={"device_id": self.device_id, "assertion": assertion})
        self._access_token = tokens["access_token"]

    async def call(self, method: str, path: str, json: Any = None) -> Any:
        """One resident route, with ``Authorization: DPoP`` and a fresh proof; returns the JSON answer.

        :raises WalletApiError: on a 4xx/5xx answer.
        """
        headers = {"Authorization": f"DPoP {self._access_token}",
                   "DPoP": self._proof(method, self.base_url + path.split("?", 1)[0])}
        return await self._send(method, path, json=json, headers=headers)

    async def receive_offer(
        self, tx_code: str | None, *, offer_id: str | None = None, copies: int = 0
    ) -> dict[str, Any]:
        """Redeem an offer from the inbox (the first pending one unless ``offer_id``): accept with the
        PIN, sign the key proof with the device key, store the credential — or, with ``copies``, a
        batch of that many copies, each bound to its own fresh key (shown to one service only).

        :return: the stored credential's metadata (``id``, ``vct``, ``issuer``, …; the first copy).
        """
        if offer_id is None:
            pending = [o for o in (await self.call("GET", "/v1/offers"))["items"] if o["state"] == "pending"]
            if not pending:
                raise WalletApiError("GET", "/v1/offers", 404, {"code": "not_found", "detail": "no pending offer"})
            offer_id = str(pending[0]["id"])
        body: dict[str, Any] = {"tx_code": tx_code} if tx_code else {}
        if copies:
            body["keys"] = self.new_copy_keys(copies)
        accepted = await self.call("POST", f"/v1/offers/{offer_id}/accept", body)
        signatures = [self.sign(i["signing_input"], i["jwk"]) for i in accepted["signing_inputs"]]
        return dict(await self.call("POST", f"/v1/offers/{offer_id}/signature", {"signatures": signatures}))

    async def present(self, request_uri: str, *, share: bool = True) -> dict[str, Any]:
        """Answer a service's ``openid4vp://`` request in one go: :meth:`start_presentation`, then
        :meth:`finish_presentation`.

        :return: the presentation: ``state`` ``shared`` (``outcome.receipt_id`` once the service
            returned a receipt), ``refused`` (``outcome.error``, e.g. ``credential_revoked``) or
            ``declined``.
        """
        return await self.finish_presentation(await self.start_presentation(request_uri), share=share)

    async def start_presentation(self, request_uri: str) -> dict[str, Any]:
        """The consent screen for a service's request: who asks, why, which claims, ``satisfiable``."""
        return dict(await self.call("POST", "/v1/presentations", {"request_uri": request_uri}))

    async def finish_presentation(self, screen: dict[str, Any], *, share: bool = True) -> dict[str, Any]:
        """Consent (the default options), sign each Key Binding JWT with the key its credential copy
        is bound to (the device key for a credential that is not a copy), send; or
        ``decline`` with ``share=False``. :return: the presentation as :meth:`present` does."""
        path = f"/v1/presentations/{screen['id']}"
        if not share:
            return dict(await self.call("POST", f"{path}/decline", {}))
        consented = await self.call("POST", f"{path}/consent", {})
        signatures = [{"query_id": s["query_id"], "signature": self.sign(s["signing_input"], s.get("jwk"))}
                      for s in consented["signing_inputs"]]
        return dict(await self.call("POST", f"{path}/signature", {"signatures": signatures}))

    async def receipt(self, receipt_id: str) -> dict[str, Any]:
        """One access receipt with its anchoring state (``queued``, ``anchoring``, ``final``)."""
        return dict(await self.call("GET", f"/v1/receipts/{receipt_id}"))
