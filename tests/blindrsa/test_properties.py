"""Hypothesis properties of the blind RSA module, and the checks each function makes."""

from __future__ import annotations

import gmpy2
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from hypothesis import example, given, settings
from hypothesis import strategies as st

from vcsdk import blindrsa
from vcsdk.blindrsa import (
    RSABSSA_SHA384_PSS_RANDOMIZED,
    VARIANTS,
    blind,
    blind_sign,
    finalize,
    generate_key,
    key_id,
    load_private_key,
    load_public_key,
    prepare,
    private_key_to_pem,
    public_key_to_der,
    verify,
)
from vcsdk.errors import (
    InvalidInputError,
    SignatureInvalidError,
    SigningFailedError,
    UnsupportedAlgorithmError,
)

KEY = generate_key(2048)
OTHER = generate_key(2048)
PUBLIC = KEY.public_key()
variants = st.sampled_from(sorted(VARIANTS.values(), key=lambda v: v.name))


def _run(msg: bytes, variant: blindrsa.BlindRsaVariant) -> tuple[bytes, bytes]:
    prepared = prepare(msg, variant=variant)
    blinded = blind(PUBLIC, prepared, variant=variant)
    sig = finalize(PUBLIC, prepared, blind_sign(KEY, blinded.blinded_msg), blinded.inv, variant=variant)
    return prepared, sig


@settings(max_examples=25, deadline=None)
@given(msg=st.binary(max_size=2048), variant=variants)
@example(msg=b"", variant=RSABSSA_SHA384_PSS_RANDOMIZED)
def test_round_trip_gives_a_standard_pss_signature(msg: bytes, variant: blindrsa.BlindRsaVariant) -> None:
    prepared, sig = _run(msg, variant)
    assert prepared[-len(msg) :] == msg if msg else True
    assert len(prepared) == len(msg) + (32 if variant.randomized else 0)
    verify(PUBLIC, prepared, sig, variant=variant)
    # Any RSASSA-PSS verifier accepts it: the plain cryptography call, no blind RSA code involved.
    PUBLIC.verify(sig, prepared, padding.PSS(padding.MGF1(hashes.SHA384()), variant.salt_length), hashes.SHA384())


@settings(max_examples=25, deadline=None)
@given(msg=st.binary(min_size=1, max_size=256), index=st.integers(min_value=0), bit=st.integers(0, 7))
def test_changing_any_bit_of_message_or_signature_fails(msg: bytes, index: int, bit: int) -> None:
    variant = RSABSSA_SHA384_PSS_RANDOMIZED
    prepared, sig = _run(msg, variant)
    i = index % len(sig)
    with pytest.raises(SignatureInvalidError):
        verify(PUBLIC, prepared, sig[:i] + bytes([sig[i] ^ (1 << bit)]) + sig[i + 1 :], variant=variant)
    j = index % len(prepared)
    with pytest.raises(SignatureInvalidError):
        verify(PUBLIC, prepared[:j] + bytes([prepared[j] ^ (1 << bit)]) + prepared[j + 1 :], sig, variant=variant)
    with pytest.raises(SignatureInvalidError):
        verify(OTHER.public_key(), prepared, sig, variant=variant)


@settings(max_examples=10, deadline=None)
@given(msg=st.binary(max_size=64))
def test_blinding_hides_the_message(msg: bytes) -> None:
    """Two blindings of one message share nothing the signer sees; the signatures still verify."""
    variant = blindrsa.RSABSSA_SHA384_PSSZERO_DETERMINISTIC  # same input_msg both times
    a = blind(PUBLIC, msg, variant=variant)
    b = blind(PUBLIC, msg, variant=variant)
    assert a.blinded_msg != b.blinded_msg
    sig_a = finalize(PUBLIC, msg, blind_sign(KEY, a.blinded_msg), a.inv, variant=variant)
    sig_b = finalize(PUBLIC, msg, blind_sign(KEY, b.blinded_msg), b.inv, variant=variant)
    assert sig_a == sig_b  # PSSZERO-Deterministic: one signature per message, whatever the blind


@settings(max_examples=50, deadline=None)
@given(data=st.binary(max_size=600))
@example(data=b"")
@example(data=b"-----BEGIN PUBLIC KEY-----\n")
def test_load_public_key_raises_only_typed_errors(data: bytes) -> None:
    with pytest.raises((InvalidInputError, UnsupportedAlgorithmError)):
        load_public_key(data)


@settings(max_examples=50, deadline=None)
@given(data=st.binary(max_size=300))
def test_blind_sign_refuses_wrong_sizes(data: bytes) -> None:
    if len(data) == 256:
        data = data[:-1]
    with pytest.raises(InvalidInputError):
        blind_sign(KEY, data)


def test_blind_sign_refuses_a_representative_not_below_n() -> None:
    n = PUBLIC.public_numbers().n
    for value in (n, n + 1, 2**2048 - 1):
        with pytest.raises(InvalidInputError, match="out of range"):
            blind_sign(KEY, value.to_bytes(256, "big"))


