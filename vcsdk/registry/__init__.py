"""Chains and contracts: the ERC-1056 DID registry and the city's other registries, async first.

``Chain.embedded()`` runs an in-process py-evm chain with no set-up; ``await Chain.connect(url)``
talks to any JSON-RPC node. :func:`deploy_contracts` puts the city's contracts on a chain and
returns the network config that :func:`load_network_config` reads back; :func:`check_chain` says
whether a node can run them (EVM hardfork, chain id, code at each address). Contracts ship as Solidity
sources with committed, reproducible artifacts (``python -m vcsdk.registry.compile``). Failures
surface as :mod:`vcsdk.errors` classes: ``ChainUnavailableError``, ``ChainIdMismatchError``,
``TransactionRevertedError``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from vcsdk.registry._artifacts import Artifact, artifact_names, load_artifact
from vcsdk.registry._chain import Chain, ContractCall, ContractHandle, JsonRpcChain
from vcsdk.registry._checks import check_chain, contracts_hardfork
from vcsdk.registry._dev import DevChain, DevJsonRpcChain
from vcsdk.registry._devnode import DevNode
from vcsdk.registry._network_config import CONTRACTS, deploy_contracts, load_network_config
from vcsdk.registry._signing import address_topic, key_address, sign_hash
from vcsdk.registry._types import (
    BlockId,
    BlockInfo,
    ChainId,
    EventLog,
    LogEntry,
    LogFilter,
    Sender,
    Signature,
    TxResult,
)

if TYPE_CHECKING:  # pragma: no cover
    from vcsdk.registry._embedded import EmbeddedChain

__all__ = [
    "CONTRACTS",
    "Artifact",
    "BlockId",
    "BlockInfo",
    "Chain",
    "ChainId",
    "ContractCall",
    "ContractHandle",
    "DevChain",
    "DevJsonRpcChain",
    "DevNode",
    "EmbeddedChain",
    "EventLog",
    "JsonRpcChain",
    "LogEntry",
    "LogFilter",
    "Sender",
    "Signature",
    "TxResult",
    "address_topic",
    "artifact_names",
    "check_chain",
    "contracts_hardfork",
    "deploy_contracts",
    "key_address",
    "load_artifact",
    "load_network_config",
    "sign_hash",
]


def __getattr__(name: str) -> Any:
    # Start-up cost: py-evm loads only for the embedded chain (Chain.embedded() makes one).
    if name == "EmbeddedChain":
        from vcsdk.registry._embedded import EmbeddedChain

        return EmbeddedChain
    raise AttributeError(f"module 'vcsdk.registry' has no attribute {name!r}")
