"""A fixed issuer-to-keys table implementing the ``IssuerKeyResolver`` port (offline verification)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from vcsdk.credentials._ports import VerificationRelationship
from vcsdk.errors import InvalidInputError, KeyNotFoundError
from vcsdk.keys import Key

__all__ = ["StaticKeyResolver"]


def _absolute(issuer: str, kid: str) -> str:
    return issuer + kid if kid.startswith("#") else kid


class StaticKeyResolver:
    """Resolves issuer keys from a table given up front: tests, offline checks, pinned issuers.

    A key matches a token's ``kid`` if the key's ``kid`` equals it, with ``#fragment`` kids read
    relative to the issuer (``#key-1`` matches ``did:ethr:…#key-1``). A token without ``kid`` matches
    only an issuer with exactly one key. Only public halves are kept.

    :param keys: issuer identifier -> one key or several.
    :raises InvalidInputError: if a value is not a :class:`~vcsdk.keys.Key`.
    """

    __slots__ = ("_keys",)

    def __init__(self, keys: Mapping[str, Key | Iterable[Key]]) -> None:
        table: dict[str, tuple[Key, ...]] = {}
        for issuer, value in keys.items():
            items = (value,) if isinstance(value, Key) else tuple(value)
            if not items or not all(isinstance(k, Key) for k in items):
                raise InvalidInputError("StaticKeyResolver needs Key objects for each issuer")
            table[issuer] = tuple(k.public_key() for k in items)
        self._keys = table

    async def resolve_key(
        self,
        issuer: str,
        kid: str | None,
        *,
        relationship: VerificationRelationship = "assertionMethod",
        at: datetime | None = None,
    ) -> Key:
        """Find the key for ``issuer`` and ``kid``.

        :raises KeyNotFoundError: unknown issuer, no key with that ``kid``, or no ``kid`` while the
            issuer has several keys.
        :return: the public key.
        """
        keys = self._keys.get(issuer)
        if keys is None:
            raise KeyNotFoundError("issuer is not in the static key table")
        if kid is None:
            if len(keys) == 1:
                return keys[0]
            raise KeyNotFoundError("token has no kid and the issuer has several keys")
        wanted = _absolute(issuer, kid)
        for key in keys:
            if _absolute(issuer, key.kid) == wanted:
                return key
        raise KeyNotFoundError("no key with the token's kid for this issuer")

    def __repr__(self) -> str:
        return f"StaticKeyResolver(issuers={sorted(self._keys)})"
