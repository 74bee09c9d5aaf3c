"""Device authentication: challenge login, DPoP-bound access tokens (RFC 9449), rotating refresh tokens.

No passwords. A device proves possession of its registered P-256 key three ways:

1. **Login** — it signs a server challenge (single-use nonce, short expiry) as a compact JWS
   (``typ`` ``wallet-auth+jwt``); the server verifies it with the key registered for the device,
   never a key from the token.
2. **Every request** — ``Authorization: DPoP <access token>`` plus a ``DPoP`` proof JWT signed by
   the same key, with ``htm``, ``htu``, ``iat``, a single-use ``jti`` and ``ath`` (the access token's
   SHA-256). The access token carries ``cnf.jkt``, the device key's RFC 7638 thumbprint.
3. **Refresh** — a refresh token is usable once, only with a DPoP proof of its device's key; a token
   used twice revokes its whole family (RFC 9700 §4.14.2 reuse detection).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from vcsdk.encoding import numeric_date
from vcsdk.errors import (
    InvalidInputError,
    NotFoundError,
    ProtocolError,
    UnsupportedAlgorithmError,
    VerificationError,
)
from vcsdk.keys import AlgorithmPolicy, Key, decode_jws, sign_jws, verify_jws
from vcsdk.oid4vc import VerifiedDpopProof, access_token_hash, verify_dpop_proof
from wallet_server.errors import (
    AccessTokenExpiredError,
    AuthenticationError,
    DpopProofError,
    DpopReplayError,
    RefreshTokenReuseError,
)
from wallet_server.services._common import Clock, new_id, require_id, require_str, sha256_hex
from wallet_server.storage import Device, DeviceProof, DeviceProofOutcome, RefreshToken, Store

__all__ = [
    "ACCESS_TOKEN_TYP",
    "LOGIN_TYP",
    "AuthService",
    "Challenge",
    "Principal",
    "TokenPair",
    "access_token_hash",
    "refuse_proof",
]

ACCESS_TOKEN_TYP = "at+jwt"  # noqa: S105 - RFC 9068 media type, not a secret
LOGIN_TYP = "wallet-auth+jwt"
DEVICE_POLICY = AlgorithmPolicy(("ES256",))
_MAX_TOKEN = 8192


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller: a resident acting through one of their devices."""

    resident_id: str
    device_id: str
    jkt: str


@dataclass(frozen=True, slots=True)
class Challenge:
    """A login challenge: sign ``{"nonce", "aud", "iat"}`` with the device key before ``expires_at``."""

    nonce: str
    audience: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class TokenPair:
    """What a login or refresh returns: a DPoP-bound access token and a one-time refresh token."""

    access_token: str
    refresh_token: str
    expires_in: int
    resident_id: str
    device_id: str

    def __repr__(self) -> str:
        # Never print the tokens themselves.
        return f"TokenPair(resident_id={self.resident_id!r}, device_id={self.device_id!r})"


