"""Public, unauthenticated reads: DID resolution in the Universal Resolver's shape."""

from __future__ import annotations

from typing import Any

from vcsdk.errors import InvalidDidError
from wallet_server.services.city import CitySetup

__all__ = ["MAX_DID_LENGTH", "PublicService"]

MAX_DID_LENGTH = 512


class PublicService:
    """Resolves DIDs (did:ethr on the city's chain, did:key, did:jwk) for anyone.

    :param city: the city's chain set-up (its resolver knows the city's network).
    """

    def __init__(self, *, city: CitySetup) -> None:
        self._city = city

    async def resolve(self, did: str) -> tuple[dict[str, Any], bool]:
        """Resolve ``did`` (a DID, or a DID URL with ``versionId``/``versionTime``).

        :raises InvalidDidError: a malformed DID.
        :raises UnsupportedDidMethodError: another method.
        :raises DidResolutionError: (``unknown_network``) a did:ethr on another chain; and the other
            errors of :meth:`vcsdk.ethr.Resolver.resolve`.
        :return: the W3C DID resolution result and whether the DID is deactivated.
        """
        if not did or len(did) > MAX_DID_LENGTH or any(ord(ch) < 33 or ord(ch) > 126 for ch in did):
            raise InvalidDidError("not a DID")
        city = await self._city.get()
        result = await city.resolver.resolve(did)
        return result.to_json(), result.deactivated
