"""Outgoing HTTP to hosts named by others, refused for private addresses; public for applications.

:func:`private_host_literal` refuses an address literal before any request;
:class:`PublicAddressResolver` (for an aiohttp connector) refuses a host name that resolves to a
private, loopback or link-local address.
"""

from __future__ import annotations

from vcsdk._egress import (
    PrivateAddressError,
    PublicAddressResolver,
    client_host,
    egress_refusal,
    normal_host,
    private_host_literal,
    public_address,
)

__all__ = ["PrivateAddressError", "PublicAddressResolver", "client_host", "egress_refusal", "normal_host",
           "private_host_literal", "public_address"]
