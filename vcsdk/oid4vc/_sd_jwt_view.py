"""A structural view of an SD-JWT presentation for protocol checks (no signature verification).

The verifier state machine uses it *after* the credentials recipe has verified a presentation, to
learn which claim paths the holder chose to disclose (OpenID4VP 1.0 §6.4: wallets must not send
selectively disclosable claims that were not requested) and to bind the Key Binding JWT to the
request's nonce and client identifier before any expensive work.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from vcsdk.credentials.sd_jwt import Disclosure, hash_function, parse
from vcsdk.errors import DisclosureError, InvalidTokenError

__all__ = ["SdJwtView", "view_sd_jwt"]

ConcretePath = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class SdJwtView:
    """Unverified structure of an SD-JWT(+KB): issuer payload, disclosed paths, KB-JWT claims."""

    issuer_claims: dict[str, Any]
    disclosed_paths: tuple[ConcretePath, ...]
    key_binding_claims: dict[str, Any] | None


def view_sd_jwt(presentation: str) -> SdJwtView:
    """Split an SD-JWT presentation and map each disclosure to the claim path it reveals.

    :param presentation: the presentation; an :class:`~vcsdk.credentials.sd_jwt.SdJwtText` is not
        parsed again (the verifier parses each presentation once, for this view and the checks).
    :raises InvalidTokenError: if the presentation is not ``<jwt>~<disclosure>~…~[<kb-jwt>]``.
    :raises DisclosureError: if a disclosure is malformed, repeated or referenced by no digest.
    :return: the view (nothing in it is verified).
    """
    if not isinstance(presentation, str) or "~" not in presentation:
        raise InvalidTokenError("an SD-JWT presentation has the form <jwt>~<disclosures>~<kb-jwt>")
    # The one SD-JWT parser and the one _sd_alg allow-list (vcsdk.credentials.sd_jwt).
    parsed = parse(presentation)
    payload = parsed.payload
    hasher = hash_function(payload.get("_sd_alg", "sha-256"))
    by_digest: dict[str, list[Any]] = {}
    for disclosure in parsed.disclosures:
        digest = disclosure.digest(hasher)
        if digest in by_digest:
            raise DisclosureError("SD-JWT repeats a disclosure")
        by_digest[digest] = _as_list(disclosure)
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
    kb = parsed.unverified_kb_jwt()
    return SdJwtView(payload, tuple(paths), kb[1] if kb is not None else None)


def _as_list(disclosure: Disclosure) -> list[Any]:
    if disclosure.name is None:
        return [disclosure.salt, disclosure.value]
    return [disclosure.salt, disclosure.name, disclosure.value]