class AuthService:
    """Issues and checks the wallet's tokens.

    :param store: the wallet store.
    :param signing_keys: private P-256 keys; the first signs new access tokens, all of them verify
        (keep a retired key here for one access-token lifetime after rotating).
    :param issuer: the ``iss``/``aud`` of tokens and the ``aud`` a login assertion must name.
    :param clock: returns the current UTC time.
    """

    def __init__(
        self,
        store: Store,
        *,
        signing_keys: Sequence[Key],
        issuer: str,
        clock: Clock,
        access_ttl: timedelta = timedelta(minutes=5),
        refresh_ttl: timedelta = timedelta(days=30),
        challenge_ttl: timedelta = timedelta(minutes=2),
        dpop_max_age: timedelta = timedelta(seconds=60),
        leeway: timedelta = timedelta(seconds=5),
    ) -> None:
        if not signing_keys or any(not k.is_private or k.curve != "P-256" for k in signing_keys):
            raise InvalidInputError("access tokens need at least one private P-256 signing key")
        self._store = store
        self._signing = signing_keys[0]
        self._verifying: dict[str, Key] = {str(k.kid): k.public_key() for k in signing_keys}
        self._issuer = issuer
        self._clock = clock
        self._access_ttl = access_ttl
        self._refresh_ttl = refresh_ttl
        self._challenge_ttl = challenge_ttl
        self._dpop_max_age = dpop_max_age
        self._leeway = leeway
        # Per process and bounded: access tokens whose signature and shape checked out (``exp`` is
        # still compared on every request), and parsed device keys by thumbprint. Neither holds a
        # secret; both only spare the same signature check and JWK parse on every request.
        self._verified_tokens: dict[str, dict[str, Any]] = {}
        self._device_keys: dict[str, Key] = {}

    # -- login -------------------------------------------------------------------------------

    async def challenge(self) -> Challenge:
        """A fresh single-use nonce for :meth:`login`."""
        nonce = secrets.token_urlsafe(32)
        expires_at = self._clock() + self._challenge_ttl
        await self._store.add_challenge(sha256_hex(nonce), expires_at=expires_at)
        return Challenge(nonce, self._issuer, expires_at)

    async def login(self, device_id: str, assertion: str) -> TokenPair:
        """Exchange a signed challenge for tokens.

        :param device_id: the device that signed.
        :param assertion: compact JWS, ``typ`` ``wallet-auth+jwt``, payload ``{"nonce", "aud", "iat"}``.
        :raises AuthenticationError: unknown device, bad signature, wrong audience, stale ``iat``,
            or a nonce that is unknown, used or expired (one error for all, on purpose).
        :return: an access token and a refresh token.
        """
        try:
            device_id = require_id(device_id, "device")
        except NotFoundError:
            raise AuthenticationError("the device is not registered (or was removed); enrol it again") from None
        assertion = require_str(assertion, "assertion", max_len=_MAX_TOKEN)
        now = self._clock()
        device = await self._device_or_fail(device_id)
        try:
            claims = verify_jws(assertion, self._device_key(device), policy=DEVICE_POLICY, typ=LOGIN_TYP).claims()
        except (VerificationError, InvalidInputError, UnsupportedAlgorithmError) as exc:
            raise AuthenticationError("the login assertion does not verify with this device's key") from exc
        nonce, iat = claims.get("nonce"), claims.get("iat")
        if claims.get("aud") != self._issuer or not isinstance(nonce, str) or len(nonce) > 128:
            raise AuthenticationError("the login assertion must name this server as aud and carry the nonce")
        self._check_iat(iat, max_age=self._challenge_ttl, what="login assertion")
        if not await self._store.consume_challenge(sha256_hex(nonce), now=now):
            raise AuthenticationError("the login nonce is unknown, used or expired; ask for a new challenge")
        return await self._issue(device, family_id=new_id("fam"), now=now)

    async def refresh(self, refresh_token: str, *, dpop: Sequence[str], method: str, url: str) -> TokenPair:
        """Rotate a refresh token; the request must carry a DPoP proof of the device key.

        :raises AuthenticationError: unknown, expired or revoked refresh token; removed device.
        :raises DpopProofError: missing or invalid proof.
        :raises RefreshTokenReuseError: the token was used before; its family is now revoked.
        :return: a new token pair in the same family.
        """
        refresh_token = require_str(refresh_token, "refresh_token", max_len=128)
        now = self._clock()
        try:
            record = await self._store.get_refresh_token(sha256_hex(refresh_token))
        except NotFoundError:
            raise AuthenticationError("the refresh token is not valid; log in again") from None
        if record.revoked_at is not None or record.expires_at <= now:
            raise AuthenticationError("the refresh token is not valid; log in again")
        device = await self._device_or_fail(record.device_id)
        self._device_key(device)  # the registered key is the one a proof for this jkt must carry
        jti_hash, expires_at = self._check_proof(
            dpop, jkt=device.jkt, method=method, url=url, access_token=None, now=now
        )
        if not await self._store.remember_jti(jti_hash, expires_at=expires_at):
            raise DpopReplayError("this DPoP proof was used before; make a new proof for every request")
        before = await self._store.use_refresh_token(record.token_hash, now=now)
        if before.used_at is not None:
            await self._store.revoke_refresh_family(record.family_id, now=now)
            raise RefreshTokenReuseError("the refresh token was already used; every session of this login ended")
        return await self._issue(device, family_id=record.family_id, now=now)

    async def logout(self, principal: Principal, refresh_token: str) -> None:
        """End the login a refresh token belongs to (the caller's own device only).

        :raises NotFoundError: if the token is unknown or belongs to another device.
        """
        refresh_token = require_str(refresh_token, "refresh_token", max_len=128)
        try:
            record = await self._store.get_refresh_token(sha256_hex(refresh_token))
        except NotFoundError:
            raise NotFoundError("no such refresh token") from None
        if record.device_id != principal.device_id:
            raise NotFoundError("no such refresh token")
        await self._store.revoke_refresh_family(record.family_id, now=self._clock())

    # -- per request -------------------------------------------------------------------------

    async def authenticate(
        self, *, authorization: str | None, dpop: Sequence[str], method: str, url: str
    ) -> Principal:
        """Check ``Authorization: DPoP <token>`` and the ``DPoP`` proof of one request.

        :param dpop: every ``DPoP`` header value (exactly one is allowed).
        :param url: the URL the client used (the public base URL plus the path).
        :raises AuthenticationError: no or bad access token, removed device, ended login.
        :raises AccessTokenExpiredError: the access token expired (refresh it).
        :raises DpopProofError: proof missing, malformed, for another method/URL/token or key.
        :raises DpopReplayError: the proof was used before.
        :return: who is calling.
        """
        principal, proof = self.check_request(authorization=authorization, dpop=dpop, method=method, url=url)
        refuse_proof(await self.record_proof(proof))
        return principal

    async def record_proof(self, proof: DeviceProof) -> DeviceProofOutcome:
        """Record a proof :meth:`check_request` returned (its ``jti`` is then spent), only while its
        device still holds the key and its login was not ended (one round trip).

        :return: ``"ok"``, or why it was not recorded (pass it to :func:`refuse_proof`).
        """
        # The proof's key is the token's cnf key; the device must still hold it.
        # The token's login (refresh-token family) must not have ended: logout takes effect at once.
        return await self._store.use_device_proof(proof)

    def check_request(
        self, *, authorization: str | None, dpop: Sequence[str], method: str, url: str
    ) -> tuple[Principal, DeviceProof]:
        """What :meth:`authenticate` checks without the database: the access token and the proof.

        The caller must record the returned proof before it answers, in the same statement as its
        own query (e.g. :meth:`~wallet_server.storage.CredentialStore.prove_and_list_credential_keys`),
        and pass the outcome to :func:`refuse_proof`: until then the caller is not authenticated. A
        request refused before that statement must still spend the proof (:meth:`record_proof`).

        :raises AuthenticationError: no or bad access token.
        :raises AccessTokenExpiredError: the access token expired (refresh it).
        :raises DpopProofError: proof missing, malformed, for another method/URL/token or key.
        """
        if authorization is None:
            raise AuthenticationError("this route needs Authorization: DPoP <access token> and a DPoP proof")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "dpop" or not token or len(token) > _MAX_TOKEN:
            raise AuthenticationError("use the DPoP authorization scheme: Authorization: DPoP <access token>")
        now = self._clock()
        token = token.strip()
        claims = self._verify_access_token(token, now=now)
        jkt: str = claims["cnf"]["jkt"]
        jti_hash, expires_at = self._check_proof(dpop, jkt=jkt, method=method, url=url, access_token=token, now=now)
        family = claims.get("fam")
        proof = DeviceProof(
            jti_hash, expires_at, claims["dev"], claims["sub"], jkt, family if isinstance(family, str) else None
        )
        return Principal(claims["sub"], claims["dev"], jkt), proof

    # -- internals ---------------------------------------------------------------------------

    async def _device_or_fail(self, device_id: str) -> Device:
        try:
            return await self._store.get_device(device_id)
        except NotFoundError:
            raise AuthenticationError("the device is not registered (or was removed); enrol it again") from None

    async def _issue(self, device: Device, *, family_id: str, now: datetime) -> TokenPair:
        claims: dict[str, Any] = {
            "iss": self._issuer,
            "aud": self._issuer,
            "sub": device.resident_id,
            "dev": device.id,
            "iat": int(now.timestamp()),
            "exp": int((now + self._access_ttl).timestamp()),
            "jti": secrets.token_urlsafe(16),
            "cnf": {"jkt": device.jkt},
            "fam": family_id,  # the login this token belongs to: logout ends it at once
        }
        access = sign_jws(claims, self._signing, typ=ACCESS_TOKEN_TYP)
        refresh = secrets.token_urlsafe(32)
        await self._store.add_refresh_token(
            RefreshToken(sha256_hex(refresh), family_id, device.resident_id, device.id, now, now + self._refresh_ttl)
        )
        return TokenPair(access, refresh, int(self._access_ttl.total_seconds()), device.resident_id, device.id)

    def _verify_access_token(self, token: str, *, now: datetime) -> dict[str, Any]:
        claims = self._verified_tokens.get(token)
        if claims is None:
            claims = self._verify_access_token_signature(token)
            _remember(self._verified_tokens, token, claims)
        if claims["exp"] <= now.timestamp():
            raise AccessTokenExpiredError("the access token expired; use the refresh token")
        return claims

    def _verify_access_token_signature(self, token: str) -> dict[str, Any]:
        try:
            unverified = decode_jws(token, max_bytes=_MAX_TOKEN)
            kid = unverified.header.get("kid")
            key = self._verifying.get(kid) if isinstance(kid, str) else None
            if key is None:
                raise AuthenticationError("the access token was not issued by this server")
            claims = verify_jws(unverified, key, policy=DEVICE_POLICY, typ=ACCESS_TOKEN_TYP).claims()
        except AuthenticationError:
            raise
        except (VerificationError, InvalidInputError, UnsupportedAlgorithmError) as exc:
            raise AuthenticationError("the access token is not valid") from exc
        exp, cnf = claims.get("exp"), claims.get("cnf")
        if (
            claims.get("iss") != self._issuer
            or not isinstance(exp, int)
            or isinstance(exp, bool)
            or not isinstance(claims.get("sub"), str)
            or not isinstance(claims.get("dev"), str)
            or not isinstance(cnf, dict)
            or not isinstance(cnf.get("jkt"), str)
        ):
            raise AuthenticationError("the access token is not valid")
        return claims

    def _device_key(self, device: Device) -> Key:
        """The registered key of a device, parsed once per process."""
        cached = self._device_keys.get(device.jkt)
        if cached is not None:
            return cached
        key = Key.from_jwk(device.public_jwk)
        _remember(self._device_keys, device.jkt, key)
        return key

    def _check_iat(self, iat: object, *, max_age: timedelta, what: str) -> int:
        now = self._clock().timestamp()
        # RFC 7519 NumericDate: seconds, possibly with a fraction.
        try:
            iat = numeric_date(iat, what=f"the {what} iat")
        except InvalidInputError:
            raise AuthenticationError(f"the {what} needs a numeric iat") from None
        if iat > now + self._leeway.total_seconds() or iat < now - max_age.total_seconds():
            raise AuthenticationError(f"the {what} iat is outside the accepted window; check the phone's clock")
        return int(iat)

    def _check_proof(
        self,
        proofs: Sequence[str],
        *,
        jkt: str,
        method: str,
        url: str,
        access_token: str | None,
        now: datetime,
    ) -> tuple[str, datetime]:
        """Check a DPoP proof made with the key ``jkt``; return its replay-cache key and expiry.

        The checks are the SDK's (:func:`vcsdk.oid4vc.verify_dpop_proof`, RFC 9449 §4.3); the caller
        records the ``jti`` in the wallet store (and, per request, that the device still holds that key).
        """
        if len(proofs) != 1:
            raise DpopProofError("send exactly one DPoP header with a proof for this request")
        try:
            verified: VerifiedDpopProof = verify_dpop_proof(
                proofs[0],
                method=method,
                url=url,
                now=now,
                access_token=access_token,
                bound_jkt=jkt,
                known_key=self._device_keys.get(jkt),
                max_age=self._dpop_max_age,
                leeway=self._leeway,
            )
        except ProtocolError as exc:
            raise DpopProofError(exc.message) from exc
        if jkt not in self._device_keys:
            _remember(self._device_keys, jkt, verified.key)
        return sha256_hex(verified.replay_key), verified.replay_until


def refuse_proof(outcome: DeviceProofOutcome) -> None:
    """Raise the error for a DPoP proof the store did not record; nothing for ``"ok"``.

    :raises AuthenticationError: the device was removed or the login ended.
    :raises DpopReplayError: the proof was used before.
    """
    if outcome == "logged_out":
        raise AuthenticationError("this login was ended (logout); log in again")
    if outcome == "no_device":
        raise AuthenticationError("the device is not registered (or was removed); enrol it again")
    if outcome == "replay":
        raise DpopReplayError("this DPoP proof was used before; make a new proof for every request")


_CACHE_ENTRIES = 10_000


def _remember(cache: dict[str, Any], key: str, value: Any) -> None:
    """Add to a bounded cache, dropping the oldest entry when full."""
    if len(cache) >= _CACHE_ENTRIES:
        del cache[next(iter(cache))]
    cache[key] = value

