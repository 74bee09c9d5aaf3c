"""Public, unauthenticated reads: DID resolution in the Universal Resolver's shape."""

from __future__ import annotations

from typing import Any

from vcsdk.errors import DidResolutionError, InvalidDidError, UnsupportedDidMethodError
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
            raise InvalidDidError("not a DID: GET /1.0/identifiers/<did>, e.g. did:key:z6Mk… or did:ethr:0x…:0x…")
        city = await self._city.get()
        try:
            result = await city.resolver.resolve(did)
        except DidResolutionError as exc:
            raise _for_http_callers(exc, chain_id=int(city.chain.chain_id)) from exc
        except InvalidDidError as exc:
            if "path" not in exc.message:
                raise
            raise InvalidDidError(
                "a DID URL with a path cannot be resolved here; GET /1.0/identifiers/<the DID itself>, with "
                "?versionId=<block> or ?versionTime=<RFC 3339 time> for a past version"
            ) from exc
        return result.to_json(), result.deactivated


def _for_http_callers(exc: DidResolutionError, *, chain_id: int) -> DidResolutionError:
    """The SDK's advice (configure a network, pass a method) in the terms of someone calling this URL."""
    if exc.code == "unknown_network":
        return DidResolutionError(
            f"this server resolves did:ethr on its own chain only (did:ethr:{hex(chain_id)}:…, chain id {chain_id}); "
            "ask a resolver for the DID's network",
            code="unknown_network",
        )
    if isinstance(exc, UnsupportedDidMethodError):
        return UnsupportedDidMethodError(
            "this server resolves did:ethr (on its chain), did:key and did:jwk; ask a resolver for that method"
        )
    return exc
