"""RFC 9474 RSA Blind Signatures (RSABSSA), with the RFC's names.

Composed from well-kept primitives: ``cryptography`` generates, loads and serializes keys and runs
the final RSASSA-PSS verification; ``gmpy2.powmod_sec`` (constant-time modular exponentiation) runs
the private-key operation, with a fresh random base blinding per call; ``hashlib`` gives SHA-384
for EMSA-PSS-ENCODE, which ``cryptography`` does not expose on its own.

No I/O, no clock. Randomness is a parameter (``token_bytes``), the operating system's by default.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Final, Literal

import gmpy2
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from vcsdk._random import Randomness as Randomness  # re-exported: one protocol for every package
from vcsdk._random import SystemRandomness
from vcsdk.errors import InvalidInputError, SignatureInvalidError, SigningFailedError, UnsupportedAlgorithmError

__all__ = [
    "ALLOWED_MODULUS_BITS",
    "PUBLIC_EXPONENT",
    "RSABSSA_SHA384_PSSZERO_DETERMINISTIC",
    "RSABSSA_SHA384_PSSZERO_RANDOMIZED",
    "RSABSSA_SHA384_PSS_DETERMINISTIC",
    "RSABSSA_SHA384_PSS_RANDOMIZED",
    "VARIANTS",
    "BlindRsaVariant",
    "Blinded",
    "Randomness",
    "blind",
    "blind_sign",
    "finalize",
    "generate_key",
    "key_id",
    "load_private_key",
    "load_public_key",
    "prepare",
    "private_key_to_pem",
    "public_key_to_der",
    "verify",
]

#: Modulus sizes a blind RSA key may have (bits); anything else is refused on load and use.
ALLOWED_MODULUS_BITS: Final = frozenset({2048, 3072, 4096})
#: The only public exponent accepted (what WebCrypto and ``cryptography`` generate).
PUBLIC_EXPONENT: Final = 65537
#: RFC 9474 §4.1: PrepareRandomize prepends 32 random bytes.
PREFIX_BYTES: Final = 32
#: A bound on the message we hash, so no caller hands us unbounded input.
MAX_MESSAGE_BYTES: Final = 1 << 20
_HASH_LEN: Final = 48  # SHA-384
_BLINDING_ATTEMPTS: Final = 8


_SYSTEM: Final = SystemRandomness()


@dataclass(frozen=True, slots=True)
class BlindRsaVariant:
    """One named RSABSSA variant (RFC 9474 §5): SHA-384, MGF1-SHA-384, a salt length, a preparation.

    :ivar name: the RFC's name (``RSABSSA-SHA384-PSS-Randomized``).
    :ivar salt_length: the EMSA-PSS salt length in bytes (48 or 0).
    :ivar prepare: ``"randomize"`` (PrepareRandomize) or ``"identity"`` (PrepareIdentity).
    """

    name: str
    salt_length: int
    prepare: Literal["randomize", "identity"]

    @property
    def randomized(self) -> bool:
        return self.prepare == "randomize"

    def _pss(self) -> padding.PSS:
        return padding.PSS(mgf=padding.MGF1(hashes.SHA384()), salt_length=self.salt_length)


RSABSSA_SHA384_PSS_RANDOMIZED: Final = BlindRsaVariant("RSABSSA-SHA384-PSS-Randomized", 48, "randomize")
RSABSSA_SHA384_PSSZERO_RANDOMIZED: Final = BlindRsaVariant("RSABSSA-SHA384-PSSZERO-Randomized", 0, "randomize")
RSABSSA_SHA384_PSS_DETERMINISTIC: Final = BlindRsaVariant("RSABSSA-SHA384-PSS-Deterministic", 48, "identity")
RSABSSA_SHA384_PSSZERO_DETERMINISTIC: Final = BlindRsaVariant("RSABSSA-SHA384-PSSZERO-Deterministic", 0, "identity")
#: The four named variants of RFC 9474 §5, by name.
VARIANTS: Final = {
    v.name: v
    for v in (
        RSABSSA_SHA384_PSS_RANDOMIZED,
        RSABSSA_SHA384_PSSZERO_RANDOMIZED,
        RSABSSA_SHA384_PSS_DETERMINISTIC,
        RSABSSA_SHA384_PSSZERO_DETERMINISTIC,
    )
}


@dataclass(frozen=True, slots=True)
class Blinded:
    """The output of :func:`blind`: send ``blinded_msg`` to the signer, keep ``inv`` secret.

    :ivar blinded_msg: ``modulus_len`` bytes.
    :ivar inv: the inverse of the blind, needed by :func:`finalize`; it never leaves the client.
    """

    blinded_msg: bytes
    inv: int = field(repr=False)


# -- keys ------------------------------------------------------------------------------------------


def _check_public(public_key: object) -> rsa.RSAPublicKey:
    if not isinstance(public_key, rsa.RSAPublicKey):
        raise InvalidInputError("a blind RSA public key is an RSA public key")
    numbers = public_key.public_numbers()
    if public_key.key_size not in ALLOWED_MODULUS_BITS or numbers.e != PUBLIC_EXPONENT:
        raise UnsupportedAlgorithmError(
            f"blind RSA keys have a modulus of {sorted(ALLOWED_MODULUS_BITS)} bits and e = {PUBLIC_EXPONENT}"
        )
    return public_key


def _check_private(private_key: object) -> rsa.RSAPrivateKey:
    if not isinstance(private_key, rsa.RSAPrivateKey):
        raise InvalidInputError("a blind RSA private key is an RSA private key")
    _check_public(private_key.public_key())
    return private_key


def generate_key(key_size: int = 2048) -> rsa.RSAPrivateKey:
    """A fresh signing key (``cryptography``, e = 65537). RFC 9474 §6.2: use it for one variant only.

    :raises UnsupportedAlgorithmError: for a size outside :data:`ALLOWED_MODULUS_BITS`.
    """
    if key_size not in ALLOWED_MODULUS_BITS:
        raise UnsupportedAlgorithmError(f"blind RSA keys have a modulus of {sorted(ALLOWED_MODULUS_BITS)} bits")
    return rsa.generate_private_key(public_exponent=PUBLIC_EXPONENT, key_size=key_size)


def public_key_to_der(public_key: rsa.RSAPublicKey) -> bytes:
    """The SubjectPublicKeyInfo (DER, ``rsaEncryption``), the form WebCrypto's ``spki`` export uses."""
    return _check_public(public_key).public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def key_id(public_key: rsa.RSAPublicKey) -> bytes:
    """``SHA-256(SubjectPublicKeyInfo DER)``: 32 bytes naming the key (what is committed on chain)."""
    return hashlib.sha256(public_key_to_der(public_key)).digest()