def test_finalize_refuses_a_wrong_blind_signature_and_sizes() -> None:
    variant = RSABSSA_SHA384_PSS_RANDOMIZED
    prepared = prepare(b"ballot", variant=variant)
    blinded = blind(PUBLIC, prepared, variant=variant)
    # A real signature under the key, but over another blinded message.
    other = blind(PUBLIC, prepare(b"another ballot", variant=variant), variant=variant)
    with pytest.raises(SignatureInvalidError):
        finalize(PUBLIC, prepared, blind_sign(KEY, other.blinded_msg), blinded.inv, variant=variant)
    with pytest.raises(InvalidInputError, match="unexpected input size"):
        finalize(PUBLIC, prepared, b"\x01" * 255, blinded.inv, variant=variant)
    with pytest.raises(InvalidInputError):
        finalize(PUBLIC, prepared, blind_sign(KEY, blinded.blinded_msg), 0, variant=variant)


def test_blind_sign_uses_a_fresh_base_blinding_and_constant_time_powmod(monkeypatch: pytest.MonkeyPatch) -> None:
    bases: list[int] = []
    real = gmpy2.powmod_sec

    def spy(base: object, exponent: object, modulus: object) -> object:
        bases.append(int(base))  # type: ignore[call-overload]
        return real(base, exponent, modulus)

    monkeypatch.setattr(gmpy2, "powmod_sec", spy)
    blinded = blind(PUBLIC, prepare(b"x", variant=RSABSSA_SHA384_PSS_RANDOMIZED), variant=RSABSSA_SHA384_PSS_RANDOMIZED)
    first = blind_sign(KEY, blinded.blinded_msg)
    second = blind_sign(KEY, blinded.blinded_msg)
    assert first == second  # same answer ...
    assert len(bases) == 4 and len(set(bases)) == 4  # ... from different exponentiation inputs each call
    p = KEY.private_numbers().p
    assert int.from_bytes(blinded.blinded_msg, "big") % p not in bases  # the raw input never reaches powmod


def test_blind_sign_refuses_to_answer_after_a_fault(monkeypatch: pytest.MonkeyPatch) -> None:
    real = gmpy2.powmod_sec
    monkeypatch.setattr(gmpy2, "powmod_sec", lambda b, e, m: (real(b, e, m) + 1) % m)  # a glitched CRT half
    blinded = blind(PUBLIC, b"m" * 40, variant=blindrsa.RSABSSA_SHA384_PSS_DETERMINISTIC)
    with pytest.raises(SigningFailedError) as caught:
        blind_sign(KEY, blinded.blinded_msg)
    assert caught.value.code == "signing_failure"


def test_keys_outside_the_allow_list_are_refused() -> None:
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    odd_e = rsa.generate_private_key(public_exponent=3, key_size=2048)
    for key in (small, odd_e):
        der = key.public_key().public_bytes(
            blindrsa._rfc9474.serialization.Encoding.DER,
            blindrsa._rfc9474.serialization.PublicFormat.SubjectPublicKeyInfo,
        )
        with pytest.raises(UnsupportedAlgorithmError):
            load_public_key(der)
        with pytest.raises(UnsupportedAlgorithmError):
            blind(key.public_key(), b"m", variant=RSABSSA_SHA384_PSS_RANDOMIZED)
        with pytest.raises(UnsupportedAlgorithmError):
            blind_sign(key, b"\x00" * (key.key_size // 8))
    with pytest.raises(UnsupportedAlgorithmError):
        generate_key(1024)
    with pytest.raises(InvalidInputError):
        blind("not a key", b"m", variant=RSABSSA_SHA384_PSS_RANDOMIZED)  # type: ignore[arg-type]


def test_serialization_round_trips_and_key_id() -> None:
    der = public_key_to_der(PUBLIC)
    assert public_key_to_der(load_public_key(der)) == der
    pem = PUBLIC.public_bytes(
        blindrsa._rfc9474.serialization.Encoding.PEM, blindrsa._rfc9474.serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert public_key_to_der(load_public_key(pem)) == der
    assert len(key_id(PUBLIC)) == 32 and key_id(PUBLIC) != key_id(OTHER.public_key())
    locked = private_key_to_pem(KEY, password=b"correct horse")
    assert b"ENCRYPTED" in locked
    assert key_id(load_private_key(locked, password=b"correct horse").public_key()) == key_id(PUBLIC)
    with pytest.raises(InvalidInputError):
        load_private_key(locked, password=b"wrong")
    with pytest.raises(InvalidInputError):
        load_private_key(b"garbage")


def test_blinded_repr_hides_the_inverse() -> None:
    blinded = blind(PUBLIC, b"m", variant=blindrsa.RSABSSA_SHA384_PSS_DETERMINISTIC)
    assert str(blinded.inv) not in repr(blinded) and "inv" not in repr(blinded)
