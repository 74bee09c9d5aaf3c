"""DPoP proofs (RFC 9449): made by a wallet for each request, checked by the issuer's endpoints.

A DPoP proof is a JWT (``typ`` ``dpop+jwt``) signed by a key the client holds, carrying that
public key in its ``jwk`` header, the request's method (``htm``) and URL (``htu``), a unique
``jti``, ``iat``, the server's ``nonce`` when it asked for one, and (with an access token) the
token's hash ``ath``. An access token issued against a proof is bound to the key's thumbprint
(``cnf.jkt``); it is then useless without the private key.

This module is pure: :func:`verify_dpop_proof` checks one proof against one request; remembering
``jti`` values (replay) and handing out server nonces is the caller's, who has the state store
(:class:`DpopGuard` does both with a :class:`StateStore`; a server with its own store records
:attr:`VerifiedDpopProof.replay_key` until :attr:`VerifiedDpopProof.replay_until`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from vcsdk._b64 import b64url_encode
from vcsdk._time import from_numeric_date, numeric_date
from vcsdk.errors import ConflictError, InvalidInputError, ProtocolError, VcsdkError
from vcsdk.keys import AlgorithmPolicy, Key, decode_jws, sign_jws, verify_jws
from vcsdk.oid4vc._common import SYSTEM_RANDOMNESS, Randomness, StateStore, random_token

__all__ = [
    "DPOP_ALGORITHMS",
    "DPOP_TYP",
    "DpopGuard",
    "VerifiedDpopProof",
    "access_token_hash",
    "create_dpop_proof",
    "normalize_htu",
    "verify_dpop_proof",
]

#: RFC 9449 §4.2: the proof's ``typ``.
DPOP_TYP = "dpop+jwt"
#: HAIP 1.0 §7: ES256 with P-256 keys (asymmetric only: RFC 9449 §4.2 forbids MAC algorithms).
DPOP_ALGORITHMS = AlgorithmPolicy(("ES256",))
MAX_DPOP_BYTES = 8 * 1024


def _err(message: str) -> ProtocolError:
    return ProtocolError(message, code="invalid_dpop_proof")


def access_token_hash(access_token: str) -> str:
    """The DPoP ``ath`` value: base64url SHA-256 of the access token's ASCII (RFC 9449 §4.2)."""
    return b64url_encode(hashlib.sha256(access_token.encode("ascii")).digest())


def normalize_htu(url: str) -> str:
    """The URL without query and fragment, scheme and host lowercased, default port dropped (RFC 9449 §4.3).

    :raises InvalidInputError: if ``url`` is not an absolute http(s) URL.
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise InvalidInputError("htu is not a URL") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInputError("htu must be an absolute http or https URL")
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    if port is not None and (scheme, port) not in (("http", 80), ("https", 443)):
        host = f"{host}:{port}"
    return urlunsplit((scheme, host, parts.path or "/", "", ""))


def _shown_url(url: str) -> str:
    """The request URL as a proof's ``htu`` must name it, for error messages (the raw URL if unusable)."""
    try:
        return normalize_htu(url)
    except InvalidInputError:
        return url.split("?", 1)[0].split("#", 1)[0]



#: A server checks every request's proof against the same few URLs and access tokens: the two pure
#: functions above, remembered for the most recent ones (a URL that fails is not remembered).
_expected_htu = lru_cache(maxsize=1024)(normalize_htu)
_expected_ath = lru_cache(maxsize=1024)(access_token_hash)

def create_dpop_proof(
    key: Key,
    *,
    method: str,
    url: str,
    now: datetime,
    nonce: str | None = None,
    access_token: str | None = None,
    randomness: Randomness = SYSTEM_RANDOMNESS,
) -> str:
    """A DPoP proof for one request (RFC 9449 §4.2).

    :param key: the client's private DPoP key (P-256).
    :param url: the request URL; its query and fragment are left out of ``htu``.
    :param nonce: the server's last ``DPoP-Nonce``, when it asked for one.
    :param access_token: for a request to a protected resource: its hash becomes ``ath``.
    :raises InvalidInputError: if the key is public only or ``url`` is not an http(s) URL.
    :return: the proof, for the ``DPoP`` header.
    """
    if not key.is_private:
        raise InvalidInputError("a DPoP proof needs the private key")
    claims: dict[str, Any] = {
        "jti": random_token(randomness, 16),
        "htm": method.upper(),
        "htu": normalize_htu(url),
        "iat": int(now.timestamp()),
    }
    if nonce is not None:
        claims["nonce"] = nonce
    if access_token is not None:
        claims["ath"] = access_token_hash(access_token)
    return sign_jws(claims, key, typ=DPOP_TYP, header={"jwk": key.public_jwk()}, include_kid=False)


