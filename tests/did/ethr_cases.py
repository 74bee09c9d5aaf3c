"""did:ethr histories as data: each case is a DID, its ERC-1056 events, the time and target version.

Used by the builder's unit tests (expected values) and by the interop test that runs the same
histories through ethr-did-resolver 11.x's ``wrapDidDocument``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from vcsdk.did._events import DidAttributeChanged, DidDelegateChanged, DidOwnerChanged, Erc1056Event
from vcsdk.did._syntax import EthrDid, parse_ethr_did
from vcsdk.did.erc1056 import bytes32

ADDRESS = "0xB9C5714089478a327F09197987f16f9E5d936E8a"
DID = f"did:ethr:0x539:{ADDRESS.lower()}"
PUBKEY_DID = "did:ethr:0x539:0x0328939c3dc5af29fe52fea2ab97019d256a6ffd17e7bbc09405e15466f253c910"
PUBKEY_ADDRESS = "0xcaf3C37a127793a4934a7e2831FfEDD9E83Cc8b1"
DELEGATE_1 = "0x1111111111111111111111111111111111111111"
DELEGATE_2 = "0x2222222222222222222222222222222222222222"
OWNER_2 = "0x3333333333333333333333333333333333333333"
NULL = "0x0000000000000000000000000000000000000000"
CHAIN_ID = 1337
BASE_TIME = 1_700_000_000
# A compressed P-256 point, multicodec-prefixed (0x8024): what a city publishes for ES256.
P256_MULTIKEY = bytes.fromhex("8024") + bytes.fromhex(
    "037a2a94d02c6e1c4d5b8b8a8b36d57e0f0b3e2d7a4b0b1bb8d1a4a4f3f1e1c0d2"
)
SECP_KEY = bytes.fromhex("02b97c30de767f084ce3080168ee293053ba33b235d7116a3263d29f1450936b71")
ED_KEY = bytes.fromhex("b97c30de767f084ce3080168ee293053ba33b235d7116a3263d29f1450936b71")


def ts(block: int) -> int:
    """Block timestamps in these cases: 10 s per block."""
    return BASE_TIME + 10 * block


class History:
    """Builds an event list with consistent previousChange links, block timestamps and log indexes."""

    def __init__(self, identity: str = ADDRESS) -> None:
        self.identity = identity
        self.events: list[Erc1056Event] = []
        self._last = 0
        self._log = 0

    def _common(self, block: int) -> dict[str, Any]:
        # The registry emits changed[identity] as previousChange: for a second change in the same
        # block that is the block itself, as on chain.
        self._log += 1
        out = {
            "identity": self.identity,
            "previous_change": self._last,
            "block_number": block,
            "block_timestamp": ts(block),
            "tx_hash": "0x" + f"{block:02x}{self._log:02x}".rjust(64, "0"),
            "log_index": self._log,
        }
        self._last = block
        return out

    def owner(self, block: int, owner: str) -> History:
        self.events.append(DidOwnerChanged(owner=owner, **self._common(block)))
        return self

    def delegate(self, block: int, dtype: str | bytes, delegate: str, valid_to: int) -> History:
        raw = bytes32(dtype)
        self.events.append(
            DidDelegateChanged(delegate_type=raw, delegate=delegate, valid_to=valid_to, **self._common(block))
        )
        return self

    def attribute(self, block: int, name: str | bytes, value: bytes, valid_to: int) -> History:
        raw = bytes32(name)
        self.events.append(DidAttributeChanged(name=raw, value=value, valid_to=valid_to, **self._common(block)))
        return self


@dataclass
class Case:
    name: str
    did: str
    history: History
    now: int
    until_block: int | None = None
    expected: dict[str, Any] = field(default_factory=dict)

    @property
    def parsed(self) -> EthrDid:
        return parse_ethr_did(self.did)


def reference_history(events: list[Erc1056Event]) -> list[dict[str, Any]]:
    """The events as ethr-did-resolver's log parser produces them (bytes32 as text, value as 0x-hex)."""
    out: list[dict[str, Any]] = []
    for e in events:
        base: dict[str, Any] = {
            "identity": e.identity,
            "previousChange": str(e.previous_change),
            "blockNumber": e.block_number,
        }
        if isinstance(e, DidOwnerChanged):
            out.append({**base, "_eventName": "DIDOwnerChanged", "owner": e.owner})
        elif isinstance(e, DidDelegateChanged):
            if e.delegate_type_text is None:
                continue  # the reference log parser drops non-UTF-8 bytes32 events
            out.append(
                {
                    **base,
                    "_eventName": "DIDDelegateChanged",
                    "delegateType": e.delegate_type_text,
                    "delegate": e.delegate,
                    "validTo": str(e.valid_to),
                }
            )
        else:
            if e.name_text is None:
                continue
            out.append(
                {
                    **base,
                    "_eventName": "DIDAttributeChanged",
                    "name": e.name_text,
                    "value": "0x" + e.value.hex(),
                    "validTo": str(e.valid_to),
                }
            )
    return out


