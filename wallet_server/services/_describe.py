"""What a stored credential is, read from the token itself without verifying it (for listings)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from vcsdk.credentials import peek, peek_vc_jwt
from vcsdk.errors import InvalidInputError, VcsdkError

__all__ = ["CredentialFacts", "describe_credential"]


@dataclass(frozen=True, slots=True)
class CredentialFacts:
    """Unverified facts from the token: shown in lists, never trusted for decisions."""

    issuer: str | None = None
    vct: str | None = None


def describe_credential(format: str, token: str) -> CredentialFacts:
    """Read issuer and type from an SD-JWT VC (``vct``) or a ``vc+jwt`` (its ``type`` list).

    :raises InvalidInputError: if the token is not a well-formed token of that format.
    """
    try:
        if format in ("dc+sd-jwt", "vc+sd-jwt"):
            facts = peek(token)
            return CredentialFacts(facts.unverified_issuer, facts.unverified_vct)
        unverified = peek_vc_jwt(token)
        types: Any = unverified.unverified_credential.get("type")
        types = types if isinstance(types, list) else []
        named = [t for t in types if isinstance(t, str) and t != "VerifiableCredential"]
        return CredentialFacts(unverified.unverified_issuer, named[0] if named else None)
    except VcsdkError as exc:
        raise InvalidInputError(f"credential is not a well-formed {format} token") from exc