@dataclass(frozen=True, slots=True)
class VerifiedDpopProof:
    """A DPoP proof that verified for one request: the key and its thumbprint (``jkt``), and what the
    caller still checks with its state (``jti`` not seen before, ``nonce`` one it handed out).

    :ivar replay_until: how long the ``jti`` must be remembered to refuse a replay (RFC 9449 §11.1):
        the proof's ``iat`` plus the accepted age and twice the clock leeway.
    """

    jkt: str
    jti: str
    iat: int
    nonce: str | None
    key: Key
    replay_until: datetime

    @property
    def replay_key(self) -> str:
        """What identifies this proof in a replay store: the key thumbprint and the ``jti``."""
        return f"{self.jkt}:{self.jti}"


#: The members of an EC or OKP public JWK that its RFC 7638 thumbprint covers.
_KEY_MEMBERS = ("kty", "crv", "x", "y")


def _key_members(jwk: Mapping[str, Any]) -> tuple[object, ...]:
    return tuple(jwk.get(name) for name in _KEY_MEMBERS)


def _proof_key(jwk: Mapping[str, Any], *, bound_jkt: str | None, known_key: Key | None) -> tuple[Key, str]:
    """The key of a proof's ``jwk`` header and its thumbprint, refused unless it is ``bound_jkt``'s."""
    if known_key is not None and _key_members(jwk) == _key_members(known_key.public_jwk()):
        # The members a thumbprint covers are those of the key the caller holds for bound_jkt: same key.
        key, jkt = known_key, str(bound_jkt)
    else:
        try:
            key = Key.from_jwk(dict(jwk))
            jkt = key.thumbprint()
        except VcsdkError:
            raise _err("the DPoP proof's jwk header is not a supported public key") from None
        if bound_jkt is not None and jkt != bound_jkt:
            raise _err("the DPoP proof is signed by another key than the one this request is bound to")
    if key.curve != "P-256":
        raise _err("DPoP keys must be P-256")
    return key, jkt


def verify_dpop_proof(
    proof: str,
    *,
    method: str,
    url: str,
    now: datetime,
    access_token: str | None = None,
    bound_jkt: str | None = None,
    known_key: Key | None = None,
    max_age: timedelta = timedelta(minutes=5),
    leeway: timedelta = timedelta(seconds=60),
) -> VerifiedDpopProof:
    """Check a DPoP proof against the request it came with (RFC 9449 §4.3).

    The ``jwk`` header is what the proof proves possession of: it must be a public P-256 key, and the
    signature must verify with exactly that key (``alg`` from the allow-list, never ``none``/``HS*``).

    :param url: the endpoint's URL as the server publishes it (compared without query and fragment).
    :param access_token: the access token sent with the request: ``ath`` must be its hash.
    :param bound_jkt: the thumbprint of the key the token, code or device is bound to: a proof with
        another key is refused before its signature is checked.
    :param known_key: the public key with thumbprint ``bound_jkt``, when the caller holds it parsed
        already: a ``jwk`` header with the same key members is taken as that key without parsing.
    :param max_age: the oldest ``iat`` accepted. :param leeway: how far ahead ``iat`` may be.
    :raises InvalidInputError: if ``known_key`` comes without ``bound_jkt``.
    :raises ProtocolError: (``invalid_dpop_proof``) for any failed check.
    :return: the key and its thumbprint, ``jti``, ``iat``, ``nonce`` and how long to remember ``jti``.
    """
    if known_key is not None and bound_jkt is None:
        raise InvalidInputError("known_key is the key of bound_jkt: pass both")
    if not isinstance(proof, str) or len(proof) > MAX_DPOP_BYTES:
        raise _err("the DPoP proof is missing or too large")
    try:
        unverified = decode_jws(proof, max_bytes=MAX_DPOP_BYTES)
    except VcsdkError:
        raise _err("the DPoP proof is not a compact JWS") from None
    jwk = unverified.header.get("jwk")
    if not isinstance(jwk, Mapping) or "d" in jwk:
        raise _err("the DPoP proof needs the client's public key as its jwk header")
    key, jkt = _proof_key(jwk, bound_jkt=bound_jkt, known_key=known_key)
    try:
        claims = verify_jws(unverified, key, policy=DPOP_ALGORITHMS, typ=DPOP_TYP, header_keys="ignore").claims()
    except VcsdkError as exc:
        raise _err(f"the DPoP proof does not verify with its key ({exc.code})") from None
    if claims.get("htm") != method.upper():
        raise _err("the DPoP proof's htm does not match the request method")
    try:
        expected = _expected_htu(url)
    except InvalidInputError:
        raise _err("the request URL (its Host header) is not a URL a DPoP proof can name") from None
    htu = claims.get("htu")
    # An htu already in normal form is compared as it is; only a differently spelt one is normalised.
    if htu != expected:
        try:
            matches = isinstance(htu, str) and normalize_htu(htu) == expected
        except InvalidInputError:
            matches = False
        if not matches:
            # RFC 9449 §4.3: htu is the request URL without query and fragment. Behind a proxy the URL
            # the server expects comes from its public base URL: say which, so a client can see why.
            raise _err(
                f"the DPoP proof's htu does not match the request URL: this server expects htu {expected} "
                "(scheme, host and path, without query or fragment)"
            )
    try:
        iat = numeric_date(claims.get("iat"), what="the DPoP proof's iat")
    except InvalidInputError:
        raise _err("the DPoP proof needs a numeric iat (seconds since the epoch)") from None
    ts = now.timestamp()
    if iat > ts + leeway.total_seconds() or iat < ts - max_age.total_seconds():
        raise _err("the DPoP proof's iat is not fresh (check the clock); make a new proof for every request")
    jti = claims.get("jti")
    if not isinstance(jti, str) or not 8 <= len(jti) <= 128:
        raise _err("the DPoP proof needs a unique jti (8 to 128 characters)")
    if access_token is not None and claims.get("ath") != _expected_ath(access_token):
        raise _err("the DPoP proof's ath does not match the access token")
    nonce = claims.get("nonce")
    if nonce is not None and not isinstance(nonce, str):
        raise _err("the DPoP proof's nonce is not a string")
    replay_until = from_numeric_date(iat, what="the DPoP proof's iat") + max_age + 2 * leeway
    return VerifiedDpopProof(jkt, jti, int(iat), nonce, key, replay_until)


