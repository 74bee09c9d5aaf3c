"""Ballot tokens: RFC 9474 blind signatures over a serial the voter's device picks.

Pure: no I/O, no clock. The device, the city's token issuer, the voting service and auditors share
these functions.

* **Token message**: ``"vcsdk/voting/ballot-token/v1" || election_id || district || serial`` (texts
  length-prefixed; district empty when the election has one key), signed with
  ``RSABSSA-SHA384-PSS-Randomized``: the signed ``input_msg`` is a 32-byte random ``prefix`` and that
  message. The serial (32 random bytes) is the ballot box's double-vote key.
* **Token key**: one RSA key per election, or per election and district; it carries its election and
  district. Its **slot** (where the commitment lives) is ``SHA-256("…/token-key-slot/v1" || election
  || district)`` and its **digest** (what is committed) ``SHA-256("…/token-key/v1" || election ||
  district || SubjectPublicKeyInfo)``. The slot is written once, in the election's anchor contract,
  before voting opens; the device checks the key against it before blinding (no tagging).
* The device: :func:`begin_token` (checks the key, picks the serial, blinds) then
  :func:`finish_token` (unblinds, verifies); the city never sees the serial, the prefix or the
  signature. The voting service and auditors: :func:`verify_ballot_token`.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, TypedDict

from cryptography.hazmat.primitives.asymmetric import rsa

from vcsdk import blindrsa
from vcsdk._b64 import b64url_decode, b64url_encode
from vcsdk.errors import BallotTokenError, InvalidInputError, SignatureInvalidError, TokenKeyError
from vcsdk.voting._election import Election

__all__ = [
    "SERIAL_BYTES",
    "TOKEN_VARIANT",
    "BallotToken",
    "BallotTokenJson",
    "CommittedTokenKey",
    "PendingToken",
    "TokenKey",
    "TokenKeyJson",
    "begin_token",
    "check_token_key",
    "finish_token",
    "token_message",
    "verify_ballot_token",
]

#: RFC 9474's recommended variant; one token key serves only this variant (RFC 9474 §6.2).
TOKEN_VARIANT: Final = blindrsa.RSABSSA_SHA384_PSS_RANDOMIZED
TOKEN_MESSAGE_DOMAIN: Final = b"vcsdk/voting/ballot-token/v1"
KEY_SLOT_DOMAIN: Final = b"vcsdk/voting/token-key-slot/v1"
KEY_DIGEST_DOMAIN: Final = b"vcsdk/voting/token-key/v1"
SERIAL_BYTES: Final = 32
#: RFC 9474 §4.1 PrepareRandomize: the random prefix of the signed message.
PREFIX_BYTES: Final = 32
_MAX_TEXT: Final = 128


def _field(value: str) -> bytes:
    data = value.encode("utf-8")
    return len(data).to_bytes(4, "big") + data


def _scope(election_id: str, district: str | None) -> bytes:
    if not isinstance(election_id, str) or not election_id or len(election_id) > _MAX_TEXT:
        raise InvalidInputError("a token key names its election")
    if district is not None and (not isinstance(district, str) or not district or len(district) > _MAX_TEXT):
        raise InvalidInputError("a token key's district is a non-empty text or None")
    return _field(election_id) + _field(district or "")


def token_message(election_id: str, district: str | None, serial: bytes) -> bytes:
    """The application message a ballot token signs (before RFC 9474's random prefix).

    :raises InvalidInputError: if ``serial`` is not 32 bytes.
    """
    if not isinstance(serial, bytes) or len(serial) != SERIAL_BYTES:
        raise InvalidInputError(f"a ballot token serial is {SERIAL_BYTES} bytes")
    return TOKEN_MESSAGE_DOMAIN + _scope(election_id, district) + serial


class TokenKeyJson(TypedDict):
    election_id: str
    district: str | None
    spki: str


@dataclass(frozen=True, slots=True)
class TokenKey:
    """A token issuer's public key for one election (and district).

    :ivar district: the district whose voters it signs for, or ``None`` for the whole election.
    """

    election_id: str
    district: str | None
    public_key: rsa.RSAPublicKey = field(repr=False)

    def __post_init__(self) -> None:
        _scope(self.election_id, self.district)
        blindrsa.public_key_to_der(self.public_key)  # the allow-list: size and exponent

    @property
    def spki(self) -> bytes:
        """The SubjectPublicKeyInfo (DER)."""
        return blindrsa.public_key_to_der(self.public_key)

    @property
    def slot(self) -> bytes:
        """Where the commitment lives in the election's anchor contract (a batch id there)."""
        return hashlib.sha256(KEY_SLOT_DOMAIN + _scope(self.election_id, self.district)).digest()

    @property
    def digest(self) -> bytes:
        """What is committed: the key together with its election and district."""
        return hashlib.sha256(KEY_DIGEST_DOMAIN + _scope(self.election_id, self.district) + self.spki).digest()

    def to_json(self) -> TokenKeyJson:
        return {"election_id": self.election_id, "district": self.district, "spki": b64url_encode(self.spki)}

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> TokenKey:
        """Read a published token key.

        :raises InvalidInputError: if a member is missing or malformed.
        :raises UnsupportedAlgorithmError: for a key outside the blind RSA allow-list.
        """
        if not isinstance(value, Mapping) or set(value) != set(TokenKeyJson.__annotations__):
            raise InvalidInputError(f"a token key has exactly {sorted(TokenKeyJson.__annotations__)}")
        spki = value["spki"]
        if not isinstance(spki, str) or len(spki) > 2048:
            raise InvalidInputError("a token key's spki is base64url text")
        return cls(value["election_id"], value["district"], blindrsa.load_public_key(b64url_decode(spki, what="spki")))

    def __repr__(self) -> str:
        return f"TokenKey(election_id={self.election_id!r}, district={self.district!r}, id={self.digest.hex()[:16]})"


@dataclass(frozen=True, slots=True)
class CommittedTokenKey:
    """What the chain holds for one token key slot (read it with ``BallotAnchor.committed_token_key``).

    :ivar committed_at: the time of the block that wrote it.
    """

    slot: bytes
    digest: bytes
    block_number: int
    committed_at: datetime


def check_token_key(
    key: TokenKey, *, election: Election, district: str | None, committed: CommittedTokenKey | None
) -> None:
    """Check a token key against its on-chain commitment (the device does this before blinding).

    :param district: the district the key must be for (``None`` for one key per election).
    :param committed: what the election's anchor contract holds at ``key.slot``, or ``None``.
    :raises TokenKeyError: if the key is for another election or district, nothing is committed,
        the committed digest differs (a key made for some voters only could tag their ballots), or
        it was committed only after voting opened.
    """
    if key.election_id != election.election_id or key.district != district:
        raise TokenKeyError("the token key is for another election or district; do not use it")
    if committed is None or committed.slot != key.slot:
        raise TokenKeyError("no token key is committed on chain for this election; do not vote with this key")
    if committed.digest != key.digest:
        raise TokenKeyError(
            "the token key differs from the one committed on chain: it could mark your ballot; do not use it"
        )
    if committed.committed_at > election.opens_at:
        raise TokenKeyError("the token key was committed on chain only after voting opened; do not use it")


@dataclass(frozen=True, slots=True)
class PendingToken:
    """The device's state between asking for a blind signature and receiving it; keep it on the device.

    :ivar blinded_msg: what is sent to the token issuer (nothing else leaves the device).
    """

    key: TokenKey
    serial: bytes = field(repr=False)
    input_msg: bytes = field(repr=False)
    blinded_msg: bytes = field(repr=False)
    inv: int = field(repr=False)


def begin_token(
    key: TokenKey,
    *,
    election: Election,
    district: str | None,
    committed: CommittedTokenKey | None,
    randomness: blindrsa.Randomness | None = None,
) -> PendingToken:
    """Check the key against the chain, pick a random serial and blind it (voter's device).

    :param district: the voter's district when the election has a key per district, else ``None``.
    :param committed: the commitment read from the election's anchor contract (read it yourself).
    :raises TokenKeyError: from :func:`check_token_key`; nothing is blinded then.
    :return: the pending token; send ``blinded_msg`` to the token issuer.
    """
    check_token_key(key, election=election, district=district, committed=committed)
    kw: dict[str, Any] = {"randomness": randomness} if randomness is not None else {}
    serial = randomness.token_bytes(SERIAL_BYTES) if randomness is not None else secrets.token_bytes(SERIAL_BYTES)
    input_msg = blindrsa.prepare(token_message(key.election_id, key.district, serial), variant=TOKEN_VARIANT, **kw)
    blinded = blindrsa.blind(key.public_key, input_msg, variant=TOKEN_VARIANT, **kw)
    return PendingToken(key, serial, input_msg, blinded.blinded_msg, blinded.inv)


class BallotTokenJson(TypedDict):
    election_id: str
    district: str | None
    serial: str
    prefix: str
    signature: str


@dataclass(frozen=True, slots=True)
class BallotToken:
    """A finished ballot token: the serial, RFC 9474's message prefix and the unblinded signature."""

    election_id: str
    district: str | None
    serial: bytes
    prefix: bytes = field(repr=False)
    signature: bytes = field(repr=False)

    @property
    def input_msg(self) -> bytes:
        """What the signature covers: ``prefix || token_message(election_id, district, serial)``."""
        return self.prefix + token_message(self.election_id, self.district, self.serial)

    def to_json(self) -> BallotTokenJson:
        return {
            "election_id": self.election_id,
            "district": self.district,
            "serial": b64url_encode(self.serial),
            "prefix": b64url_encode(self.prefix),
            "signature": b64url_encode(self.signature),
        }

    @classmethod
    def from_json(cls, value: Any) -> BallotToken:
        """Read a ballot token.

        :raises BallotTokenError: if a member is missing or malformed.
        """
        if not isinstance(value, Mapping) or set(value) != set(BallotTokenJson.__annotations__):
            raise BallotTokenError(f"a ballot token has exactly {sorted(BallotTokenJson.__annotations__)}")
        election_id, district = value["election_id"], value["district"]
        if not isinstance(election_id, str) or (district is not None and not isinstance(district, str)):
            raise BallotTokenError("a ballot token's election_id and district are texts")
        try:
            serial = b64url_decode(value["serial"], what="serial")
            prefix = b64url_decode(value["prefix"], what="prefix")
            signature = b64url_decode(value["signature"], what="signature")
        except InvalidInputError as exc:
            raise BallotTokenError(f"a ballot token is malformed: {exc.message}") from None
        if len(serial) != SERIAL_BYTES or len(prefix) != PREFIX_BYTES or not 0 < len(signature) <= 1024:
            raise BallotTokenError("a ballot token has a 32-byte serial, a 32-byte prefix and one signature")
        return cls(election_id, district, serial, prefix, signature)


def finish_token(pending: PendingToken, blind_sig: bytes) -> BallotToken:
    """Unblind the token issuer's answer and check it under the committed key (voter's device).

    :raises BallotTokenError: if the answer does not unblind to a valid signature under the key the
        device checked (a token issuer signing with another key is caught here).
    """
    try:
        signature = blindrsa.finalize(pending.key.public_key, pending.input_msg, blind_sig, pending.inv,
                                      variant=TOKEN_VARIANT)
    except (SignatureInvalidError, InvalidInputError):
        raise BallotTokenError(
            "the token issuer's signature does not verify with the committed key; do not vote with it"
        ) from None
    return BallotToken(pending.key.election_id, pending.key.district, pending.serial,
                       pending.input_msg[:PREFIX_BYTES], signature)


def verify_ballot_token(token: BallotToken, *, election_id: str, keys: Mapping[str | None, TokenKey]) -> bytes:
    """Check a ballot token (voting service, auditors).

    :param keys: the election's committed token keys by district (``None`` for one key).
    :raises BallotTokenError: for another election, a district without a key, or a signature that
        does not verify (a forged token).
    :return: the serial (the double-vote key).
    """
    if token.election_id != election_id:
        raise BallotTokenError("the ballot token is for another election")
    key = keys.get(token.district)
    if key is None or key.election_id != election_id:
        raise BallotTokenError("the ballot token names a district this election has no token key for")
    try:
        blindrsa.verify(key.public_key, token.input_msg, token.signature, variant=TOKEN_VARIANT)
    except (SignatureInvalidError, InvalidInputError):
        raise BallotTokenError("the ballot token's signature does not verify with the election's token key") from None
    return token.serial
