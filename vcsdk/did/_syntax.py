"""DID and DID URL syntax (W3C DID Core §3) and the did:ethr method-specific identifier.

Pure: no I/O. Every malformed input raises :class:`~vcsdk.errors.InvalidDidError` and nothing else.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import NewType
from urllib.parse import parse_qsl

from cryptography.hazmat.primitives.asymmetric import ec
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

from vcsdk.errors import InvalidDidError

__all__ = [
    "DEFAULT_ETHR_NETWORK",
    "MAX_DID_URL_LENGTH",
    "Did",
    "DidUrl",
    "EthrDid",
    "parse_did_url",
    "parse_ethr_did",
    "parse_version_id",
    "parse_version_time",
]

Did = NewType("Did", str)

#: DID URLs longer than this are refused before any regular expression runs.
MAX_DID_URL_LENGTH = 8192
#: A did:ethr without a network segment lives on Ethereum mainnet (did:ethr spec).
DEFAULT_ETHR_NETWORK = "mainnet"

# W3C DID Core §3.1: did = "did:" method-name ":" method-specific-id
_METHOD = r"[a-z0-9]+"
_IDCHAR = r"(?:[A-Za-z0-9._-]|%[0-9A-Fa-f]{2})"
_MSID = rf"(?:{_IDCHAR}*:)*{_IDCHAR}+"
_DID_RE = re.compile(rf"did:(?P<method>{_METHOD}):(?P<msid>{_MSID})")
# RFC 3986 path-abempty / query / fragment characters (pchar plus "/" and "?").
_PCHAR = r"(?:[A-Za-z0-9._~!$&'()*+,;=:@-]|%[0-9A-Fa-f]{2})"
_DID_URL_RE = re.compile(
    rf"(?P<did>did:{_METHOD}:{_MSID})"
    rf"(?P<path>(?:/{_PCHAR}*)*)"
    rf"(?:\?(?P<query>(?:{_PCHAR}|[/?])*))?"
    rf"(?:#(?P<fragment>(?:{_PCHAR}|[/?])*))?"
)

_ETHR_ID_RE = re.compile(r"0x(?:[0-9a-fA-F]{40}|[0-9a-fA-F]{66})")
_HEX_CHAIN_RE = re.compile(r"0x[0-9a-fA-F]{1,64}")
_NETWORK_NAME_RE = re.compile(r"[a-z][a-z0-9._-]*(?::[a-z0-9._-]+)*")
_VERSION_ID_RE = re.compile(r"[0-9]{1,20}")
_XML_DATETIME_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,9})?Z")


@dataclass(frozen=True, slots=True)
class DidUrl:
    """A parsed DID URL: the DID plus optional path, query and fragment.

    ``query`` and ``fragment`` are ``None`` when absent, ``""`` when present but empty.
    """

    did: Did
    method: str
    method_specific_id: str
    path: str = ""
    query: str | None = None
    fragment: str | None = None

    @property
    def params(self) -> dict[str, str]:
        """The query as a dict (the last value wins for a repeated name)."""
        if not self.query:
            return {}
        return dict(parse_qsl(self.query, keep_blank_values=True))

    def param(self, name: str) -> str | None:
        """One query parameter, or ``None``."""
        return self.params.get(name)

    def __str__(self) -> str:
        out = self.did + self.path
        if self.query is not None:
            out += "?" + self.query
        if self.fragment is not None:
            out += "#" + self.fragment
        return out


def parse_did_url(text: object) -> DidUrl:
    """Parse a DID or DID URL.

    :param text: e.g. ``did:ethr:0x539:0xb9c5…?versionId=12#controller``.
    :raises InvalidDidError: if ``text`` is not a string or not a syntactically valid DID URL.
    :return: the parsed :class:`DidUrl`.
    """
    if not isinstance(text, str):
        raise InvalidDidError("a DID must be a string")
    if len(text) > MAX_DID_URL_LENGTH:
        raise InvalidDidError(f"DID URL is longer than {MAX_DID_URL_LENGTH} characters")
    match = _DID_URL_RE.fullmatch(text)
    if match is None:
        raise InvalidDidError("not a valid DID or DID URL (expected did:<method>:<method-specific-id>)")
    did = match.group("did")
    did_match = _DID_RE.fullmatch(did)
    if did_match is None:  # pragma: no cover - the URL pattern embeds the DID pattern
        raise InvalidDidError("not a valid DID")
    return DidUrl(
        did=Did(did),
        method=did_match.group("method"),
        method_specific_id=did_match.group("msid"),
        path=match.group("path") or "",
        query=match.group("query"),
        fragment=match.group("fragment"),
    )


@dataclass(frozen=True, slots=True)
class EthrDid:
    """A did:ethr identifier.

    :ivar did: the DID exactly as written (no path, query or fragment).
    :ivar network: the network segment: a name (``mainnet``, ``sepolia``, ``rsk:testnet``) or a hex
        chain id (``0x539``); ``mainnet`` when the DID has none.
    :ivar address: the identity's Ethereum address, EIP-55 checksummed.
    :ivar public_key: the 33-byte compressed secp256k1 key for a public-key DID, else ``None``.
    """

    did: Did
    network: str
    address: str
    public_key: bytes | None = None

    @property
    def chain_id(self) -> int | None:
        """The chain id when the network segment is a hex chain id, else ``None``."""
        if self.network.startswith("0x"):
            return int(self.network, 16)
        return None

    @property
    def identifier(self) -> str:
        """The last segment: ``0x`` plus the address or the compressed public key in hex."""
        return self.did.rsplit(":", 1)[1]


def _address_of_public_key(public_key: bytes) -> str:
    try:
        point = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256K1(), public_key)
    except ValueError:
        raise InvalidDidError("did:ethr public key is not a valid compressed secp256k1 point") from None
    numbers = point.public_numbers()
    uncompressed = numbers.x.to_bytes(32, "big") + numbers.y.to_bytes(32, "big")
    return to_checksum_address(keccak(uncompressed)[-20:])


def parse_ethr_did(text: str | DidUrl) -> EthrDid:
    """Parse a did:ethr DID (or the DID part of a did:ethr DID URL).

    Grammar (did:ethr spec): ``did:ethr:[<network>:]<0x + 40 hex address | 0x + 66 hex compressed key>``,
    where ``<network>`` is a lowercase name (may contain ``:``) or a hex chain id.

    :raises InvalidDidError: if it is not a well-formed did:ethr DID.
    :return: the parsed :class:`EthrDid`.
    """
    url = text if isinstance(text, DidUrl) else parse_did_url(text)
    if url.method != "ethr":
        raise InvalidDidError("not a did:ethr DID")
    segments = url.method_specific_id.split(":")
    identifier = segments[-1]
    if _ETHR_ID_RE.fullmatch(identifier) is None:
        raise InvalidDidError(
            "did:ethr identifier must be 0x plus a 40-hex-digit address or a 66-hex-digit compressed public key"
        )
    if any(not segment for segment in segments[:-1]):
        raise InvalidDidError("did:ethr network segment must not be empty")
    network = ":".join(segments[:-1]) or DEFAULT_ETHR_NETWORK
    if network.startswith("0x"):
        if _HEX_CHAIN_RE.fullmatch(network) is None:
            raise InvalidDidError("did:ethr chain id must be 0x followed by hex digits")
        network = hex(int(network, 16))  # canonical: lowercase, no leading zeros
    elif _NETWORK_NAME_RE.fullmatch(network) is None:
        raise InvalidDidError("did:ethr network must be a lowercase network name or a hex chain id")
    if len(identifier) == 42:
        return EthrDid(did=url.did, network=network, address=to_checksum_address(identifier))
    public_key = bytes.fromhex(identifier[2:])
    if public_key[0] not in (2, 3):
        raise InvalidDidError("did:ethr public key must be in compressed form (02 or 03 prefix)")
    return EthrDid(did=url.did, network=network, address=_address_of_public_key(public_key), public_key=public_key)


def parse_version_id(value: str) -> int:
    """Parse a did:ethr ``versionId`` (a block number).

    :raises InvalidDidError: if it is not a non-negative decimal integer.
    """
    if _VERSION_ID_RE.fullmatch(value) is None:
        raise InvalidDidError("versionId must be a block number (decimal digits)")
    return int(value)


def parse_version_time(value: str) -> datetime:
    """Parse a ``versionTime`` query value (XML datetime normalized to UTC, e.g. ``2026-01-31T12:00:00Z``).

    :raises InvalidDidError: if it is not such a timestamp.
    :return: an aware UTC datetime.
    """
    if _XML_DATETIME_RE.fullmatch(value) is None:
        raise InvalidDidError("versionTime must be a UTC timestamp like 2026-01-31T12:00:00Z")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidDidError("versionTime is not a valid date and time") from None
    return parsed.astimezone(UTC)
