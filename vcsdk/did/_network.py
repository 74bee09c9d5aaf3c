"""Per-network configuration for did:ethr: chain id, network name, RPC URLs, registry address.

Pure: values only.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from eth_utils.address import to_checksum_address

from vcsdk.errors import DidResolutionError, InvalidInputError, RegistryNotConfiguredError

if TYPE_CHECKING:  # pragma: no cover
    from vcsdk.did._syntax import EthrDid

__all__ = ["EthrNetwork", "NetworkTable"]

_ADDRESS_RE = re.compile(r"0x[0-9a-fA-F]{40}")
_NAME_RE = re.compile(r"[a-z][a-z0-9._-]*(?::[a-z0-9._-]+)*")


@dataclass(frozen=True, slots=True)
class EthrNetwork:
    """Where the DIDs of one network live.

    :ivar chain_id: the EIP-155 chain id; DIDs may name it in hex (``did:ethr:0x539:…``).
    :ivar registry: the ERC-1056 registry contract address on that chain.
    :ivar rpc_urls: JSON-RPC endpoints, tried in order when one is unavailable.
    :ivar name: an optional network name DIDs may use instead (``did:ethr:sepolia:…``); the name
        ``mainnet`` is also what a DID without a network segment means.
    :ivar finality_depth: resolve at ``head - finality_depth``: changes count once this many later
        blocks exist (0: the newest block).
    :ivar chain: an already connected ``vcsdk.registry.Chain`` (e.g. the embedded chain) used instead
        of ``rpc_urls``.
    """

    chain_id: int
    registry: str
    rpc_urls: tuple[str, ...] = ()
    name: str | None = None
    finality_depth: int = 0
    chain: Any = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.chain_id, int) or self.chain_id <= 0:
            raise InvalidInputError("chain_id must be a positive integer")
        if not isinstance(self.registry, str) or _ADDRESS_RE.fullmatch(self.registry) is None:
            raise InvalidInputError("registry must be a 0x-prefixed 20-byte address")
        object.__setattr__(self, "registry", to_checksum_address(self.registry))
        if isinstance(self.rpc_urls, str):
            object.__setattr__(self, "rpc_urls", (self.rpc_urls,))
        for url in self.rpc_urls:
            if not isinstance(url, str) or not url.startswith(("http://", "https://")):
                raise InvalidInputError("rpc_urls must be http:// or https:// URLs")
        if self.name is not None and _NAME_RE.fullmatch(self.name) is None:
            raise InvalidInputError("network name must be lowercase letters, digits, '.', '-', '_' or ':'")
        if self.finality_depth < 0:
            raise InvalidInputError("finality_depth must be 0 or more")
        if self.chain is None and not self.rpc_urls:
            raise InvalidInputError("a network needs rpc_urls or a connected chain")

    @classmethod
    def from_network_config(cls, config: Mapping[str, Any], *, finality_depth: int = 0) -> EthrNetwork:
        """The did:ethr network of a network config (:func:`vcsdk.registry.load_network_config`).

        :param config: the config ``vcsdk deploy`` wrote, as read by ``load_network_config``.
        :param finality_depth: resolve this many blocks below the head.
        :raises InvalidInputError: if the config lacks the chain id, RPC URL or DID registry address,
            or the address is malformed.
        """
        try:
            return cls(
                chain_id=config["chain_id"],
                registry=config["contracts"]["EthereumDIDRegistry"]["address"],
                rpc_urls=(config["rpc_url"],),
                finality_depth=finality_depth,
            )
        except (KeyError, TypeError):
            raise InvalidInputError(
                "not a network config: read it with vcsdk.registry.load_network_config"
            ) from None

    @property
    def hex_chain_id(self) -> str:
        """The chain id as a did:ethr network segment (``0x539``)."""
        return hex(self.chain_id)


class NetworkTable:
    """Looks up the configured network for a DID's network segment or a (chain id, registry) pair."""

    __slots__ = ("_by_chain", "_by_name", "networks")

    def __init__(self, networks: Iterable[EthrNetwork]) -> None:
        self.networks: Sequence[EthrNetwork] = tuple(networks)
        self._by_chain: dict[int, EthrNetwork] = {}
        self._by_name: dict[str, EthrNetwork] = {}
        for network in self.networks:
            if network.chain_id in self._by_chain:
                raise InvalidInputError(f"chain id {network.chain_id} is configured twice")
            self._by_chain[network.chain_id] = network
            if network.name is not None:
                if network.name in self._by_name:
                    raise InvalidInputError(f"network name {network.name!r} is configured twice")
                self._by_name[network.name] = network

    def for_did(self, did: EthrDid) -> EthrNetwork:
        """The network a did:ethr DID lives on.

        :raises DidResolutionError: ``code="unknown_network"`` if no configured network matches.
        """
        chain_id = did.chain_id
        network = self._by_chain.get(chain_id) if chain_id is not None else self._by_name.get(did.network)
        if network is None:
            raise DidResolutionError(
                f"no network is configured for did:ethr network {did.network!r}; add it to the resolver's networks",
                code="unknown_network",
            )
        return network

    def for_registry(self, chain_id: int, registry: str) -> EthrNetwork:
        """The configured network with exactly this chain id and registry address.

        :raises RegistryNotConfiguredError: if the pair was not configured (ERC-1056 signatures carry no
            chain id, so signing for an unconfigured pair could be replayed elsewhere).
        """
        network = self._by_chain.get(int(chain_id))
        if network is None or network.registry != to_checksum_address(registry):
            raise RegistryNotConfiguredError(
                f"registry {registry} on chain {chain_id} is not a configured did:ethr network; "
                "configure it before signing for it"
            )
        return network