def load_public_key(data: bytes) -> rsa.RSAPublicKey:
    """Read a SubjectPublicKeyInfo (DER or PEM) and check it against the allow-list.

    :raises InvalidInputError: if ``data`` is not an RSA SubjectPublicKeyInfo.
    :raises UnsupportedAlgorithmError: for a size or exponent outside the allow-list.
    """
    if not isinstance(data, bytes) or not 0 < len(data) <= 4096:
        raise InvalidInputError("a blind RSA public key is a DER or PEM SubjectPublicKeyInfo of at most 4096 bytes")
    try:
        key = (
            serialization.load_pem_public_key(data)
            if data.lstrip().startswith(b"-----")
            else serialization.load_der_public_key(data)
        )
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise InvalidInputError("the blind RSA public key is not a readable SubjectPublicKeyInfo") from None
    return _check_public(key)


def load_private_key(pem: bytes, *, password: bytes | None = None) -> rsa.RSAPrivateKey:
    """Read a PKCS #8 PEM private key (encrypted when ``password`` is given).

    :raises InvalidInputError: if it cannot be read (wrong password, not RSA, damaged).
    :raises UnsupportedAlgorithmError: for a size or exponent outside the allow-list.
    """
    try:
        key = serialization.load_pem_private_key(pem, password=password)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise InvalidInputError("the blind RSA private key cannot be read; check the file and its password") from None
    return _check_private(key)


def private_key_to_pem(private_key: rsa.RSAPrivateKey, *, password: bytes | None) -> bytes:
    """PKCS #8 PEM, encrypted with the best available scheme when ``password`` is given."""
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
    )
    return _check_private(private_key).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )


# -- RFC 8017 building blocks ----------------------------------------------------------------------


def _modulus_len(n: int) -> int:
    return (n.bit_length() + 7) // 8


def _mgf1_sha384(seed: bytes, length: int) -> bytes:
    # RFC 8017 B.2.1
    out = bytearray()
    counter = 0
    while len(out) < length:
        out += hashlib.sha384(seed + counter.to_bytes(4, "big")).digest()
        counter += 1
    return bytes(out[:length])