class DpopGuard:
    """The server side of DPoP with state: server nonces (RFC 9449 §8, §9) and ``jti`` replay.

    Nonces are drawn per time window and kept in the shared store, so every instance of a service
    hands out and accepts the same ones; the current and the previous window's nonce are accepted.

    :param store: the state store the endpoints share.
    :param require_nonce: ask every proof for a server nonce (``use_dpop_nonce`` until it has one).
    :param window: how long one nonce is handed out.
    """

    def __init__(
        self,
        store: StateStore,
        *,
        require_nonce: bool = True,
        randomness: Randomness = SYSTEM_RANDOMNESS,
        window: timedelta = timedelta(minutes=5),
        max_age: timedelta = timedelta(minutes=5),
        leeway: timedelta = timedelta(seconds=60),
    ) -> None:
        self._store = store
        self.require_nonce = require_nonce
        self._randomness = randomness
        self.window = window
        self.max_age = max_age
        self.leeway = leeway

    def _slot(self, now: datetime) -> int:
        return int(now.timestamp() // self.window.total_seconds())

    async def _nonce_of(self, slot: int, now: datetime, *, create: bool) -> str | None:
        key = str(slot)
        found = await self._store.get("dpop_nonce", key, now=now)
        if found is None and create:
            nonce = random_token(self._randomness, 16)
            try:
                await self._store.put(
                    "dpop_nonce", key, {"nonce": nonce}, expires_at=now + 3 * self.window
                )
            except ConflictError:  # another instance drew this window's nonce first: use it
                pass
            found = await self._store.get("dpop_nonce", key, now=now)
        return str(found["nonce"]) if found is not None else None

    async def nonce(self, *, now: datetime) -> str:
        """The nonce to send in ``DPoP-Nonce`` now."""
        nonce = await self._nonce_of(self._slot(now), now, create=True)
        assert nonce is not None
        return nonce

    async def check(
        self,
        proof: str | None,
        *,
        method: str,
        url: str,
        now: datetime,
        access_token: str | None = None,
        bound_jkt: str | None = None,
    ) -> VerifiedDpopProof:
        """Verify one request's proof, its nonce and that its ``jti`` is new.

        :param bound_jkt: the key the token or code is bound to: the proof must be signed by it.
        :raises ProtocolError: ``invalid_dpop_proof`` (missing, malformed, failed check, replayed,
            another key) or ``use_dpop_nonce`` (no nonce, or an old one: retry with ``DPoP-Nonce``).
        """
        if not proof:
            raise _err("a DPoP proof is required for this request (DPoP header)")
        verified = verify_dpop_proof(
            proof,
            method=method,
            url=url,
            now=now,
            access_token=access_token,
            bound_jkt=bound_jkt,
            max_age=self.max_age,
            leeway=self.leeway,
        )
        if self.require_nonce:
            slot = self._slot(now)
            accepted = {await self._nonce_of(s, now, create=False) for s in (slot, slot - 1)} - {None}
            if verified.nonce is None or verified.nonce not in accepted:
                raise ProtocolError("send the server's DPoP-Nonce in the DPoP proof", code="use_dpop_nonce")
        # RFC 9449 §11.1: a proof is accepted once; its jti is remembered for as long as its iat is.
        try:
            await self._store.put("dpop_jti", verified.replay_key, {}, expires_at=verified.replay_until)
        except ConflictError:
            raise _err("this DPoP proof was used before; make a new proof for every request") from None
        return verified
