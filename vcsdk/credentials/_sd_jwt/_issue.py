"""Issue SD-JWTs: hide chosen claims behind Disclosures (RFC 9901 §4, §5)."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from vcsdk._b64 import b64url_encode
from vcsdk.credentials._sd_jwt._common import (
    ARRAY_DIGEST_KEY,
    SD_ALG_KEY,
    SD_DIGESTS_KEY,
    SD_JWT_VC_TYP,
    SEPARATOR,
    ClaimPath,
    Disclosure,
    check_claim_path,
    dumps,
    hash_function,
)
from vcsdk.credentials._sd_jwt._parse import JSON_DISCLOSURES_KEY, Serialization
from vcsdk.errors import InvalidInputError, UnsupportedAlgorithmError
from vcsdk.keys import Key, Signer, sign_jws

__all__ = ["MIN_SALT_BYTES", "default_salt", "issue"]

#: RFC 9901 §9.3: salts carry at least 128 bits of entropy.
MIN_SALT_BYTES = 16


def default_salt() -> str:
    """A fresh 128-bit salt from :mod:`secrets`, base64url-encoded."""
    return b64url_encode(secrets.token_bytes(MIN_SALT_BYTES))


@dataclass(slots=True)
class _Node:
    """One step of the disclosable-path trie."""

    disclosable: bool = False
    children: dict[str | int, _Node] = field(default_factory=dict)
    every: _Node | None = None  # a None step: every element of an array

    def child(self, step: str | int | None) -> _Node:
        if step is None:
            if self.every is None:
                self.every = _Node()
            return self.every
        return self.children.setdefault(step, _Node())


def _merge(a: _Node | None, b: _Node | None) -> _Node | None:
    if a is None or b is None:
        return a or b
    merged = _Node(a.disclosable or b.disclosable)
    for step in {*a.children, *b.children}:
        node = _merge(a.children.get(step), b.children.get(step))
        assert node is not None
        merged.children[step] = node
    merged.every = _merge(a.every, b.every)
    return merged


def _check_exists(value: Any, path: tuple[str | int | None, ...], shown: Sequence[object]) -> None:
    if not path:
        return
    step, rest = path[0], path[1:]
    if isinstance(step, str):
        if not isinstance(value, Mapping) or step not in value:
            raise InvalidInputError(f"disclosable path {list(shown)} names a claim the credential does not have")
        _check_exists(value[step], rest, shown)
    elif step is None:
        if not isinstance(value, list):
            raise InvalidInputError(f"disclosable path {list(shown)} uses null on something that is not an array")
        for element in value:
            _check_exists(element, rest, shown)
    else:
        if not isinstance(value, list) or step >= len(value):
            raise InvalidInputError(f"disclosable path {list(shown)} indexes past the end of an array")
        _check_exists(value[step], rest, shown)


def _check_names(value: Any, depth: int = 0) -> None:
    # '_sd_alg' at the top level is refused by the caller with its own message.
    if depth > 32:
        raise InvalidInputError("claims nest deeper than 32 levels")
    if isinstance(value, Mapping):
        for name, item in value.items():
            if not isinstance(name, str):
                raise InvalidInputError("claim names must be strings")
            if name in (SD_DIGESTS_KEY, ARRAY_DIGEST_KEY) or (depth > 0 and name == SD_ALG_KEY):
                raise InvalidInputError("claims may not use the reserved names '_sd', '...' or '_sd_alg'")
            _check_names(item, depth + 1)
    elif isinstance(value, list | tuple):
        for item in value:
            _check_names(item, depth + 1)


class _Builder:
    def __init__(self, salt: Callable[[], str], hash_fn: Callable[..., Any], decoys: int) -> None:
        self.salt = salt
        self.hash_fn = hash_fn
        self.decoys = decoys
        self.disclosures: list[Disclosure] = []

    def _salt(self) -> str:
        value = self.salt()
        if not isinstance(value, str) or len(value) < 22:  # 22 base64url characters = 128 bits
            raise InvalidInputError("a salt must be a base64url string of at least 128 bits")
        return value

    def _disclose(self, name: str | None, value: Any) -> str:
        disclosure = Disclosure.create(self._salt(), name, value)
        self.disclosures.append(disclosure)
        return disclosure.digest(self.hash_fn)

    def _decoy(self) -> str:
        # RFC 9901 §4.2.5: a decoy is the digest of a fresh random value.
        return b64url_encode(self.hash_fn(secrets.token_bytes(MIN_SALT_BYTES)).digest())

    def build(self, value: Any, node: _Node | None, *, top: bool = False) -> Any:
        if isinstance(value, Mapping):
            out: dict[str, Any] = {}
            digests: list[str] = []
            for name, item in value.items():
                child = node.children.get(name) if node is not None else None
                built = self.build(item, child)
                if child is not None and child.disclosable:
                    digests.append(self._disclose(name, built))
                else:
                    out[name] = built
            if digests or (top and self.decoys):
                digests.extend(self._decoy() for _ in range(self.decoys))
                # RFC 9901 §4.2.4.1: sort so the digest order does not reveal the claim order.
                out[SD_DIGESTS_KEY] = sorted(digests)
            return out
        if isinstance(value, list | tuple):
            items: list[Any] = []
            for index, item in enumerate(value):
                child = _merge(node.children.get(index), node.every) if node is not None else None
                built = self.build(item, child)
                if child is not None and child.disclosable:
                    items.append({ARRAY_DIGEST_KEY: self._disclose(None, built)})
                else:
                    items.append(built)
            return items
        return value


def issue(
    claims: Mapping[str, Any],
    *,
    signer: Signer,
    disclosable: Sequence[ClaimPath] = (),
    holder_key: Key | Mapping[str, Any] | None = None,
    decoys: int = 0,
    sd_alg: str = "sha-256",
    salt: Callable[[], str] = default_salt,
    typ: str = SD_JWT_VC_TYP,
    kid: str | None = None,
    header: Mapping[str, Any] | None = None,
    serialization: Serialization = "compact",
) -> str:
    """Issue an SD-JWT. Low level: no SD-JWT VC claims are added or checked.

    :param claims: the JWT claims; must not use ``_sd`` or ``...`` as names.
    :param signer: the issuer's :class:`~vcsdk.keys.Key` or any :class:`~vcsdk.keys.Signer`.
    :param disclosable: claim paths (``["address", "locality"]``, ``["nationalities", 0]``,
        ``["nationalities", None]`` for every element) to hide behind Disclosures. Nested paths give
        recursive disclosures: ``["address"]`` and ``["address", "locality"]`` together hide the
        address and, inside it, the locality.
    :param holder_key: the holder's public key, put in ``cnf.jwk`` for key binding.
    :param decoys: decoy digests added to each ``_sd`` array (and to the top level).
    :param sd_alg: the digest algorithm (``sha-256`` default).
    :param salt: returns a fresh base64url salt of at least 128 bits per call.
    :param typ: the ``typ`` header.
    :param kid: the ``kid`` header (defaults to the signer's).
    :param header: extra protected header members.
    :param serialization: ``compact`` (``~``-separated) or ``json`` (flattened JWS JSON, RFC 9901 §8).
    :raises InvalidInputError: bad claims, paths, salts or decoy count.
    :raises UnsupportedAlgorithmError: an unsupported ``sd_alg`` or signer algorithm.
    :return: the SD-JWT with every Disclosure, ending with ``~`` (compact).
    """
    if not isinstance(claims, Mapping):
        raise InvalidInputError("claims must be a JSON object")
    _check_names(claims)
    if SD_ALG_KEY in claims:
        raise InvalidInputError("claims may not set '_sd_alg'; pass sd_alg=")
    if isinstance(decoys, bool) or not isinstance(decoys, int) or not 0 <= decoys <= 100:
        raise InvalidInputError("decoys must be an integer from 0 to 100")
    try:
        hash_fn = hash_function(sd_alg)
    except UnsupportedAlgorithmError:
        raise UnsupportedAlgorithmError(f"sd_alg {sd_alg!r} is not supported") from None
    root = _Node()
    for raw in disclosable:
        path = check_claim_path(raw)
        _check_exists(claims, path, path)
        node = root
        for step in path:
            node = node.child(step)
        node.disclosable = True
    builder = _Builder(salt, hash_fn, decoys)
    payload: dict[str, Any] = builder.build(claims, root, top=True)
    payload[SD_ALG_KEY] = sd_alg
    if holder_key is not None:
        jwk = holder_key.public_jwk() if isinstance(holder_key, Key) else Key.from_jwk(holder_key).public_jwk()
        payload["cnf"] = {"jwk": jwk}
    extra = dict(header or {})
    if kid is not None:
        extra["kid"] = kid
    jwt = sign_jws(payload, signer, typ=typ, header=extra)
    if serialization == "json":
        protected, body, signature = jwt.split(".")
        return dumps(
            {
                "payload": body,
                "protected": protected,
                "signature": signature,
                "header": {JSON_DISCLOSURES_KEY: [d.encoded for d in builder.disclosures]},
            }
        )
    if serialization != "compact":
        raise InvalidInputError("serialization must be 'compact' or 'json'")
    return SEPARATOR.join([jwt, *(d.encoded for d in builder.disclosures)]) + SEPARATOR
