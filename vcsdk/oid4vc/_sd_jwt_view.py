"""A structural view of an SD-JWT presentation for protocol checks (no signature verification).

The verifier state machine uses it *after* the credentials recipe has verified a presentation, to
learn which claim paths the holder chose to disclose (OpenID4VP 1.0 §6.4: wallets must not send
selectively disclosable claims that were not requested) and to bind the Key Binding JWT to the
request's nonce and client identifier before any expensive work.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from vcsdk._b64 import b64url_decode, b64url_encode
from vcsdk._json import parse_json
from vcsdk.errors import DisclosureError, InvalidInputError, InvalidTokenError
from vcsdk.keys import decode_jws

__all__ = ["SdJwtView", "view_sd_jwt"]

ConcretePath = tuple[str | int, ...]

# SD-JWT (RFC 9901) §4.1.1: hash algorithms as named in the IANA registry; an allow-list.
_HASHES: dict[str, Callable[[bytes], Any]] = {
    "sha-256": hashlib.sha256,
    "sha-384": hashlib.sha384,
    "sha-512": hashlib.sha512,
}
MAX_DISCLOSURES = 1024


@dataclass(frozen=True, slots=True)
class SdJwtView:
    """Unverified structure of an SD-JWT(+KB): issuer payload, disclosed paths, KB-JWT claims."""

    issuer_claims: dict[str, Any]
    disclosed_paths: tuple[ConcretePath, ...]
    key_binding_claims: dict[str, Any] | None


def view_sd_jwt(presentation: str) -> SdJwtView:
    """Split an SD-JWT presentation and map each disclosure to the claim path it reveals.

    :raises InvalidTokenError: if the presentation is not ``<jwt>~<disclosure>~…~[<kb-jwt>]``.
    :raises DisclosureError: if a disclosure is malformed, repeated or referenced by no digest.
    :return: the view (nothing in it is verified).
    """
    if not isinstance(presentation, str) or "~" not in presentation:
        raise InvalidTokenError("an SD-JWT presentation has the form <jwt>~<disclosures>~<kb-jwt>")
    parts = presentation.split("~")
    issuer_jwt, disclosure_parts, kb = parts[0], parts[1:-1], parts[-1]
    if len(disclosure_parts) > MAX_DISCLOSURES:
        raise InvalidTokenError(f"SD-JWT carries more than {MAX_DISCLOSURES} disclosures")
    payload = decode_jws(issuer_jwt).unverified_claims()
    alg_name = payload.get("_sd_alg", "sha-256")
    hasher = _HASHES.get(alg_name) if isinstance(alg_name, str) else None
    if hasher is None:
        raise DisclosureError("SD-JWT uses a digest algorithm that is not allowed")
    by_digest: dict[str, list[Any]] = {}
    for raw in disclosure_parts:
        if not raw:
            raise InvalidTokenError("SD-JWT has an empty disclosure")
        digest = b64url_encode(hasher(raw.encode("ascii")).digest())
        if digest in by_digest:
            raise DisclosureError("SD-JWT repeats a disclosure")
        try:
            decoded = parse_json(b64url_decode(raw, what="disclosure"), what="disclosure")
        except InvalidInputError as exc:
            raise DisclosureError("SD-JWT disclosure is not base64url JSON") from exc
        if not isinstance(decoded, list) or len(decoded) not in (2, 3):
            raise DisclosureError("SD-JWT disclosure is not a 2- or 3-element array")
        by_digest[digest] = decoded
    used: set[str] = set()
    paths: list[ConcretePath] = []

    def walk(node: Any, where: ConcretePath) -> None:
        if isinstance(node, dict):
            digests = node.get("_sd", [])
            if isinstance(digests, list):
                for d in digests:
                    if isinstance(d, str) and d in by_digest:
                        disclosure = by_digest[d]
                        if len(disclosure) != 3 or not isinstance(disclosure[1], str):
                            raise DisclosureError("an object disclosure must be [salt, name, value]")
                        used.add(d)
                        path = (*where, disclosure[1])
                        paths.append(path)
                        walk(disclosure[2], path)
            for name, value in node.items():
                if name not in ("_sd", "_sd_alg"):
                    walk(value, (*where, name))
        elif isinstance(node, list):
            # Array elements: positions count every element, disclosed or not (RFC 9901 §7.1).
            index = 0
            for element in node:
                if isinstance(element, dict) and set(element) == {"..."}:
                    d = element["..."]
                    if isinstance(d, str) and d in by_digest:
                        disclosure = by_digest[d]
                        if len(disclosure) != 2:
                            raise DisclosureError("an array element disclosure must be [salt, value]")
                        used.add(d)
                        path = (*where, index)
                        paths.append(path)
                        walk(disclosure[1], path)
                        index += 1
                    # An undisclosed element is absent from the processed array.
                    continue
                walk(element, (*where, index))
                index += 1

    walk(payload, ())
    if used != set(by_digest):
        raise DisclosureError("SD-JWT carries a disclosure that no digest references")
    kb_claims = decode_jws(kb).unverified_claims() if kb else None
    return SdJwtView(payload, tuple(paths), kb_claims)
