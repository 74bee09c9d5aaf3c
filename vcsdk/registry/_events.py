"""Event logs: ``eth_getLogs`` queries, one or several; part of :class:`~vcsdk.registry.Chain`
(a JSON-RPC chain batches several into few round trips)."""

from __future__ import annotations

from collections.abc import Sequence

from vcsdk.registry._base import ChainBase
from vcsdk.registry._types import BlockId, LogEntry, LogFilter
from vcsdk.registry._wire import filter_params, log_entry

__all__ = ["EventReads"]


class EventReads(ChainBase):
    """Reading event logs; part of :class:`~vcsdk.registry.Chain`."""

    async def get_logs(
        self,
        flt: LogFilter | None = None,
        *,
        address: str | tuple[str, ...] | None = None,
        topics: Sequence[bytes | tuple[bytes, ...] | None] = (),
        from_block: BlockId = 0,
        to_block: BlockId = "latest",
    ) -> list[LogEntry]:
        """Logs matching a filter (``eth_getLogs``), in chain order.

        Pass a :class:`LogFilter` or the same fields as keywords.

        :raises ChainUnavailableError: if the node does not answer in time.
        """
        query = flt or LogFilter(address=address, topics=tuple(topics), from_block=from_block, to_block=to_block)
        raw = await self._rpc(self._w3.eth.get_logs(filter_params(query)), what="eth_getLogs")  # type: ignore[arg-type]
        return [log_entry(log) for log in raw]

    async def get_logs_many(self, filters: Sequence[LogFilter]) -> list[list[LogEntry]]:
        """Run several log queries, batched into few JSON-RPC round trips where the node allows.

        Useful for walking a linked list of blocks (ERC-1056 ``previousChange``) level by level.

        :raises ChainUnavailableError: if the node does not answer in time.
        :return: one list of logs per filter, in the same order.
        """
        return [await self.get_logs(flt) for flt in filters]
