"""Holder side: choose Disclosures by claim path and add a KB-JWT (RFC 9901 §4.3, §7.2)."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from vcsdk._b64 import b64url_decode, b64url_encode
from vcsdk.credentials._sd_jwt._common import (
    ARRAY_DIGEST_KEY,
    KB_JWT_TYP,
    SD_ALG_KEY,
    SD_DIGESTS_KEY,
    SD_HASH_KEY,
    SEPARATOR,
    ClaimPath,
    Disclosure,
    check_claim_path,
    digest,
    dumps,
    hash_function,
)
from vcsdk.credentials._sd_jwt._parse import JSON_DISCLOSURES_KEY, JSON_KB_JWT_KEY, Serialization, parse
from vcsdk.errors import InvalidInputError, KeyBindingError, UnsupportedAlgorithmError, VerificationError
from vcsdk.keys import DEFAULT_POLICY, Key, Signer

__all__ = ["PendingPresentation", "finish_presentation", "prepare_presentation", "present"]

Path = tuple[str | int | None, ...]


@dataclass(frozen=True, slots=True)
class PendingPresentation:
    """A presentation waiting for the holder's KB-JWT signature (two-step signing).

    Send ``signing_input`` to the device; it signs it with the key in the credential's ``cnf``
    (ES256: raw ``R || S``) and the signature goes to :func:`finish_presentation`. Both fields
    are plain strings and bytes, so the value can be stored between two requests.

    :ivar presentation: the SD-JWT with the chosen Disclosures, without KB-JWT.
    :ivar signing_input: the KB-JWT's ``base64url(header).base64url(payload)`` as ASCII bytes.
    """

    presentation: str
    signing_input: bytes

    def __repr__(self) -> str:
        return f"PendingPresentation({len(self.presentation)} chars, signing_input={len(self.signing_input)} bytes)"


class _Selector:
    """Walks the issued payload in step with the claim paths, collecting needed Disclosures."""

    def __init__(self, by_digest: dict[str, Disclosure]) -> None:
        self.by_digest = by_digest
        self.selected: set[str] = set()
        self.found: set[Path] = set()

    def _match(self, step: str | int, paths: list[tuple[Path, Path]]) -> list[tuple[Path, Path]]:
        out = []
        for full, rest in paths:
            if not rest:
                out.append((full, rest))  # inside a chosen subtree: everything below is chosen
            elif rest[0] == step or (rest[0] is None and isinstance(step, int)):
                out.append((full, rest[1:]))
        return out

    def _take(self, key: str | None, value: Any, matched: list[tuple[Path, Path]], depth: int) -> None:
        if key is not None:
            self.selected.add(key)
        for full, rest in matched:
            if not rest:
                self.found.add(full)
        self.walk(value, matched, depth + 1)

    def walk(self, value: Any, paths: list[tuple[Path, Path]], depth: int = 0) -> None:
        if depth > 64:
            raise InvalidInputError("credential claims nest too deeply")
        if not paths:
            return
        if isinstance(value, dict):
            for name, item in value.items():
                if name not in (SD_DIGESTS_KEY, SD_ALG_KEY):
                    matched = self._match(name, paths)
                    if matched:
                        self._take(None, item, matched, depth)
            digests = value.get(SD_DIGESTS_KEY)
            for key in digests if isinstance(digests, list) else []:
                disclosure = self.by_digest.get(key) if isinstance(key, str) else None
                if disclosure is not None and disclosure.name is not None:
                    matched = self._match(disclosure.name, paths)
                    if matched:
                        self._take(key, disclosure.value, matched, depth)
        elif isinstance(value, list):
            index = 0
            for item in value:
                key = None
                if isinstance(item, dict) and len(item) == 1 and ARRAY_DIGEST_KEY in item:
                    key = item[ARRAY_DIGEST_KEY]
                    disclosure = self.by_digest.get(key) if isinstance(key, str) else None
                    if disclosure is None or disclosure.name is not None:
                        continue  # a decoy: not an element of the array the holder sees
                    item = disclosure.value
                matched = self._match(index, paths)
                if matched:
                    self._take(key, item, matched, depth)
                index += 1


def _select(
    sd_jwt: str | bytes, disclose: Sequence[ClaimPath]
) -> tuple[str, list[Disclosure], Callable[..., Any], dict[str, Any], Serialization, dict[str, Any] | None]:
    parsed = parse(sd_jwt)
    if parsed.kb_jwt is not None:
        raise InvalidInputError("this is already a presentation (it has a KB-JWT); present the issued SD-JWT")
    try:
        hash_fn = hash_function(parsed.payload.get(SD_ALG_KEY, "sha-256"))
    except VerificationError:
        raise UnsupportedAlgorithmError("the credential's _sd_alg is not supported") from None
    by_digest = {d.digest(hash_fn): d for d in parsed.disclosures}
    paths = [check_claim_path(p) for p in disclose]
    selector = _Selector(by_digest)
    selector.walk(parsed.payload, [(p, p) for p in paths])
    missing = [list(p) for p in paths if p not in selector.found]
    if missing:
        raise InvalidInputError(f"claim path(s) {missing} not found in the credential")
    chosen = [d for key, d in by_digest.items() if key in selector.selected]
    return parsed.issuer_jwt, chosen, hash_fn, parsed.payload, parsed.serialization, parsed.json_object


def _with_disclosures(
    issuer_jwt: str, chosen: list[Disclosure], serialization: Serialization, json_object: dict[str, Any] | None
) -> str:
    if serialization == "compact":
        return SEPARATOR.join([issuer_jwt, *(d.encoded for d in chosen)]) + SEPARATOR
    assert json_object is not None
    obj = json.loads(json.dumps(json_object))  # a deep copy we may edit
    target = obj["signatures"][0] if "signatures" in obj else obj
    header = dict(target.get("header") or {})
    header[JSON_DISCLOSURES_KEY] = [d.encoded for d in chosen]
    header.pop(JSON_KB_JWT_KEY, None)
    target["header"] = header
    return dumps(obj)


def _timestamp(now: datetime) -> int:
    if not isinstance(now, datetime):
        raise InvalidInputError("now must be a datetime")
    return int((now if now.tzinfo else now.replace(tzinfo=UTC)).timestamp())


def prepare_presentation(
    sd_jwt: str | bytes,
    *,
    disclose: Sequence[ClaimPath],
    audience: str,
    nonce: str,
    now: datetime,
    alg: str = "ES256",
) -> PendingPresentation:
    """Step one of two-step presentation: choose Disclosures and build the KB-JWT to be signed.

    :param sd_jwt: the SD-JWT as issued (with all its Disclosures).
    :param disclose: claim paths to reveal; the Disclosures of their parents come along, and a
        path naming an object or array reveals everything inside it.
    :param audience: the verifier (KB-JWT ``aud``).
    :param nonce: the verifier's nonce (KB-JWT ``nonce``).
    :param now: the KB-JWT ``iat``.
    :param alg: the holder key's JWS algorithm (``ES256`` for P-256 device keys).
    :raises InvalidInputError: malformed SD-JWT, unknown claim path, missing audience or nonce.
    :raises UnsupportedAlgorithmError: an ``alg`` or ``_sd_alg`` vcsdk does not support.
    :return: the pending presentation and the bytes the holder key must sign.
    """
    return _prepare(sd_jwt, disclose, audience, nonce, now, alg)[0]


def _prepare(
    sd_jwt: str | bytes, disclose: Sequence[ClaimPath], audience: str, nonce: str, now: datetime, alg: str
) -> tuple[PendingPresentation, dict[str, Any], Serialization]:
    if not isinstance(audience, str) or not audience or not isinstance(nonce, str) or not nonce:
        raise InvalidInputError("a key-bound presentation needs a non-empty audience and nonce")
    DEFAULT_POLICY.check(alg)
    issuer_jwt, chosen, hash_fn, payload, serialization, json_object = _select(sd_jwt, disclose)
    sd_hash_input = SEPARATOR.join([issuer_jwt, *(d.encoded for d in chosen)]) + SEPARATOR
    kb_header = {"alg": alg, "typ": KB_JWT_TYP}
    kb_payload = {"iat": _timestamp(now), "aud": audience, "nonce": nonce, SD_HASH_KEY: digest(sd_hash_input, hash_fn)}
    signing_input = (
        f"{b64url_encode(dumps(kb_header).encode('utf-8'))}.{b64url_encode(dumps(kb_payload).encode('utf-8'))}"
    )
    pending = PendingPresentation(
        _with_disclosures(issuer_jwt, chosen, serialization, json_object), signing_input.encode("ascii")
    )
    return pending, payload, serialization


def _holder_jwk(payload: dict[str, Any]) -> dict[str, Any]:
    cnf = payload.get("cnf")
    jwk = cnf.get("jwk") if isinstance(cnf, dict) else None
    if not isinstance(jwk, dict):
        raise InvalidInputError("the credential has no cnf.jwk, so it cannot be key-bound")
    return jwk


def _attach(pending: PendingPresentation, signature: bytes, serialization: Serialization) -> str:
    kb_jwt = f"{pending.signing_input.decode('ascii')}.{b64url_encode(signature)}"
    if serialization == "compact":
        return pending.presentation + kb_jwt
    obj = json.loads(pending.presentation)
    target = obj["signatures"][0] if "signatures" in obj else obj
    target.setdefault("header", {})[JSON_KB_JWT_KEY] = kb_jwt
    return dumps(obj)


def finish_presentation(pending: PendingPresentation, signature: bytes) -> str:
    """Step two: attach the holder's signature over ``pending.signing_input``.

    The signature is checked against the credential's ``cnf.jwk`` first, so a wrong key or a
    damaged signature is caught here rather than by the verifier.

    :param signature: the raw JWS signature (``R || S`` for ES256).
    :raises KeyBindingError: if the signature does not verify with the credential's ``cnf`` key.
    :raises InvalidInputError: if the credential has no ``cnf.jwk``.
    :return: the SD-JWT+KB presentation.
    """
    if not isinstance(signature, bytes | bytearray):
        raise InvalidInputError("signature must be bytes")
    parsed = parse(pending.presentation)
    holder = Key.from_jwk(_holder_jwk(parsed.payload))
    header_b64 = pending.signing_input.split(b".", 1)[0].decode("ascii")
    alg = json.loads(b64url_decode(header_b64, what="KB-JWT header")).get("alg")
    try:
        holder.verify(pending.signing_input, bytes(signature), alg=alg)
    except (VerificationError, UnsupportedAlgorithmError):
        raise KeyBindingError(
            "the KB-JWT signature does not verify with the credential's holder key; sign with the device key"
        ) from None
    return _attach(pending, bytes(signature), parsed.serialization)


def present(
    sd_jwt: str | bytes,
    *,
    disclose: Sequence[ClaimPath],
    holder_signer: Signer | None = None,
    audience: str | None = None,
    nonce: str | None = None,
    now: datetime | None = None,
) -> str:
    """Make a presentation revealing only the chosen claims, key-bound when a holder signer is given.

    :param sd_jwt: the SD-JWT as issued.
    :param disclose: claim paths to reveal (DCQL syntax); parents' Disclosures come along.
    :param holder_signer: the holder's key or secure-enclave signer; ``None`` makes a presentation
        without KB-JWT (which verifiers requiring key binding refuse).
    :param audience: the verifier, required with a signer.
    :param nonce: the verifier's nonce, required with a signer.
    :param now: the KB-JWT ``iat``, required with a signer.
    :raises InvalidInputError: malformed SD-JWT, unknown claim path, missing audience/nonce/now.
    :raises KeyBindingError: if the signer's key is not the credential's ``cnf`` key.
    :return: the presentation (``<JWT>~<chosen Disclosures>~[<KB-JWT>]``).
    """
    if holder_signer is None:
        issuer_jwt, chosen, _h, _p, serialization, json_object = _select(sd_jwt, disclose)
        return _with_disclosures(issuer_jwt, chosen, serialization, json_object)
    if audience is None or nonce is None or now is None:
        raise InvalidInputError("a key-bound presentation needs audience, nonce and now")
    pending, payload, serialization = _prepare(sd_jwt, disclose, audience, nonce, now, holder_signer.alg)
    if isinstance(holder_signer, Key):
        # A local key: comparing it with cnf is enough (and cheaper than verifying what it signs).
        if holder_signer.public_jwk() != {
            k: v for k, v in _holder_jwk(payload).items() if k in ("kty", "crv", "x", "y")
        }:
            raise KeyBindingError("the holder key is not the credential's cnf key; sign with the bound device key")
        return _attach(pending, holder_signer.sign(pending.signing_input), serialization)
    # A remote signer (secure enclave, HSM): check what it returned against cnf.
    return finish_presentation(pending, holder_signer.sign(pending.signing_input))