def _emsa_pss_encode(msg: bytes, em_bits: int, salt: bytes) -> bytes:
    # RFC 8017 §9.1.1, Hash = SHA-384, MGF = MGF1-SHA-384.
    em_len = (em_bits + 7) // 8
    m_hash = hashlib.sha384(msg).digest()
    if em_len < _HASH_LEN + len(salt) + 2:
        raise InvalidInputError("encoding error: the key is too small for this salt length")
    h = hashlib.sha384(b"\x00" * 8 + m_hash + salt).digest()
    db = b"\x00" * (em_len - len(salt) - _HASH_LEN - 2) + b"\x01" + salt
    masked = bytearray(a ^ b for a, b in zip(db, _mgf1_sha384(h, em_len - _HASH_LEN - 1), strict=True))
    masked[0] &= 0xFF >> (8 * em_len - em_bits)
    return bytes(masked) + h + b"\xbc"


def _message(msg: object, what: str) -> bytes:
    if not isinstance(msg, bytes):
        raise InvalidInputError(f"{what} must be bytes")
    if len(msg) > MAX_MESSAGE_BYTES:
        raise InvalidInputError(f"message too long: {what} is limited to {MAX_MESSAGE_BYTES} bytes")
    return msg


def _uniform_unit(n: int, randomness: Randomness) -> tuple[int, int]:
    """``r`` uniform in ``[1, n)`` by rejection sampling, with its inverse mod ``n``."""
    k_len = _modulus_len(n)
    top = n.bit_length() % 8
    for _ in range(_BLINDING_ATTEMPTS * 16):
        raw = bytearray(randomness.token_bytes(k_len))
        if len(raw) != k_len:
            raise InvalidInputError("the randomness source returned the wrong number of bytes")
        if top:
            raw[0] &= (1 << top) - 1
        r = int.from_bytes(raw, "big")
        if not 0 < r < n:
            continue
        try:
            return r, int(gmpy2.invert(r, n))
        except ZeroDivisionError:
            continue  # "blinding error": r shares a factor with n; RFC 9474 §4.2 says retry
    raise SigningFailedError("blinding error: no invertible blind was found; try again", code="blinding_error")


# -- the protocol -----------------------------------------------------------------------------------


def prepare(msg: bytes, *, variant: BlindRsaVariant, randomness: Randomness = _SYSTEM) -> bytes:
    """RFC 9474 §4.1 Prepare: ``input_msg`` (``msg`` with 32 random bytes before it when randomized).

    :raises InvalidInputError: if ``msg`` is not bytes or too long.
    :return: ``input_msg``; sign, finalize and verify this value.
    """
    msg = _message(msg, "the message")
    if not variant.randomized:
        return msg
    prefix = randomness.token_bytes(PREFIX_BYTES)
    if len(prefix) != PREFIX_BYTES:
        raise InvalidInputError("the randomness source returned the wrong number of bytes")
    return prefix + msg


def blind(
    public_key: rsa.RSAPublicKey, msg: bytes, *, variant: BlindRsaVariant, randomness: Randomness = _SYSTEM
) -> Blinded:
    """RFC 9474 §4.2 Blind (client side): encode ``msg`` with EMSA-PSS and blind it.

    :param public_key: the signer's key; check it against what was committed before calling this.
    :param msg: ``input_msg`` from :func:`prepare`.
    :raises InvalidInputError: for a message that is too long or a public key whose encoded
        message is not co-prime with ``n`` ("invalid input": the key is not a valid RSA key).
    :raises UnsupportedAlgorithmError: for a key outside the allow-list.
    :return: the blinded message to send and the inverse to keep.
    """
    public_key = _check_public(public_key)
    msg = _message(msg, "the message")
    numbers = public_key.public_numbers()
    n, e = numbers.n, numbers.e
    salt = randomness.token_bytes(variant.salt_length) if variant.salt_length else b""
    if len(salt) != variant.salt_length:
        raise InvalidInputError("the randomness source returned the wrong number of bytes")
    # RFC 8017 §8.1.1 encodes to modBits - 1 bits; RFC 9474 §4.2 writes bit_len(n), but its
    # vectors and the RSASSA-PSS-VERIFY that Finalize runs need modBits - 1.
    m = int.from_bytes(_emsa_pss_encode(msg, n.bit_length() - 1, salt), "big")
    if gmpy2.gcd(m, n) != 1:
        raise InvalidInputError("invalid input: the encoded message is not co-prime with the key's modulus")
    r, inv = _uniform_unit(n, randomness)
    z = (m * int(gmpy2.powmod(r, e, n))) % n
    return Blinded(z.to_bytes(_modulus_len(n), "big"), inv)


