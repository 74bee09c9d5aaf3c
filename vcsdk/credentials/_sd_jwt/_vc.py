"""Issue SD-JWT VCs (``typ`` ``dc+sd-jwt``): the recipe that adds and checks the VC claims."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from vcsdk.credentials._sd_jwt._common import NON_DISCLOSABLE_VC_CLAIMS, SD_JWT_VC_TYP, ClaimPath, check_claim_path
from vcsdk.credentials._sd_jwt._issue import default_salt, issue
from vcsdk.errors import InvalidInputError
from vcsdk.keys import Key, Signer

__all__ = ["issue_sd_jwt_vc"]

#: Claims the recipe sets from its own arguments; the claims mapping may not carry them.
_RECIPE_CLAIMS = frozenset({"iss", "iat", "vct", "exp", "cnf", "status", "_sd_alg"})


def _epoch(value: datetime, name: str) -> int:
    if not isinstance(value, datetime):
        raise InvalidInputError(f"{name} must be a datetime")
    return int((value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp())


def issue_sd_jwt_vc(
    claims: Mapping[str, Any],
    *,
    issuer: str,
    signer: Signer,
    vct: str,
    disclosable: Sequence[ClaimPath] = (),
    holder_key: Key | Mapping[str, Any] | None = None,
    status: Mapping[str, Any] | None = None,
    now: datetime,
    expires_at: datetime | None = None,
    decoys: int = 0,
    sd_alg: str = "sha-256",
    salt: Callable[[], str] = default_salt,
    kid: str | None = None,
) -> str:
    """Issue an SD-JWT VC: ``iss``, ``iat``, ``vct``, optional ``exp``, ``cnf`` and ``status`` in
    the clear, and the chosen claims behind Disclosures.

    :param claims: the credential subject's claims (names, birthdate, address, ...).
    :param issuer: the issuer's identifier (its DID), the ``iss`` claim.
    :param signer: the issuer's :class:`~vcsdk.keys.Key` or a remote :class:`~vcsdk.keys.Signer`.
    :param vct: the credential type (``vct``).
    :param disclosable: claim paths to make selectively disclosable (DCQL syntax; ``None`` for
        every array element); nested paths give recursive disclosures.
    :param holder_key: the holder's public device key (P-256), bound through ``cnf.jwk``.
    :param status: the ``status`` claim (a Token Status List reference), if any.
    :param now: the issuance time (``iat``).
    :param expires_at: the ``exp`` claim, if any.
    :param decoys: decoy digests per ``_sd`` array, hiding how many claims there are.
    :param sd_alg: the digest algorithm, ``sha-256`` by default.
    :param salt: a fresh base64url salt of >= 128 bits per call (``secrets`` by default).
    :param kid: the ``kid`` header, usually a DID URL of an ``assertionMethod`` key; defaults to
        the signer's ``kid``.
    :raises InvalidInputError: claims that collide with the VC claims, a path that would hide
        ``iss``/``vct``/``cnf``/``status``/``exp``/``nbf``, a holder key that is private, bad salts.
    :raises UnsupportedAlgorithmError: an unsupported ``sd_alg`` or signer algorithm.
    :return: the SD-JWT VC in compact serialization, with every Disclosure, ending with ``~``.
    """
    if not isinstance(claims, Mapping):
        raise InvalidInputError("claims must be a JSON object")
    clash = _RECIPE_CLAIMS.intersection(claims)
    if clash:
        raise InvalidInputError(f"claims {sorted(clash)} are set by the issuance arguments, not the claims")
    if not isinstance(issuer, str) or not issuer or not isinstance(vct, str) or not vct:
        raise InvalidInputError("issuer and vct must be non-empty strings")
    paths = [check_claim_path(p) for p in disclosable]
    for path in paths:
        if len(path) == 1 and path[0] in NON_DISCLOSABLE_VC_CLAIMS:
            raise InvalidInputError(f"SD-JWT VC claim {path[0]!r} cannot be selectively disclosable")
    if isinstance(holder_key, Key) and holder_key.is_private:
        holder_key = holder_key.public_key()
    payload: dict[str, Any] = {"iss": issuer, "iat": _epoch(now, "now"), "vct": vct}
    if expires_at is not None:
        payload["exp"] = _epoch(expires_at, "expires_at")
    if status is not None:
        if not isinstance(status, Mapping):
            raise InvalidInputError("status must be a JSON object")
        payload["status"] = dict(status)
    payload.update(claims)
    return issue(
        payload,
        signer=signer,
        disclosable=paths,
        holder_key=holder_key,
        decoys=decoys,
        sd_alg=sd_alg,
        salt=salt,
        typ=SD_JWT_VC_TYP,
        kid=kid,
    )
