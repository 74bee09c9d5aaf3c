"""Ballot tokens for tests, made the way the device and the city make them (blind, sign, unblind)."""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric import rsa

from vcsdk.blindrsa import blind_sign, generate_key
from vcsdk.voting import BallotToken, CommittedTokenKey, Election, TokenKey, begin_token, finish_token

#: One token key for the whole test process (RSA key generation is the slow part).
PRIVATE = generate_key(2048)


def token_key(election: Election, *, district: str | None = None, private: rsa.RSAPrivateKey = PRIVATE) -> TokenKey:
    return TokenKey(election.election_id, district, private.public_key())


def mint(key: TokenKey, election: Election, *, private: rsa.RSAPrivateKey = PRIVATE) -> BallotToken:
    """A valid token under ``key`` (the chain check is given the key's own commitment)."""
    committed = CommittedTokenKey(key.slot, key.digest, 1, election.opens_at)
    pending = begin_token(key, election=election, district=key.district, committed=committed)
    return finish_token(pending, blind_sign(private, pending.blinded_msg))