def blind_sign(private_key: rsa.RSAPrivateKey, blinded_msg: bytes) -> bytes:
    """RFC 9474 §4.3 BlindSign (server side): the RSA private-key operation on ``blinded_msg``.

    The exponentiation runs with ``gmpy2.powmod_sec`` (constant time) on a base blinded afresh on
    every call (Kocher's RSA blinding, RFC 9474 §7.1), and the result is checked with the public
    key before it is returned (``s^e mod n == m``, the RFC's fault-attack safeguard).

    :raises InvalidInputError: if ``blinded_msg`` is not ``modulus_len`` bytes or not below ``n``
        ("message representative out of range").
    :raises SigningFailedError: (``signing_failure``) if the check fails; nothing is returned then.
    :return: ``blind_sig``, ``modulus_len`` bytes.
    """
    private_key = _check_private(private_key)
    numbers = private_key.private_numbers()
    public = numbers.public_numbers
    n, e = gmpy2.mpz(public.n), gmpy2.mpz(public.e)
    k_len = _modulus_len(public.n)
    if not isinstance(blinded_msg, bytes) or len(blinded_msg) != k_len:
        raise InvalidInputError(f"unexpected input size: a blinded message is {k_len} bytes")
    m = gmpy2.mpz(int.from_bytes(blinded_msg, "big"))
    if m >= n:
        raise InvalidInputError("message representative out of range: the blinded message is not below n")
    p, q = gmpy2.mpz(numbers.p), gmpy2.mpz(numbers.q)
    # A fresh base blinding: sign c = m * b^e, then multiply by b^-1 (b never repeats or leaves here).
    b, b_inv = _uniform_unit(int(n), _SYSTEM)
    c = (m * gmpy2.powmod(b, e, n)) % n
    s_p = gmpy2.powmod_sec(c % p, gmpy2.mpz(numbers.dmp1), p)
    s_q = gmpy2.powmod_sec(c % q, gmpy2.mpz(numbers.dmq1), q)
    h = (gmpy2.mpz(numbers.iqmp) * (s_p - s_q)) % p
    s = ((s_q + h * q) * b_inv) % n
    # RFC 9474 §4.3 steps 3-4: m' = RSAVP1(pk, s); refuse to answer if m' != m.
    if gmpy2.powmod(s, e, n) != m:
        raise SigningFailedError("signing failure: the signature did not check; try again", code="signing_failure")
    return int(s).to_bytes(k_len, "big")


def finalize(
    public_key: rsa.RSAPublicKey, msg: bytes, blind_sig: bytes, inv: int, *, variant: BlindRsaVariant
) -> bytes:
    """RFC 9474 §4.4 Finalize (client side): unblind ``blind_sig`` and verify the signature.

    :param msg: the same ``input_msg`` that was blinded.
    :param inv: :attr:`Blinded.inv`.
    :raises InvalidInputError: (``unexpected input size``) if ``blind_sig`` is not ``modulus_len`` bytes.
    :raises SignatureInvalidError: if the unblinded signature does not verify ("invalid signature").
    :return: ``sig``, a standard RSASSA-PSS signature over ``msg``.
    """
    public_key = _check_public(public_key)
    n = public_key.public_numbers().n
    k_len = _modulus_len(n)
    if not isinstance(blind_sig, bytes) or len(blind_sig) != k_len:
        raise InvalidInputError(f"unexpected input size: a blind signature is {k_len} bytes")
    if not isinstance(inv, int) or not 0 < inv < n:
        raise InvalidInputError("the blinding inverse is not in range")
    z = int.from_bytes(blind_sig, "big")
    sig = ((z * inv) % n).to_bytes(k_len, "big")
    verify(public_key, msg, sig, variant=variant)
    return sig


def verify(public_key: rsa.RSAPublicKey, msg: bytes, sig: bytes, *, variant: BlindRsaVariant) -> None:
    """RFC 9474 §4.5: RSASSA-PSS-VERIFY of ``sig`` over ``input_msg`` (``cryptography``).

    For a randomized variant the application message is ``msg[32:]``; check its structure too.

    :raises SignatureInvalidError: if the signature does not verify with ``public_key``.
    :raises InvalidInputError: if ``msg`` or ``sig`` is not bytes.
    :raises UnsupportedAlgorithmError: for a key outside the allow-list.
    """
    public_key = _check_public(public_key)
    msg = _message(msg, "the message")
    if not isinstance(sig, bytes):
        raise InvalidInputError("a signature must be bytes")
    if len(sig) != _modulus_len(public_key.public_numbers().n):
        raise SignatureInvalidError("the blind RSA signature has the wrong length for this key")
    if variant.randomized and len(msg) < PREFIX_BYTES:
        raise SignatureInvalidError("a randomized blind RSA message starts with a 32-byte prefix")
    try:
        public_key.verify(sig, msg, variant._pss(), hashes.SHA384())
    except InvalidSignature:
        raise SignatureInvalidError("the blind RSA signature does not verify with this key") from None

