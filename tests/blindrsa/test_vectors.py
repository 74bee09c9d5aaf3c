"""RFC 9474 Appendix A: every vector, step by step (Prepare, EMSA-PSS, Blind, BlindSign, Finalize, Verify)."""

from __future__ import annotations

import pytest

from tests.blindrsa.vectors import Vector, load
from vcsdk.blindrsa import blind, blind_sign, finalize, prepare, verify
from vcsdk.blindrsa._rfc9474 import _emsa_pss_encode
from vcsdk.errors import SignatureInvalidError

KEY, VECTORS = load()


class Replay:
    """Hands out the vector's random values in the order the protocol asks for them."""

    def __init__(self, *values: bytes) -> None:
        self.values = list(values)

    def token_bytes(self, n: int) -> bytes:
        # A zero-length salt (PSSZERO) is not drawn at all.
        value = self.values.pop(0)
        assert len(value) == n
        return value


def _r(vector: Vector) -> bytes:
    # The vectors give inv; the blind r is its inverse mod n.
    n = KEY.public_key().public_numbers().n
    return pow(int.from_bytes(vector.values["inv"], "big"), -1, n).to_bytes(512, "big")


def test_all_four_variants_are_covered() -> None:
    assert [v.section for v in VECTORS] == ["A.1", "A.2", "A.3", "A.4"]
    assert {v.variant.name for v in VECTORS} == {
        "RSABSSA-SHA384-PSS-Randomized", "RSABSSA-SHA384-PSSZERO-Randomized",
        "RSABSSA-SHA384-PSS-Deterministic", "RSABSSA-SHA384-PSSZERO-Deterministic",
    }


@pytest.mark.parametrize("vector", VECTORS, ids=lambda v: f"{v.section} {v.variant.name}")
def test_vector(vector: Vector) -> None:
    v = vector.values
    public = KEY.public_key()
    prepared = prepare(v["msg"], variant=vector.variant, randomness=Replay(v["msg_prefix"]))
    assert prepared == v["prepared_msg"]
    assert len(v["salt"]) == vector.variant.salt_length
    assert _emsa_pss_encode(prepared, 4095, v["salt"]) == v["encoded_msg"]
    randomness = Replay(*[x for x in (v["salt"], _r(vector)) if x])
    blinded = blind(public, prepared, variant=vector.variant, randomness=randomness)
    assert blinded.blinded_msg == v["blinded_msg"]
    assert blinded.inv == int.from_bytes(v["inv"], "big")
    assert blind_sign(KEY, v["blinded_msg"]) == v["blind_sig"]
    assert finalize(public, prepared, v["blind_sig"], blinded.inv, variant=vector.variant) == v["sig"]
    verify(public, v["prepared_msg"], v["sig"], variant=vector.variant)


@pytest.mark.parametrize("vector", VECTORS, ids=lambda v: v.section)
def test_vector_signature_fails_with_another_message_or_variant(vector: Vector) -> None:
    v = vector.values
    public = KEY.public_key()
    with pytest.raises(SignatureInvalidError):
        verify(public, v["prepared_msg"] + b"\x00", v["sig"], variant=vector.variant)
    with pytest.raises(SignatureInvalidError):
        verify(public, v["prepared_msg"], v["sig"][:-1] + bytes([v["sig"][-1] ^ 1]), variant=vector.variant)
    # Salt length is part of the variant: a 48-byte-salt signature does not verify as PSSZERO and back.
    other = next(o.variant for o in VECTORS if o.variant.salt_length != vector.variant.salt_length)
    with pytest.raises(SignatureInvalidError):
        verify(public, v["prepared_msg"], v["sig"], variant=other)
