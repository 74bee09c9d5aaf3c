"""The public names of vcsdk.registry are pinned: exporting one is a deliberate act."""

from __future__ import annotations

import vcsdk.registry

EXPECTED = [
    "Artifact",
    "BlockId",
    "BlockInfo",
    "Chain",
    "ChainId",
    "ContractCall",
    "ContractHandle",
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
    "key_address",
    "load_artifact",
    "sign_hash",
]


def test_registry_all_is_pinned_and_sorted() -> None:
    assert vcsdk.registry.__all__ == EXPECTED
    assert sorted(vcsdk.registry.__all__) == vcsdk.registry.__all__
    for name in EXPECTED:
        assert hasattr(vcsdk.registry, name)
