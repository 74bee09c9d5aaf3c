"""The ERC-1056 ``EthereumDIDRegistry`` binding: typed reads, updates, and signed meta-transactions.

Adapter (async, chain I/O through :mod:`vcsdk.registry`). Publish a key with
:func:`vcsdk.did.key_attribute`. Updates are sent by the identity's owner
(``sender``), or signed by the owner's key and submitted by a relayer that pays for gas
(``…_signed`` methods).

Replay caveat: the ERC-1056 signed digest covers the registry address and the owner's nonce but not
the chain id. The same signature is valid on another chain that has a registry at the same address
with the same nonce. This binding signs only for (chain id, registry) pairs in its configured
networks (:class:`~vcsdk.errors.RegistryNotConfiguredError` otherwise); operators should use a
registry address that exists on one chain only (deploy from a dedicated deployer account).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

from eth_utils.address import to_checksum_address

from vcsdk.did import EthrNetwork, NetworkTable
from vcsdk.did.erc1056 import (
    NULL_ADDRESS,
    add_delegate_digest,
    bytes32,
    change_owner_digest,
    revoke_attribute_digest,
    revoke_delegate_digest,
    set_attribute_digest,
)
from vcsdk.errors import InvalidInputError, RegistryNotConfiguredError
from vcsdk.keys import Key
from vcsdk.registry import BlockId, Chain, ContractHandle, Sender, Signature, TxResult, key_address, sign_hash

__all__ = ["EthrRegistry"]

REGISTRY_CONTRACT = "EthereumDIDRegistry"
#: Ten years: the default lifetime of a delegate or attribute (ERC-1056 has no "forever").
DEFAULT_VALIDITY = 10 * 365 * 24 * 3600


def _seconds(validity: int | timedelta) -> int:
    seconds = int(validity.total_seconds()) if isinstance(validity, timedelta) else int(validity)
    if seconds <= 0:
        raise InvalidInputError("validity must be a positive number of seconds")
    return seconds


def _address(value: str, *, what: str) -> str:
    try:
        return str(to_checksum_address(value))
    except (ValueError, TypeError):
        raise InvalidInputError(f"{what} is not an Ethereum address (0x and 40 hex digits)") from None


def _value(value: bytes | str) -> bytes:
    return value.encode("utf-8") if isinstance(value, str) else bytes(value)


class EthrRegistry:
    """Typed access to one ERC-1056 registry on one chain.

    Make one with :meth:`bind`, which checks that the chain and registry address are a configured
    network.
    """

    __slots__ = ("_contract", "chain", "network")

    def __init__(self, chain: Chain, network: EthrNetwork) -> None:
        self.chain = chain
        self.network = network
        self._contract: ContractHandle = chain.contract(REGISTRY_CONTRACT, network.registry)

    @classmethod
    async def bind(
        cls, chain: Chain, networks: Iterable[EthrNetwork] | EthrNetwork, *, registry: str | None = None
    ) -> EthrRegistry:
        """Bind to the registry of the configured network that ``chain`` belongs to.

        :param chain: a connected chain.
        :param networks: the SDK's configured did:ethr networks.
        :param registry: the registry address to use; must match the configured one if given.
        :raises RegistryNotConfiguredError: if no configured network has this chain id (and registry
            address), or no contract is deployed there.
        :raises ChainUnavailableError: if the node does not answer.
        """
        table = NetworkTable([networks] if isinstance(networks, EthrNetwork) else networks)
        chain_id = int(chain.chain_id)
        if registry is None:
            candidates = [n for n in table.networks if n.chain_id == chain_id]
            if not candidates:
                raise RegistryNotConfiguredError(f"chain {chain_id} is not a configured did:ethr network")
            network = candidates[0]
        else:
            network = table.for_registry(chain_id, registry)
        if not await chain.get_code(network.registry):
            raise RegistryNotConfiguredError(
                f"no contract is deployed at registry {network.registry} on chain {chain_id}"
            )
        return cls(chain, network)

    @property
    def address(self) -> str:
        """The registry contract address."""
        return self.network.registry

    # -- reads ----------------------------------------------------------------------------------

    async def identity_owner(self, identity: str, *, block: BlockId = "latest") -> str:
        """The address that currently controls ``identity`` (the identity itself until changed).

        Note: after a deactivation (owner set to ``0x0``) the contract answers the identity again;
        resolution decides deactivation from the events instead.
        """
        return str(await self._contract.call("identityOwner", _address(identity, what="identity"), block=block))

    async def changed(self, identity: str, *, block: BlockId = "latest") -> int:
        """The block of ``identity``'s latest change (0 if it never changed)."""
        return int(await self._contract.call("changed", _address(identity, what="identity"), block=block))

    async def nonce(self, owner: str, *, block: BlockId = "latest") -> int:
        """The meta-transaction nonce of ``owner`` (burnt by every ``…Signed`` call it signs)."""
        return int(await self._contract.call("nonce", _address(owner, what="owner"), block=block))

    async def valid_delegate(self, identity: str, delegate_type: str, delegate: str) -> bool:
        """Whether ``delegate`` is a live delegate of ``delegate_type`` for ``identity`` (on chain)."""
        return bool(
            await self._contract.call(
                "validDelegate",
                _address(identity, what="identity"),
                bytes32(delegate_type),
                _address(delegate, what="delegate"),
            )
        )

    # -- updates sent by the owner ------------------------------------------------------------------

    async def change_owner(self, identity: str, new_owner: str, *, sender: Sender) -> TxResult:
        """Make ``new_owner`` the controller of ``identity``.

        :raises TransactionRevertedError: ``reason="bad_actor"`` if ``sender`` is not the owner.
        """
        return await self._contract.transact(
            "changeOwner", _address(identity, what="identity"), _address(new_owner, what="new owner"), sender=sender
        )

    async def deactivate(self, identity: str, *, sender: Sender) -> TxResult:
        """Deactivate ``identity`` for good: its owner becomes ``0x0`` (did:ethr "Delete")."""
        return await self.change_owner(identity, NULL_ADDRESS, sender=sender)

    async def add_delegate(
        self,
        identity: str,
        delegate_type: str,
        delegate: str,
        validity: int | timedelta = DEFAULT_VALIDITY,
        *,
        sender: Sender,
    ) -> TxResult:
        """Add ``delegate`` (``veriKey``: assertionMethod; ``sigAuth``: also authentication) for ``validity``."""
        return await self._contract.transact(
            "addDelegate",
            _address(identity, what="identity"),
            bytes32(delegate_type),
            _address(delegate, what="delegate"),
            _seconds(validity),
            sender=sender,
        )

    async def revoke_delegate(self, identity: str, delegate_type: str, delegate: str, *, sender: Sender) -> TxResult:
        """Revoke a delegate now."""
        return await self._contract.transact(
            "revokeDelegate",
            _address(identity, what="identity"),
            bytes32(delegate_type),
            _address(delegate, what="delegate"),
            sender=sender,
        )

    async def set_attribute(
        self,
        identity: str,
        name: str,
        value: bytes | str,
        validity: int | timedelta = DEFAULT_VALIDITY,
        *,
        sender: Sender,
    ) -> TxResult:
        """Publish an attribute (``did/pub/…`` key or ``did/svc/<type>`` service) for ``validity``."""
        return await self._contract.transact(
            "setAttribute",
            _address(identity, what="identity"),
            bytes32(name),
            _value(value),
            _seconds(validity),
            sender=sender,
        )

    async def revoke_attribute(self, identity: str, name: str, value: bytes | str, *, sender: Sender) -> TxResult:
        """Revoke an attribute (same name and value as published)."""
        return await self._contract.transact(
            "revokeAttribute", _address(identity, what="identity"), bytes32(name), _value(value), sender=sender
        )

    # -- signed meta-transactions: the owner signs, a relayer pays ------------------------------------

    async def _owner_nonce(self, identity: str, owner_key: Key) -> tuple[str, int]:
        # Refuse to sign for a registry/chain pair we were not configured with (no chain id in the digest).
        NetworkTable([self.network]).for_registry(int(self.chain.chain_id), self.address)
        signer = key_address(owner_key)
        owner = await self.identity_owner(identity)
        if owner != signer:
            raise InvalidInputError("the signing key is not the identity's current owner; the registry would refuse it")
        return owner, await self.nonce(owner)

    def _sign(self, owner_key: Key, digest: bytes) -> Signature:
        return sign_hash(owner_key, digest)

    async def change_owner_signed(self, identity: str, new_owner: str, *, owner_key: Key, relayer: Sender) -> TxResult:
        """``changeOwnerSigned``: ``owner_key`` signs, ``relayer`` submits and pays.

        :raises RegistryNotConfiguredError: if this chain/registry pair is not configured.
        :raises InvalidInputError: if ``owner_key`` is not the identity's owner.
        :raises TransactionRevertedError: ``reason="bad_signature"`` if the registry rejects it.
        """
        identity = _address(identity, what="identity")
        new_owner = _address(new_owner, what="new owner")
        _, nonce = await self._owner_nonce(identity, owner_key)
        sig = self._sign(owner_key, change_owner_digest(self.address, nonce, identity, new_owner))
        return await self._contract.transact(
            "changeOwnerSigned", identity, sig.v, sig.r, sig.s, new_owner, sender=relayer
        )

    async def deactivate_signed(self, identity: str, *, owner_key: Key, relayer: Sender) -> TxResult:
        """Deactivate ``identity`` by a signed owner change to ``0x0``."""
        return await self.change_owner_signed(identity, NULL_ADDRESS, owner_key=owner_key, relayer=relayer)

    async def add_delegate_signed(
        self,
        identity: str,
        delegate_type: str,
        delegate: str,
        validity: int | timedelta = DEFAULT_VALIDITY,
        *,
        owner_key: Key,
        relayer: Sender,
    ) -> TxResult:
        """``addDelegateSigned``: ``owner_key`` signs, ``relayer`` submits and pays."""
        identity = _address(identity, what="identity")
        delegate = _address(delegate, what="delegate")
        dtype, seconds = bytes32(delegate_type), _seconds(validity)
        _, nonce = await self._owner_nonce(identity, owner_key)
        sig = self._sign(owner_key, add_delegate_digest(self.address, nonce, identity, dtype, delegate, seconds))
        return await self._contract.transact(
            "addDelegateSigned", identity, sig.v, sig.r, sig.s, dtype, delegate, seconds, sender=relayer
        )

    async def revoke_delegate_signed(
        self, identity: str, delegate_type: str, delegate: str, *, owner_key: Key, relayer: Sender
    ) -> TxResult:
        """``revokeDelegateSigned``: ``owner_key`` signs, ``relayer`` submits and pays."""
        identity = _address(identity, what="identity")
        delegate = _address(delegate, what="delegate")
        dtype = bytes32(delegate_type)
        _, nonce = await self._owner_nonce(identity, owner_key)
        sig = self._sign(owner_key, revoke_delegate_digest(self.address, nonce, identity, dtype, delegate))
        return await self._contract.transact(
            "revokeDelegateSigned", identity, sig.v, sig.r, sig.s, dtype, delegate, sender=relayer
        )

    async def set_attribute_signed(
        self,
        identity: str,
        name: str,
        value: bytes | str,
        validity: int | timedelta = DEFAULT_VALIDITY,
        *,
        owner_key: Key,
        relayer: Sender,
    ) -> TxResult:
        """``setAttributeSigned``: ``owner_key`` signs, ``relayer`` submits and pays."""
        identity = _address(identity, what="identity")
        raw_name, raw_value, seconds = bytes32(name), _value(value), _seconds(validity)
        _, nonce = await self._owner_nonce(identity, owner_key)
        sig = self._sign(owner_key, set_attribute_digest(self.address, nonce, identity, raw_name, raw_value, seconds))
        return await self._contract.transact(
            "setAttributeSigned", identity, sig.v, sig.r, sig.s, raw_name, raw_value, seconds, sender=relayer
        )

    async def revoke_attribute_signed(
        self, identity: str, name: str, value: bytes | str, *, owner_key: Key, relayer: Sender
    ) -> TxResult:
        """``revokeAttributeSigned``: ``owner_key`` signs, ``relayer`` submits and pays."""
        identity = _address(identity, what="identity")
        raw_name, raw_value = bytes32(name), _value(value)
        _, nonce = await self._owner_nonce(identity, owner_key)
        sig = self._sign(owner_key, revoke_attribute_digest(self.address, nonce, identity, raw_name, raw_value))
        return await self._contract.transact(
            "revokeAttributeSigned", identity, sig.v, sig.r, sig.s, raw_name, raw_value, sender=relayer
        )

    def __repr__(self) -> str:
        return f"EthrRegistry(chain_id={int(self.chain.chain_id)}, registry={self.address})"
