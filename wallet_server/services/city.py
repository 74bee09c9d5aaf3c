"""The city on chain: its contracts, its did:ethr with a P-256 signing key, its self-accreditation.

On the embedded chain (the default) the three contracts are deployed when the city is first needed
and the city's DID and accreditation are set up there; with ``rpc_url`` the addresses come from the
network config ``vcsdk deploy`` wrote, and the keys from settings. Everything else in the back
office (issuance, status lists, trust, DID resolution) asks :meth:`CitySetup.get`.

Every process of a deployment (the workers of ``--workers N``, instances behind a load balancer)
sets the city up at start, at the same moment. The on-chain writes (the signing key on the DID, the
self-accreditation) are made by one of them at a time, under a lease in the shared database: the
others wait, then find the key published. Two processes publishing the same key would each write an
attribute, and did:ethr names a key published twice by its last event (``#delegate-2``), so the
first one's signatures (``kid`` ``#delegate-1``: registrations, consent records) would stop
verifying anywhere.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from vcsdk.errors import InvalidInputError, RegistryNotConfiguredError, VcsdkError
from vcsdk.keys import Key

if TYPE_CHECKING:
    from vcsdk.ethr import EthrRegistry, Resolver
    from vcsdk.registry import Chain
    from vcsdk.trust import TrustRegistry
    from wallet_server.chain import LazyChain
    from wallet_server.services.lease import Lease

__all__ = ["City", "CitySetup", "load_network_config"]

log = logging.getLogger("wallet_server.city")
#: Pause between two attempts to take the set-up lease another process holds.
_LEASE_POLL = 0.2

@dataclass(frozen=True, slots=True)
class City:
    """The city as set up on chain.

    :ivar did: ``did:ethr:<chain id>:<owner address>``.
    :ivar signing_key: the P-256 key published on the DID (its ``kid`` is the verification method id).
    :ivar owner: the secp256k1 account that owns the DID and governs the trusted-issuer registry.
    :ivar addresses: contract name → address.
    """

    chain: Chain = field(repr=False)
    did: str
    signing_key: Key = field(repr=False)
    owner: Key = field(repr=False)
    ethr: EthrRegistry = field(repr=False)
    resolver: Resolver = field(repr=False)
    trust: TrustRegistry = field(repr=False)
    addresses: dict[str, str]
    deployment_blocks: dict[str, int]

    @property
    def receipt_registry_address(self) -> str:
        """The ``AccessReceiptRegistry`` address (for the resident side's receipt anchoring)."""
        return self.addresses["AccessReceiptRegistry"]


def load_network_config(path: str) -> dict[str, Any]:
    """Read and check the network config ``vcsdk deploy`` wrote (its own reader decides the format).

    :raises InvalidInputError: if it is missing, not JSON, or lacks a member.
    :return: the config object.
    """
    from vcsdk.registry import load_network_config as read_config

    try:
        return read_config(path)
    except OSError as exc:
        raise InvalidInputError("network_config cannot be read; run vcsdk deploy --out FILE") from exc


class CitySetup:
    """Sets the city up once, on first use, and hands out the result.

    :param chain: the app's chain connection.
    :param city_key: the DID owner and governance key (``None``: the embedded chain's first dev account).
    :param signing_key: the city's P-256 signing key (``None``: a fresh one, development only).
    :param network_config: path of the network config (required with a JSON-RPC chain).
    :param accredit_types: credential types (``vct``) the city accredits itself for.
    :param lease: the shared database's lease under which one process at a time writes the city's
        key and accreditation on chain (``None``: this process is the only one, e.g. the embedded chain).
    """

    def __init__(
        self,
        chain: LazyChain,
        *,
        embedded: bool,
        city_key: Key | None,
        signing_key: Key | None,
        network_config: str | None,
        accredit_types: tuple[str, ...],
        lease: Lease | None = None,
    ) -> None:
        self._chain = chain
        self._embedded = embedded
        self._city_key = city_key
        self._signing_key = signing_key
        self._network_config = network_config
        self._accredit_types = accredit_types
        self._lease = lease
        self._city: City | None = None
        self._lock = asyncio.Lock()

    async def get(self) -> City:
        """The city, set up on the first call.

        :raises RegistryNotConfiguredError: a JSON-RPC chain without ``city_key`` or ``network_config``,
            or a configured address without the contract.
        :raises ChainIdMismatchError: the network config is for another chain than the node's.
        :raises UnsupportedChainError: the node's EVM lacks an opcode the contracts use.
        :raises ChainUnavailableError: if the node does not answer (a later call tries again).
        """
        if self._city is not None:
            return self._city
        async with self._lock:
            if self._city is None:
                self._city = await self._set_up()
            return self._city

    async def close(self) -> None:
        if self._city is not None:
            await self._city.resolver.close()
            self._city = None

    async def _set_up(self) -> City:
        from vcsdk import City as NetworkCity
        from vcsdk.registry import CONTRACTS, EmbeddedChain, check_chain, key_address

        chain = await self._chain.get()
        addresses: dict[str, str] = {}
        blocks: dict[str, int] = {}
        if self._embedded:
            owner = self._city_key
            if owner is None:
                if not isinstance(chain, EmbeddedChain):  # pragma: no cover - embedded is embedded
                    raise RegistryNotConfiguredError("configure city_key")
                owner = chain.dev_keys[0]
            for name in CONTRACTS:
                addresses[name] = await chain.deploy(name, sender=owner)
                blocks[name] = await chain.block_number()
            log.info("contracts deployed on the embedded chain", extra={"event": "city_contracts_deployed"})
        else:
            if self._city_key is None or self._network_config is None:
                raise RegistryNotConfiguredError(
                    "with --rpc-url the server needs the city's contracts and key: --network-config FILE (the "
                    "file `vcsdk deploy` wrote) and city_key (VCSDK_WALLET_CITY_KEY, or city_key in --config); "
                    "see docs/operations.md, or run `vcsdk dev up` for a local city"
                )
            owner = self._city_key
            config = load_network_config(self._network_config)
            for name in CONTRACTS:
                addresses[name] = str(config["contracts"][name]["address"])
                blocks[name] = int(config["contracts"][name].get("block", 0))
            # Chain id, the EVM features the contracts need, and each contract at its address: a
            # mistake here stops the start with the fix, not the first resident's request.
            await check_chain(chain, chain_id=int(config["chain_id"]), addresses=addresses,
                              where=f"the network config (--network-config {self._network_config})")
        # The network wired as every service wires it (vcsdk.City): resolver, DID and trust registries.
        config = {"chain_id": int(chain.chain_id),
                  "contracts": {name: {"address": addresses[name], "block": blocks[name]} for name in CONTRACTS}}
        network = await NetworkCity.open(config, chain=chain, cache_ttl=timedelta(seconds=1))
        ethr, resolver, trust = network.ethr, network.resolver, network.trust
        try:
            identity = key_address(owner)
            did = network.did_of(owner)
            async with self._holding_lease():
                signing = await self._publish_signing_key(ethr, resolver, did, identity, owner)
                await self._accredit_self(chain, trust, did, owner)
        except BaseException:
            await network.close()
            raise
        log.info("city set up", extra={"event": "city_ready"})
        return City(chain, did, signing, owner, ethr, resolver, trust, addresses, blocks)

    @contextlib.asynccontextmanager
    async def _holding_lease(self) -> AsyncIterator[None]:
        """Wait for the set-up lease, keep it renewed while the body runs, then give it up.

        A holder that dies stops renewing it, and the first process to ask once it expires takes over.

        :raises StorageError: if the database fails.
        """
        lease = self._lease
        if lease is None:
            yield
            return
        while not await lease.hold():
            await asyncio.sleep(_LEASE_POLL)

        async def renew() -> None:
            while True:
                await asyncio.sleep(lease.ttl.total_seconds() / 3)
                with contextlib.suppress(VcsdkError):  # a failed renewal is tried again; the lease lasts
                    await lease.hold()

        renewing = asyncio.create_task(renew())
        try:
            yield
        finally:
            renewing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewing
            with contextlib.suppress(VcsdkError):  # unreleased, it expires
                await lease.release()

    async def _publish_signing_key(
        self, ethr: EthrRegistry, resolver: Resolver, did: str, identity: str, owner: Key
    ) -> Key:
        from vcsdk.did import key_attribute, key_from_verification_method

        signing = self._signing_key
        if signing is None:
            log.warning("no city_signing_key configured: using a fresh key (development only)",
                        extra={"event": "city_key_ephemeral"})
            signing = Key.generate("P-256")
        resolver.invalidate(did)  # what the chain says now: another process may have just published it
        published = _find_key(await resolver.resolve(did), signing, key_from_verification_method)
        if published is None:
            await ethr.set_attribute(identity, *key_attribute(signing), sender=owner)
            resolver.invalidate(did)
            published = _find_key(await resolver.resolve(did), signing, key_from_verification_method)
        if published is None:  # pragma: no cover - the registry just accepted it
            raise RegistryNotConfiguredError("the city's signing key does not appear in its DID document")
        return signing.with_kid(published)

    async def _accredit_self(self, chain: Chain, trust: TrustRegistry, did: str, owner: Key) -> None:
        latest = datetime.fromtimestamp((await chain.get_block("latest")).timestamp, UTC)
        for vct in self._accredit_types:
            current = await trust.accreditation(did, vct)
            if current is not None and current.active_at(latest):
                continue
            try:
                await trust.accredit(did, vct, valid_from=latest - timedelta(days=1), sender=owner)
            except VcsdkError as exc:
                # city_key is not governance of this registry: the operator accredits the city instead.
                log.warning("the city could not accredit itself", extra={"event": "city_accredit_failed",
                                                                          "code": exc.code})


def _find_key(result: Any, signing: Key, to_key: Any) -> str | None:
    """The id of the verification method that holds ``signing``'s public key, if any."""
    wanted = signing.public_jwk()
    document = result.document_json()
    for vm in document.get("verificationMethod", []) or []:
        try:
            key = to_key(vm)
        except VcsdkError:
            continue
        if key.public_jwk() == wanted:
            return str(vm["id"])
    return None