FAR = BASE_TIME + 10_000_000
NOW = ts(100)


def cases() -> list[Case]:
    """Every history the builder is checked on."""
    out: list[Case] = []
    out.append(Case("no_events", DID, History(), NOW))
    out.append(
        Case(
            "delegates",
            DID,
            History()
            .delegate(3, "veriKey", DELEGATE_1, FAR)
            .delegate(4, "sigAuth", DELEGATE_2, FAR)
            .delegate(5, "otherType", DELEGATE_2, FAR),
            NOW,
        )
    )
    out.append(
        Case(
            "expired_and_revoked_delegates",
            DID,
            History()
            .delegate(3, "veriKey", DELEGATE_1, ts(3) + 5)  # expired before NOW
            .delegate(4, "sigAuth", DELEGATE_2, FAR)
            .delegate(6, "sigAuth", DELEGATE_2, ts(6))  # revoked
            .delegate(7, "veriKey", DELEGATE_2, FAR),
            NOW,
        )
    )
    out.append(
        Case(
            "attributes",
            DID,
            History()
            .attribute(3, "did/pub/Secp256k1/veriKey/hex", SECP_KEY, FAR)
            .attribute(3, "did/pub/Ed25519/veriKey/base58", ED_KEY, FAR)
            .attribute(4, "did/pub/Ed25519/sigAuth/base64", ED_KEY, FAR)
            .attribute(4, "did/pub/X25519/enc/base58", ED_KEY, FAR)
            .attribute(5, "did/pub/RSA/veriKey/pem", b"-----BEGIN PUBLIC KEY-----", FAR)
            .attribute(5, "did/pub/Secp256k1/veriKey/weird", SECP_KEY, FAR)
            .attribute(5, "did/pub/Secp256k1/sigAuth", SECP_KEY, FAR)
            .attribute(6, "did/pub/Ed25519/veriKey/pem", b"\xff\xfe", FAR)
            .attribute(6, "did/svc/HubService", b"https://hubs.example.org", FAR)
            .attribute(7, "did/svc/Messaging", b'{"uri":"https://m.example.org","accept":["a"]}', FAR)
            .attribute(7, "did/svc/Broken", b"\xff", FAR)
            .attribute(7, "did/svc/List", b'["https://a.example.org"]', FAR)
            .attribute(8, "did/unknown/thing", b"x", FAR)
            .attribute(8, "did/pub/Ed25519/veriKey/b64/x", ED_KEY, FAR)
            .attribute(8, "name with spaces", b"x", FAR),
            NOW,
        )
    )
    out.append(
        Case(
            "multikey",
            DID,
            History().attribute(3, "did/pub/Multikey/veriKey/hex", P256_MULTIKEY, FAR),
            NOW,
        )
    )
    out.append(
        Case(
            "revoked_attributes",
            DID,
            History()
            .attribute(3, "did/pub/Secp256k1/veriKey/hex", SECP_KEY, FAR)
            .attribute(4, "did/svc/HubService", b"https://hubs.example.org", FAR)
            .attribute(5, "did/pub/Ed25519/veriKey/base58", ED_KEY, FAR)
            .attribute(6, "did/pub/Secp256k1/veriKey/hex", SECP_KEY, 0)
            .attribute(6, "did/svc/HubService", b"https://hubs.example.org", 0)
            .attribute(7, "did/svc/Other", b"https://other.example.org", FAR)
            .attribute(7, "did/pub/Secp256k1/veriKey/hex", SECP_KEY, FAR),  # re-added: new number, moves last
            NOW,
        )
    )
    out.append(
        Case(
            "re_added_keeps_position",
            DID,
            History()
            .delegate(3, "veriKey", DELEGATE_1, FAR)
            .delegate(4, "veriKey", DELEGATE_2, FAR)
            .delegate(5, "veriKey", DELEGATE_1, FAR),
            NOW,
        )
    )
    out.append(
        Case(
            "owner_changes",
            DID,
            History().owner(3, OWNER_2).delegate(4, "veriKey", DELEGATE_1, FAR).owner(5, DELEGATE_2),
            NOW,
        )
    )
    out.append(Case("public_key_did", PUBKEY_DID, History(PUBKEY_ADDRESS).delegate(3, "veriKey", DELEGATE_1, FAR), NOW))
    out.append(Case("public_key_did_new_owner", PUBKEY_DID, History(PUBKEY_ADDRESS).owner(3, OWNER_2), NOW))
    out.append(
        Case(
            "public_key_did_owner_back",
            PUBKEY_DID,
            History(PUBKEY_ADDRESS).owner(3, OWNER_2).owner(4, PUBKEY_ADDRESS),
            NOW,
        )
    )
    out.append(
        Case(
            "deactivated",
            DID,
            History()
            .delegate(3, "veriKey", DELEGATE_1, FAR)
            .attribute(4, "did/svc/HubService", b"https://hubs.example.org", FAR)
            .owner(5, NULL)
            .delegate(6, "veriKey", DELEGATE_2, FAR),
            NOW,
        )
    )
    out.append(
        Case(
            "deactivated_at_earlier_version",
            DID,
            History().delegate(3, "veriKey", DELEGATE_1, FAR).owner(5, NULL),
            ts(5),
            until_block=4,
        )
    )
    long = (
        History()
        .delegate(3, "veriKey", DELEGATE_1, ts(3) + 25)  # valid at block 4 (ts 4 < ts3+25), expired at 6
        .attribute(4, "did/svc/HubService", b"https://hubs.example.org", FAR)
        .owner(6, OWNER_2)
        .attribute(8, "did/svc/HubService", b"https://hubs.example.org", 0)
    )
    out.append(Case("version_4", DID, long, ts(4), until_block=4))
    out.append(Case("version_5_no_event", DID, long, ts(5), until_block=5))
    out.append(Case("version_7", DID, long, ts(7), until_block=7))
    out.append(Case("version_2_before_all", DID, long, ts(2), until_block=2))
    out.append(Case("version_latest", DID, long, NOW))
    out.append(
        Case(
            "non_utf8_names_are_skipped",
            DID,
            History()
            .delegate(3, b"\xff" * 32, DELEGATE_1, FAR)
            .attribute(4, b"\xfe" * 32, b"x", FAR)
            .delegate(5, "veriKey", DELEGATE_1, FAR),
            NOW,
        )
    )
    out.append(
        Case(
            "valid_to_equal_now_is_valid",
            DID,
            History().delegate(3, "veriKey", DELEGATE_1, NOW),
            NOW,
        )
    )
    return out
