"""did:ethr resolution over a chain: walk the ERC-1056 ``changed`` list, cache per identity.

Adapter (async, chain I/O through :mod:`vcsdk.registry`). Cost grows with the identity's own history,
never with the length of the chain:

1. ``changed(identity)`` at the resolution block (``head - finality_depth``) gives the newest block
   with a change for this identity;
2. ``eth_getLogs`` for exactly that block and this identity (topic 1) returns its events, each
   carrying ``previousChange``; the smallest earlier one is the next block to fetch;
3. until ``previousChange`` is 0; then the headers of those blocks (their timestamps) come in one
   batched JSON-RPC request.

Events are cached per identity with the head they were read at. Revalidation is one ``changed`` call:
the same head means nothing changed; a newer head fetches only the blocks after the cached head.
Built documents are cached too and served without any call while younger than ``cache_ttl`` and
before the earliest ``validTo`` they include.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime

from vcsdk.did import (
    DidResolutionResult,
    DidUrl,
    Erc1056Event,
    EthrDid,
    EthrNetwork,
    build_ethr_document,
    decode_erc1056_log,
    parse_version_id,
    parse_version_time,
)
from vcsdk.errors import (
    ChainIdMismatchError,
    ChainUnavailableError,
    DidNotFoundError,
    DidResolutionError,
    InvalidDidError,
    RegistryError,
    TransactionRevertedError,
)
from vcsdk.registry import Chain, LogFilter, address_topic

__all__ = ["EthrResolver"]

_MAX_CACHED_IDENTITIES = 10_000
_MAX_CACHED_RESULTS = 10_000


@dataclass(slots=True)
class _History:
    head: int
    events: tuple[Erc1056Event, ...]
    checked_at: float  # time.monotonic() of the last revalidation


@dataclass(slots=True)
class _CachedResult:
    result: DidResolutionResult
    head: int
    fresh_until: float  # monotonic
    expires_at: int | None  # chain seconds: earliest included validTo


class _Network:
    """One configured network: its chain connection (made on first use) and read counters."""

    def __init__(self, config: EthrNetwork) -> None:
        self.config = config
        self.chain: Chain | None = config.chain
        self._owned = config.chain is None
        self._lock = asyncio.Lock()

    async def connect(self) -> Chain:
        if self.chain is not None:
            return self.chain
        async with self._lock:
            if self.chain is not None:
                return self.chain
            failure: Exception | None = None
            tried: list[str] = []
            for url in self.config.rpc_urls:
                try:
                    self.chain = await Chain.connect(url, chain_id=self.config.chain_id)
                    return self.chain
                except ChainIdMismatchError:
                    raise
                except ChainUnavailableError as exc:  # try the next endpoint
                    failure = exc
                    tried.append(str(exc.details.get("endpoint", "?")))  # scheme://host:port: no API keys
            where = ", ".join(tried) or "none configured"
            raise ChainUnavailableError(
                f"no RPC endpoint of chain {self.config.chain_id} answered ({where}): is the node running "
                "there? Check the RPC URL (--rpc-url, the network config's rpc_url, EthrNetwork.rpc_urls)",
                details={"endpoints": tried},
            ) from failure

    async def close(self) -> None:
        if self._owned and self.chain is not None:
            await self.chain.close()
            self.chain = None


class EthrResolver:
    """Resolves did:ethr DIDs on configured networks, with per-identity event caching.

    :param networks: the configured networks (by chain id / name).
    :param clock: the current time (the latest document judges ``validTo`` against it).
    :param cache_ttl: seconds a built document is served without asking the chain again.
    :param max_history: the most blocks one identity's history may span before resolution gives up.
    """

    def __init__(
        self,
        *,
        clock: Callable[[], datetime],
        cache_ttl: float,
        max_history: int = 10_000,
    ) -> None:
        self._clock = clock
        self._ttl = cache_ttl
        self._max_history = max_history
        self._networks: dict[int, _Network] = {}
        self._histories: OrderedDict[tuple[int, str], _History] = OrderedDict()
        self._results: OrderedDict[str, _CachedResult] = OrderedDict()
        self._timestamps: dict[tuple[int, int], int] = {}
        self._inflight: dict[tuple[int, str], asyncio.Future[_History]] = {}
        self.rpc_calls = 0

    def _network(self, config: EthrNetwork) -> _Network:
        net = self._networks.get(config.chain_id)
        if net is None or net.config != config:
            net = self._networks[config.chain_id] = _Network(config)
        return net

    def cached(self, key: str) -> DidResolutionResult | None:
        """A still-fresh cached result for ``key`` (the DID URL without fragment), without any I/O."""
        entry = self._results.get(key)
        if entry is None or time.monotonic() >= entry.fresh_until:
            return None
        if entry.expires_at is not None and self._clock().timestamp() > entry.expires_at:
            return None
        return entry.result

    def invalidate(self, did: str | None = None) -> None:
        """Forget cached documents (all, or those of one DID) and the matching event histories."""
        if did is None:
            self._results.clear()
            self._histories.clear()
            self._timestamps.clear()
            return
        for key in [k for k in self._results if k.split("?", 1)[0] == did]:
            del self._results[key]
        address = did.rsplit(":", 1)[-1].lower()
        for hkey in [k for k in self._histories if k[1].lower() == address]:
            del self._histories[hkey]

    async def resolve(self, url: DidUrl, did: EthrDid, config: EthrNetwork) -> DidResolutionResult:
        """Resolve ``did`` on ``config``'s chain, honouring ``versionId`` / ``versionTime`` in ``url``.

        :raises InvalidDidError: for a malformed ``versionId``/``versionTime`` or both at once.
        :raises DidNotFoundError: if ``versionId`` is beyond the resolution block.
        :raises ChainUnavailableError: if no endpoint answers.
        :raises ChainIdMismatchError: if the endpoint serves another chain.
        :raises DidResolutionError: if the node lacks the identity's history (not an archive node).
        """
        params = url.params
        version_id = params.get("versionId")
        version_time = params.get("versionTime")
        if version_id is not None and version_time is not None:
            raise InvalidDidError("use either versionId or versionTime, not both")
        until_block = parse_version_id(version_id) if version_id is not None else None
        until_time = int(parse_version_time(version_time).timestamp()) if version_time is not None else None
        key = str(url.did) + (f"?{url.query}" if url.query else "")
        cached = self.cached(key)
        if cached is not None:
            return cached

        net = self._network(config)
        chain = await net.connect()
        history = await self._history(net, chain, did)
        previous = self._results.get(key)
        if (
            previous is not None
            and previous.head == history.head
            and (previous.expires_at is None or self._clock().timestamp() <= previous.expires_at)
        ):
            # Same history, nothing expired since: the document is unchanged.
            previous.fresh_until = history.checked_at + self._ttl
            return previous.result
        if until_block is not None:
            now = await self._block_timestamp(net, chain, until_block)
        elif until_time is not None:
            now = until_time
        else:
            now = int(self._clock().timestamp())
        built = build_ethr_document(
            did,
            history.events,
            chain_id=config.chain_id,
            now=now,
            until_block=until_block,
            until_time=until_time,
        )
        result = built.to_result()
        self._results[key] = _CachedResult(
            result=result,
            head=history.head,
            fresh_until=history.checked_at + self._ttl,
            expires_at=built.next_expiry if until_block is None and until_time is None else None,
        )
        self._results.move_to_end(key)
        while len(self._results) > _MAX_CACHED_RESULTS:
            self._results.popitem(last=False)
        return result

    async def _block_timestamp(self, net: _Network, chain: Chain, block: int) -> int:
        cache_key = (net.config.chain_id, block)
        if cache_key in self._timestamps:
            return self._timestamps[cache_key]
        try:
            self.rpc_calls += 1
            info = await chain.get_block(block)
        except RegistryError as exc:
            if exc.code == "block_not_found":
                raise DidNotFoundError(f"versionId {block} is beyond the newest block of the chain") from None
            raise
        self._timestamps[cache_key] = info.timestamp
        return info.timestamp

    async def _resolution_block(self, net: _Network, chain: Chain) -> int | str:
        depth = net.config.finality_depth
        if depth == 0:
            return "latest"
        self.rpc_calls += 1
        return max(await chain.block_number() - depth, 0)

    async def _history(self, net: _Network, chain: Chain, did: EthrDid) -> _History:
        hkey = (net.config.chain_id, did.address)
        cached = self._histories.get(hkey)
        if cached is not None and time.monotonic() < cached.checked_at + self._ttl:
            return cached
        # Single flight: concurrent resolves of one identity share one walk of its history.
        task = self._inflight.get(hkey)
        if task is None:
            task = asyncio.ensure_future(self._load_history(net, chain, did, hkey))
            self._inflight[hkey] = task
            task.add_done_callback(lambda _: self._inflight.pop(hkey, None))
        return await asyncio.shield(task)

    async def _load_history(self, net: _Network, chain: Chain, did: EthrDid, hkey: tuple[int, str]) -> _History:
        cached = self._histories.get(hkey)
        now = time.monotonic()
        block = await self._resolution_block(net, chain)
        registry = chain.contract("EthereumDIDRegistry", net.config.registry)
        self.rpc_calls += 1
        try:
            head = int(await registry.call("changed", did.address, block=block))  # type: ignore[arg-type]
        except (ChainUnavailableError, TransactionRevertedError):
            raise
        except RegistryError as exc:
            self.rpc_calls += 1
            if not await chain.get_code(net.config.registry, block=block):  # type: ignore[arg-type]
                raise DidResolutionError(
                    f"no ERC-1056 registry is deployed at {net.config.registry} on chain {net.config.chain_id} "
                    f"(at block {block}); check the network's registry address",
                    code="registry_not_found",
                ) from exc
            raise
        if cached is not None and cached.head == head:
            cached.checked_at = now
            return cached
        if cached is not None and 0 < cached.head < head:
            newer = await self._walk(net, chain, did.address, head, stop_at=cached.head)
            if newer is not None:
                history = _History(head=head, events=cached.events + tuple(newer), checked_at=now)
                self._remember(hkey, history)
                return history
        events = await self._walk(net, chain, did.address, head, stop_at=0)
        history = _History(head=head, events=tuple(events or ()), checked_at=now)
        self._remember(hkey, history)
        return history

    def _remember(self, hkey: tuple[int, str], history: _History) -> None:
        self._histories[hkey] = history
        self._histories.move_to_end(hkey)
        while len(self._histories) > _MAX_CACHED_IDENTITIES:
            self._histories.popitem(last=False)

    async def _walk(
        self, net: _Network, chain: Chain, address: str, head: int, *, stop_at: int
    ) -> list[Erc1056Event] | None:
        """Events of the blocks in ``(stop_at, head]`` by following ``previousChange``.

        One ``eth_getLogs`` per changed block (each names the next), then the headers of those blocks
        (for their timestamps) in one batched request.

        :return: the events in chain order, or ``None`` if the list skipped past ``stop_at`` (the
            cached history is not a prefix of the new one, e.g. after a reorganisation).
        """
        topic = address_topic(address)
        per_block: list[tuple[int, list[Erc1056Event]]] = []
        block = head
        while block > stop_at:
            if len(per_block) >= self._max_history:
                raise DidResolutionError(
                    f"the identity's history spans more than {self._max_history} blocks; raise max_history",
                    code="history_too_long",
                )
            flt = LogFilter(address=net.config.registry, topics=(None, topic), from_block=block, to_block=block)
            self.rpc_calls += 1
            logs = sorted(await chain.get_logs(flt), key=lambda entry: entry.log_index)
            events: list[Erc1056Event] = []
            previous = 0
            for log in logs:
                # The timestamp is filled in below, once the headers are fetched in one batch.
                event = decode_erc1056_log(
                    log.topics,
                    log.data,
                    block_number=log.block_number,
                    block_timestamp=0,
                    tx_hash="0x" + log.transaction_hash.hex(),
                    log_index=log.log_index,
                )
                if event is None:
                    continue
                events.append(event)
                pc = event.previous_change
                if 0 < pc < block and (previous == 0 or pc < previous):
                    previous = pc
            if not events:
                raise DidResolutionError(
                    f"no registry logs in block {block} although the identity's change list points there; "
                    "the node may lack historical logs (use an archive node) or the registry address is wrong",
                    code="history_unavailable",
                )
            per_block.append((block, events))
            block = previous
        if stop_at and block != stop_at:
            return None
        timestamps = await self._block_timestamps(net, chain, [b for b, _ in per_block])
        return [
            replace(event, block_timestamp=timestamps[block_number])
            for block_number, events in reversed(per_block)
            for event in events
        ]

    async def _block_timestamps(self, net: _Network, chain: Chain, blocks: list[int]) -> dict[int, int]:
        """Timestamps of ``blocks``: cached ones from memory, the rest in one JSON-RPC batch."""
        chain_id = net.config.chain_id
        out = {b: self._timestamps[(chain_id, b)] for b in blocks if (chain_id, b) in self._timestamps}
        missing = [b for b in blocks if b not in out]
        if not missing:
            return out
        self.rpc_calls += 1
        stamps = [info.timestamp for info in await chain.get_blocks(missing)]  # one batched request
        for b, stamp in zip(missing, stamps, strict=True):
            self._timestamps[(chain_id, b)] = stamp
            out[b] = stamp
        return out

    async def close(self) -> None:
        """Close the chain connections this resolver opened."""
        for net in self._networks.values():
            await net.close()
