"""Outgoing HTTP to hosts named by others: refuse private addresses, also behind host names.

Links in offers, request objects and credentials (status lists) name hosts a server then calls. A
private, loopback or link-local address literal is refused before any request
(:func:`private_host_literal`); a host name is refused where it is resolved
(:class:`PublicAddressResolver` on the aiohttp connector), and the connection goes to exactly the
addresses checked, so a DNS answer that changes in between gains nothing.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

__all__ = ["PrivateAddressError", "PublicAddressResolver", "normal_host", "private_host_literal"]


def private_host_literal(host: str) -> bool:
    """Whether ``host`` (from a URL) names a non-public address without DNS: an IP literal, a
    legacy numeric IPv4 spelling, or ``localhost``."""
    try:
        address: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.ip_address(host)
    except ValueError:
        try:
            # Legacy IPv4 spellings the system resolver still maps (127.1, 0x7f.1, 2130706433, 0).
            address = ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return host == "localhost" or host.endswith(".localhost")
    return not address.is_global


def normal_host(host: str) -> str:
    """A host name as compared against a list: lower case, without the trailing dot."""
    return host.lower().rstrip(".")


class PrivateAddressError(OSError):
    """A host name of an outgoing call resolved to an address that is not called."""


class PublicAddressResolver(AbstractResolver):
    """Resolve host names for outgoing calls; refuse a name if any address it resolves to is not public.

    The connector then connects to exactly the addresses checked here, so a name whose DNS answer
    changes between a check and the connection (DNS rebinding) cannot reach a private address.

    :param allow_loopback: development and tests only: loopback addresses count as allowed.
    :param private_hosts: host names that may resolve to private addresses (the city's own issuer
        on its internal network, through split-horizon DNS).
    :param upstream: the resolver asked first (aiohttp's default one if omitted).
    """

    def __init__(
        self,
        *,
        allow_loopback: bool = False,
        private_hosts: Iterable[str] = (),
        upstream: AbstractResolver | None = None,
    ) -> None:
        self._upstream = upstream if upstream is not None else DefaultResolver()
        self._allow_loopback = allow_loopback
        self._private_hosts = frozenset(normal_host(h) for h in private_hosts)

    def _allowed(self, text: str) -> bool:
        try:
            address = ipaddress.ip_address(text)
        except ValueError:  # e.g. an IPv6 address with a zone index: link-local
            return False
        return address.is_global or (self._allow_loopback and address.is_loopback)

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        """:raises PrivateAddressError: ``host`` resolves to a private, loopback or reserved address."""
        results = await self._upstream.resolve(host, port, family)
        if normal_host(host) in self._private_hosts:
            return results
        if not all(self._allowed(result["host"]) for result in results):
            raise PrivateAddressError(f"{host} resolves to a private address")
        return results

    async def close(self) -> None:
        await self._upstream.close()
