"""The chain connection, opened on first use and closed with the app.

The embedded in-process chain is the default; ``Settings.rpc_url`` selects a JSON-RPC node. Routes
that need the chain (DID resolution, receipts with proofs, status-list digests) ask
``await request.app[CHAIN].get()``; the app never pays for a chain it does not use.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from vcsdk.registry import Chain

__all__ = ["LazyChain"]


class LazyChain:
    """Opens :class:`vcsdk.registry.Chain` once, on the first :meth:`get`.

    :param rpc_url: a JSON-RPC endpoint, or ``None`` for the embedded chain.
    :param confirmations: blocks a transaction needs before it counts.
    :param dev: the node is a development node (anvil) that may be asked to mine: it is opened as a
        :class:`vcsdk.registry.DevChain` (the ``mine_to_confirm`` setting).
    """

    def __init__(self, rpc_url: str | None, *, confirmations: int = 1, dev: bool = False) -> None:
        self._rpc_url = rpc_url
        self._confirmations = confirmations
        self._dev = dev
        self._chain: Chain | None = None
        self._lock = asyncio.Lock()

    async def get(self) -> Chain:
        """The chain, connected.

        :raises ChainUnavailableError: if the node does not answer (a later call tries again).
        :raises InvalidInputError: if the RPC URL is not http(s).
        """
        async with self._lock:
            if self._chain is None:
                from vcsdk.registry import Chain, DevChain

                if self._rpc_url is None:
                    self._chain = Chain.embedded(confirmations=self._confirmations)
                elif self._dev:
                    self._chain = await DevChain.connect(self._rpc_url, confirmations=self._confirmations)
                else:
                    self._chain = await Chain.connect(self._rpc_url, confirmations=self._confirmations)
            return self._chain

    async def close(self) -> None:
        async with self._lock:
            if self._chain is not None:
                await self._chain.close()
                self._chain = None

    def __repr__(self) -> str:
        where = "embedded" if self._rpc_url is None else "json-rpc"
        return f"LazyChain({where}, connected={self._chain is not None})"
