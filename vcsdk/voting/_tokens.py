"""The city's ballot-token issuer: after checking eligibility, one blind signature per resident per election.

The voter's device asks for a nonce, presents its ``VotingEligibilityCredential`` (the four
eligibility claims, key-bound to the nonce and to this issuer) together with a blinded message, and
gets the blind signature back. The issuer verifies the presentation (signature, key binding,
expiry, status list, accreditation), applies the election's rules to the disclosed claims, finds the
resident the credential was issued to in the durable :class:`IssuanceLedger`, optionally checks the
resident registry once more, claims the resident's one token in the ledger and only then signs.

The issuer never sees the serial, the message prefix or the unblinded signature: what reaches it is
a blinded message, a uniformly random number modulo ``n`` that says nothing about the token.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Final

from cryptography.hazmat.primitives.asymmetric import rsa

from vcsdk import blindrsa
from vcsdk._b64 import b64url_encode
from vcsdk.credentials import (
    DEFAULT_VERIFICATION_POLICY,
    IssuerAccreditationChecker,
    IssuerKeyResolver,
    StatusChecker,
    VerificationPolicy,
    verify_presentation,
)
from vcsdk.errors import (
    ClaimsError,
    ConflictError,
    InvalidInputError,
    IssuerNotAccreditedError,
    NotEligibleError,
    ProtocolError,
)
from vcsdk.oid4vc import InMemoryStateStore, Randomness, StateStore, SystemRandomness
from vcsdk.voting._election import Election, check_eligibility_claims
from vcsdk.voting._issuer import credential_digest
from vcsdk.voting._token import TokenKey

if TYPE_CHECKING:
    from vcsdk.kyc import ResidentRegistry
    from vcsdk.voting._ports import IssuanceLedger

__all__ = ["ELIGIBILITY_CLAIMS", "BallotTokenIssuer", "generate_token_keys"]

#: The claims a token request discloses; nothing else about the voter reaches the issuer.
ELIGIBILITY_CLAIMS: Final = (("election_id",), ("eligible",), ("district",), ("age_over_18",))
_NONCES: Final = "voting_token_nonce"
_SYSTEM_RANDOMNESS: Final = SystemRandomness()
MAX_PRESENTATION_CHARS: Final = 64 * 1024


def generate_token_keys(
    election: Election, *, per_district: bool = False, key_size: int = 2048
) -> dict[str | None, rsa.RSAPrivateKey]:
    """Fresh token keys for one election: one key, or one per district.

    Keep them like any signing key (``vcsdk.blindrsa.private_key_to_pem`` with a password); publish
    and commit the public halves before voting opens.
    """
    scopes: list[str | None] = list(election.district_names) if per_district else [None]
    return {scope: blindrsa.generate_key(key_size) for scope in scopes}


class BallotTokenIssuer:
    """Issues one election's ballot tokens (blind signatures) to eligible residents.

    Mount with :func:`vcsdk.voting.token_issuer_routes`.

    :param election: the election.
    :param keys: the private token keys: ``{None: key}`` for one key per election, or one per
        district of the election (``{district: key}``).
    :param ledger: the durable issuance ledger, shared with the :class:`EligibilityIssuer`.
    :param audience: this issuer's identifier (an https URL): the presentation's key binding must
        name it as ``aud``.
    :param resolver: resolves the eligibility issuer's DID (``vcsdk.did.Resolver``).
    :param issuers: DIDs trusted to issue eligibility for this election (the city's).
    :param vct: the eligibility credential type.
    :param status: checks the credential's status-list entry (revocation).
    :param clock: the current time, for presentation verification.
    :param accreditation: also require the issuer to be accredited on chain for ``vct``.
    :param registry: if given, the resident registry is asked once more before signing: a resident
        no longer ``active`` gets :class:`NotEligibleError`.
    :param state: short-lived nonces (in memory by default; share it between processes).
    :param nonce_ttl: how long a nonce may be used.
    """

    def __init__(
        self,
        *,
        election: Election,
        keys: Mapping[str | None, rsa.RSAPrivateKey],
        ledger: IssuanceLedger,
        audience: str,
        resolver: IssuerKeyResolver,
        issuers: Collection[str],
        vct: str,
        status: StatusChecker | None,
        clock: Callable[[], datetime],
        accreditation: IssuerAccreditationChecker | None = None,
        registry: ResidentRegistry | None = None,
        policy: VerificationPolicy = DEFAULT_VERIFICATION_POLICY,
        state: StateStore | None = None,
        randomness: Randomness = _SYSTEM_RANDOMNESS,
        nonce_ttl: timedelta = timedelta(minutes=5),
    ) -> None:
        scopes = set(keys)
        if scopes != {None} and scopes != set(election.district_names):
            raise InvalidInputError("token keys are {None: key} or one key per district of the election")
        if not issuers:
            raise InvalidInputError("name at least one trusted eligibility issuer DID")
        self.election = election
        self._keys = dict(keys)
        self.token_keys: dict[str | None, TokenKey] = {
            scope: TokenKey(election.election_id, scope, key.public_key()) for scope, key in self._keys.items()
        }
        self.ledger = ledger
        self.audience = audience
        self._resolver = resolver
        self.issuers = frozenset(issuers)
        self.vct = vct
        self._status = status
        self._clock = clock
        self._accreditation = accreditation
        self._registry = registry
        self._policy = policy
        self._state = state if state is not None else InMemoryStateStore()
        self._randomness = randomness
        self.nonce_ttl = nonce_ttl

    def __repr__(self) -> str:
        return f"BallotTokenIssuer(election={self.election.election_id!r}, keys={len(self._keys)})"

    @property
    def per_district(self) -> bool:
        return None not in self._keys

    async def nonce(self, *, now: datetime) -> tuple[str, datetime]:
        """A single-use nonce for one token request's key binding.

        :raises ConflictError: (``voting_closed``) once voting has closed.
        :return: the nonce and when it expires.
        """
        self._require_issuing(now)
        nonce = b64url_encode(self._randomness.token_bytes(32))
        expires = min(now + self.nonce_ttl, self.election.closes_at)
        await self._state.put(_NONCES, nonce, {}, expires_at=expires)
        return nonce, expires

    def _require_issuing(self, now: datetime) -> None:
        if now >= self.election.closes_at:
            raise ConflictError("voting has closed; no more ballot tokens are issued", code="voting_closed")

    async def issue(self, presentation: str, *, nonce: str, blinded_msg: bytes, now: datetime) -> bytes:
        """Check eligibility and blind-sign ``blinded_msg`` for the resident behind ``presentation``.

        :param presentation: an SD-JWT VC presentation of the eligibility credential disclosing
            :data:`ELIGIBILITY_CLAIMS`, key-bound with ``aud`` = :attr:`audience` and ``nonce``.
        :param nonce: a nonce from :meth:`nonce` (single use).
        :param blinded_msg: the device's blinded message (RFC 9474 ``blinded_msg``).
        :raises ConflictError: (``voting_closed``) after the period.
        :raises ProtocolError: (``invalid_nonce``) for an unknown, used or expired nonce.
        :raises VerificationError: the subclass of the failed check: ``CredentialRevokedError`` for a
            revoked eligibility, ``ClaimsError`` (``wrong_election``, ``not_eligible``,
            ``wrong_district``, ``under_age``), ``IssuerNotAccreditedError``, signature, key binding…
        :raises NotEligibleError: for a credential this city's ledger does not know, or a resident
            the registry no longer lists as active.
        :raises TokenAlreadyIssuedError: if the resident already received this election's token.
        :raises InvalidInputError: for a blinded message of the wrong size.
        :return: the blind signature (RFC 9474 ``blind_sig``).
        """
        self._require_issuing(now)
        if not isinstance(presentation, str) or len(presentation) > MAX_PRESENTATION_CHARS:
            raise InvalidInputError("the presentation must be a string within the size limit")
        if not isinstance(nonce, str) or await self._state.take(_NONCES, nonce, now=now) is None:
            raise ProtocolError("unknown, used or expired nonce; ask for a new one", code="invalid_nonce")
        verified = await verify_presentation(
            presentation,
            audience=self.audience,
            nonce=nonce,
            policy=self._policy,
            resolver=self._resolver,
            status=self._status,
            accreditation=self._accreditation,
            now=self._clock(),
        )
        if verified.issuer not in self.issuers:
            raise IssuerNotAccreditedError("the eligibility credential is not from a trusted issuer for this election")
        if verified.vct != self.vct:
            raise ClaimsError("the presented credential is not a voting eligibility credential")
        district = check_eligibility_claims(self.election, verified.claims)
        election_id = self.election.election_id
        resident_id = await self.ledger.resident_of(election_id, credential_digest(presentation, election_id))
        if resident_id is None:
            raise NotEligibleError("this eligibility credential is not in the city's issuance ledger")
        if self._registry is not None:
            status = await self._registry.get_resident_status(resident_id)
            if status.status != "active":
                raise NotEligibleError("the resident registry no longer lists this resident as eligible")
        scope = district if self.per_district else None
        key = self._keys[scope]
        if not isinstance(blinded_msg, bytes) or len(blinded_msg) != (key.key_size + 7) // 8:
            raise InvalidInputError("the blinded message has the wrong size for this election's token key")
        # The resident's one signature is claimed (durably, atomically) before anything is signed;
        # a retry with the same blinded message is answered again with the same signature.
        await self.ledger.claim_token(election_id, resident_id, scope=scope or "", blinded_msg=blinded_msg)
        return blindrsa.blind_sign(key, blinded_msg)
