"""Arbitrary text given where an address, block, URL or contract name is expected raises InvalidInputError only."""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from vcsdk.errors import InvalidInputError, RegistryError
from vcsdk.keys import Key
from vcsdk.registry import Chain, DevChain, address_topic, key_address, load_artifact, sign_hash

_CHAIN = Chain.embedded()


@given(st.text(max_size=60))
@example("0x" + "g" * 40)
@example("0x" + "ab" * 19)
@example("0X" + "00" * 20 + "0")
def test_addresses_from_text(text: str) -> None:
    try:
        topic = address_topic(text)
    except InvalidInputError:
        with pytest.raises(InvalidInputError):
            _CHAIN.contract("EthereumDIDRegistry", text)
        return
    assert len(topic) == 32 and topic[:12] == b"\x00" * 12
    assert _CHAIN.contract("EthereumDIDRegistry", text).address.lower() == "0x" + topic[12:].hex()


@given(st.text(max_size=40))
@example("../../etc/passwd")
def test_contract_names_from_text(text: str) -> None:
    try:
        load_artifact(text)
    except InvalidInputError:
        pass
    except RegistryError as exc:
        assert exc.code == "artifact_missing"


@given(st.one_of(st.text(max_size=12), st.integers(max_value=-1)))
async def test_block_ids_from_text(block: str | int) -> None:
    if block in ("latest", "earliest", "pending", "safe", "finalized"):
        return
    with pytest.raises(InvalidInputError):
        await _CHAIN.get_block(block)  # type: ignore[arg-type]


@given(st.text(max_size=30))
async def test_rpc_urls_from_text(text: str) -> None:
    if text.startswith(("http://", "https://")):
        return
    with pytest.raises(InvalidInputError):
        await DevChain.connect(text)


def test_key_address_and_sign_hash_refuse_other_curves() -> None:
    p256 = Key.generate("P-256")
    with pytest.raises(InvalidInputError):
        key_address(p256)
    with pytest.raises(InvalidInputError):
        sign_hash(p256, b"\x00" * 32)
    with pytest.raises(InvalidInputError):
        sign_hash(Key.generate("secp256k1"), b"short")
    with pytest.raises(InvalidInputError):
        sign_hash(Key.generate("secp256k1").public_key(), b"\x00" * 32)


def test_key_address_matches_public_half() -> None:
    key = Key.generate("secp256k1")
    assert key_address(key) == key_address(key.public_key())
