"""Outgoing HTTP to hosts named by others: refuse private addresses, also behind host names.

Links in offers, request objects, registrations and credentials (status lists) name hosts a server
then calls. One check decides, for every such URL (:func:`egress_refusal`):

* the host is read exactly as the HTTP client reads it: aiohttp parses URLs with yarl, which maps
  the host through IDNA (UTS #46, NFKC), so fullwidth digits, ideographic full stops or circled
  digits become ``127.0.0.1``, which is then connected to without a DNS lookup. The host as
  written must be plain ASCII (an internationalised name goes in its ``xn--`` form), and it is
  classified after that normalisation, never before;
* an address literal must be a public unicast address (:func:`public_address`): every range the
  IANA special-purpose registries mark not global, plus IPv6 forms that carry an IPv4 address
  (mapped, compatible, SIIT, NAT64 ``64:ff9b::/96`` and ``64:ff9b:1::/48``, 6to4, Teredo) when the
  IPv4 address is not public;
* a host name is refused where it is resolved (:class:`PublicAddressResolver` on the aiohttp
  connector), and the connection goes to exactly the addresses checked, so a DNS answer that
  changes in between gains nothing.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from urllib.parse import urlsplit

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver
from yarl import URL

__all__ = [
    "PrivateAddressError",
    "PublicAddressResolver",
    "client_host",
    "egress_refusal",
    "normal_host",
    "private_host_literal",
    "public_address",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")  # RFC 4291 §2.5.5.1, deprecated; includes :: and ::1
_IPV4_MAPPED = ipaddress.IPv6Network("::ffff:0:0/96")  # RFC 4291 §2.5.5.2
_IPV4_TRANSLATED = ipaddress.IPv6Network("::ffff:0:0:0/96")  # RFC 2765 (SIIT)
_NAT64_WELL_KNOWN = ipaddress.IPv6Network("64:ff9b::/96")  # RFC 6052
_NAT64_LOCAL = ipaddress.IPv6Network("64:ff9b:1::/48")  # RFC 8215: local use, never global
_SIX_TO_FOUR = ipaddress.IPv6Network("2002::/16")  # RFC 3056
_TEREDO = ipaddress.IPv6Network("2001::/32")  # RFC 4380


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries for a transition mechanism, if any."""
    low32 = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address in _IPV4_MAPPED or address in _IPV4_TRANSLATED or address in _NAT64_WELL_KNOWN:
        return low32
    if address in _SIX_TO_FOUR:
        return address.sixtofour
    if address in _TEREDO and address.teredo is not None:
        return address.teredo[1]  # the client's address (the server's is public by definition)
    return None


def public_address(address: IPAddress) -> bool:
    """Whether an outgoing call may connect to ``address``: global unicast, and any IPv4 address it
    embeds global too. IPv4-compatible and local-use NAT64 addresses are never public."""
    if address.is_multicast or not address.is_global:
        return False
    if isinstance(address, ipaddress.IPv6Address):
        if address in _IPV4_COMPATIBLE or address in _NAT64_LOCAL:
            return False
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            return public_address(embedded)
    return True


def _literal(host: str) -> IPAddress | None:
    """``host`` as an address, including the legacy IPv4 spellings the system resolver still maps
    (``127.1``, ``0x7f.1``, ``2130706433``, ``0``); ``None`` for a name."""
    text = host.strip("[]")
    try:
        address: IPAddress = ipaddress.ip_address(text)
    except ValueError:
        pass
    else:
        # The IPv4-mapped form is the IPv4 address to the socket layer.
        return address.ipv4_mapped or address if isinstance(address, ipaddress.IPv6Address) else address
    if not text.isascii():
        return None
    try:
        return ipaddress.IPv4Address(socket.inet_aton(text))
    except OSError:
        return None


def private_host_literal(host: str) -> bool:
    """Whether ``host`` (already normalised, see :func:`client_host`) names a non-public address
    without DNS: an IP literal, a legacy numeric IPv4 spelling, or ``localhost``."""
    name = normal_host(host)
    address = _literal(name)
    if address is None:
        return name == "localhost" or name.endswith(".localhost")
    return not public_address(address)


def normal_host(host: str) -> str:
    """A host name as compared against a list: lower case, without the trailing dot."""
    return host.lower().rstrip(".")


def client_host(url: str) -> str:
    """The host aiohttp connects to for ``url``: yarl's normalised ``raw_host`` (IDNA/NFKC applied),
    lower case, without brackets or trailing dot.

    :raises ValueError: if yarl cannot read the URL or it has no host.
    """
    host = URL(url).raw_host
    if not host:
        raise ValueError("the URL has no host")
    return normal_host(host)


def egress_refusal(
    url: str,
    *,
    allow_loopback_http: bool = False,
    private_hosts: Iterable[str] = (),
) -> str | None:
    """Why an outgoing call to ``url`` is refused, as a sentence, or ``None`` if it may be made.

    The one egress rule for every URL named by someone else: ``https`` (``http`` only to loopback
    with ``allow_loopback_http``), no user info, a plain-ASCII host, and after the HTTP client's own
    normalisation not a private, loopback, link-local or otherwise non-global address (host names
    are checked again where they resolve, by :class:`PublicAddressResolver`).

    :param allow_loopback_http: development and tests only: loopback addresses and ``localhost``
        may be called, over ``http`` too.
    :param private_hosts: host names (or addresses) allowed although private.
    """
    try:
        parts = urlsplit(url)
        written = parts.hostname or ""
        _ = parts.port
        host = client_host(url)
    except (ValueError, TypeError):
        return "the link is not a valid URL"
    if not written:
        return "the link has no host"
    if parts.username is not None or parts.password is not None:
        return "the link must not carry a user name or password"
    # The client maps non-ASCII hosts through IDNA/NFKC (fullwidth digits, ideographic full stops);
    # what is checked must be what is called, so only plain ASCII is taken.
    if not parts.netloc.isascii() or not host.isascii() or "%" in host:
        return "the link's host must be plain ASCII (an internationalised name in its xn-- form)"
    address = _literal(host)
    if address is None:
        loopback = host == "localhost" or host.endswith(".localhost")
    else:  # only the plain spellings (127.0.0.0/8, ::1) count as loopback for development, not ::ffff:127.0.0.1
        loopback = address.is_loopback and str(address) == host
    loopback_allowed = allow_loopback_http and loopback
    if parts.scheme != "https" and not (parts.scheme == "http" and loopback_allowed):
        return "the link must use https (plain http only to loopback, in development)"
    if loopback_allowed or host in {normal_host(h) for h in private_hosts}:
        return None
    if private_host_literal(host):
        return "the link points at a private address"
    return None


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
        return public_address(address) or (self._allow_loopback and address.is_loopback)

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
