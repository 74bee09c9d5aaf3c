"""The city's side: check the resident registry, then issue a ``VotingEligibilityCredential``
through OpenID4VCI (pre-authorized code with a transaction code).

One credential per resident per election: the OpenID4VCI issuer runs with ``batch_size=1``, each
offer carries a single-use ticket (a second Credential Request with the same access token gets
nothing), and the durable issuance ledger (:class:`IssuanceLedger`, SQLite or PostgreSQL) refuses a
second credential for the same resident, also after a restart. The ledger also remembers which
resident holds which credential (a digest of its issuer-signed part) and its status index.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, ClassVar, Final, Literal

from vcsdk._b64 import b64url_encode
from vcsdk.credentials import (
    VOTING_ELIGIBILITY_CREDENTIAL,
    StatusListIssuer,
    VctRegistry,
    disclosable_paths,
    issue_sd_jwt_vc,
    voting_eligibility_claims,
)
from vcsdk.errors import ConflictError, InvalidInputError, NotFoundError, ProtocolError
from vcsdk.keys import Key, Signer
from vcsdk.oid4vc import (
    CredentialConfiguration,
    CredentialIssuer,
    CredentialOffer,
    Randomness,
    StateStore,
    SystemRandomness,
)
from vcsdk.voting._election import Election, IneligibilityReason, assess_eligibility

if TYPE_CHECKING:
    from vcsdk.kyc import ResidentRegistry
    from vcsdk.voting._ports import IssuanceLedger

__all__ = ["CREDENTIAL_DIGEST_DOMAIN", "EligibilityApplication", "EligibilityIssuer", "EligibilityOffered",
           "NotEligible", "credential_digest"]

_TICKET: Final = "__vcsdk_voting_ticket"
CREDENTIAL_DIGEST_DOMAIN: Final = b"vcsdk/voting/credential/v1"
MAX_CREDENTIAL_CHARS: Final = 256 * 1024
_SYSTEM_RANDOMNESS: Final = SystemRandomness()


def credential_digest(credential: str, election_id: str) -> bytes:
    """The ledger's name for an eligibility credential: a digest of its issuer-signed part.

    ``SHA-256(domain || len || election_id || header.payload)``: every presentation of the credential
    gives the same value (disclosures and key binding are not part of it); the signature is left
    out because an ECDSA signature has a twin that verifies too.

    :param credential: the SD-JWT VC or any presentation of it (``jwt~…``).
    :raises InvalidInputError: if it does not start with a three-part JWT.
    :return: 32 bytes.
    """
    if not isinstance(credential, str) or len(credential) > MAX_CREDENTIAL_CHARS:
        raise InvalidInputError("the credential must be a string within the size limit")
    parts = credential.split("~", 1)[0].split(".")
    if len(parts) != 3 or not all(parts) or not all(p.isascii() for p in parts):
        raise InvalidInputError("the credential does not start with an issuer-signed JWT")
    election = election_id.encode("utf-8")
    signing_input = f"{parts[0]}.{parts[1]}".encode("ascii")
    return hashlib.sha256(
        CREDENTIAL_DIGEST_DOMAIN + len(election).to_bytes(4, "big") + election + signing_input
    ).digest()


@dataclass(frozen=True, slots=True)
class EligibilityApplication:
    """Who asks for a voting credential, as the resident states it (checked against the registry).

    :param address: one line, optionally starting with the postal code.
    """

    family_name: str = field(repr=False)
    given_name: str = field(repr=False)
    birthdate: date = field(repr=False)
    address: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class EligibilityOffered:
    """The resident is eligible: show ``offer_uri`` (QR code) and send ``tx_code`` out of band.

    :ivar resident_id: the registry record, to revoke the credential later (city side only).
    """

    offer: CredentialOffer
    offer_uri: str
    tx_code: str | None = field(repr=False)
    district: str
    resident_id: str = field(repr=False)
    kind: ClassVar[str] = "offered"


@dataclass(frozen=True, slots=True)
class NotEligible:
    """Nothing is offered; ``reason`` says why (tell the resident only after they authenticated)."""

    reason: IneligibilityReason | Literal["no_match", "already_issued"]
    kind: ClassVar[str] = "not_eligible"


class EligibilityIssuer:
    """Issues one election's ``VotingEligibilityCredential`` to eligible residents.

    Mount :attr:`oid4vci` with ``vcsdk.oid4vc.issuer_routes(issuer.oid4vci, clock=…)``.

    :param election: the election.
    :param registry: the resident registry (``vcsdk.kyc.ResidentRegistryClient``).
    :param issuer: the city's DID (``iss``).
    :param signer: the city's signing key; its ``kid`` is a DID URL of ``issuer``.
    :param credential_issuer: the Credential Issuer Identifier (an https URL).
    :param store: offers, tokens and tickets (short-lived; shared between processes in production).
    :param ledger: the durable issuance ledger (``SqliteIssuanceLedger`` / ``PostgresIssuanceLedger``).
    :param clock: returns the current time (the issue step of OpenID4VCI has no ``now`` of its own).
    :param vct: the credential type; the city's ``VotingEligibilityCredential`` by default.
    :param status_list: allocates a status entry per credential so it can be revoked.
    :param randomness: tickets, codes and tokens.
    :param expires_at: the credential's ``exp``; by default the end of the voting period.
    """

    def __init__(
        self,
        *,
        election: Election,
        registry: ResidentRegistry,
        issuer: str,
        signer: Signer,
        credential_issuer: str,
        store: StateStore,
        ledger: IssuanceLedger,
        clock: Callable[[], datetime],
        vct: str | None = None,
        status_list: StatusListIssuer | None = None,
        randomness: Randomness = _SYSTEM_RANDOMNESS,
        expires_at: datetime | None = None,
    ) -> None:
        self.election = election
        self._registry = registry
        self.issuer = issuer
        self._signer = signer
        self._store = store
        self.ledger = ledger
        self._clock = clock
        self.vct = vct or VctRegistry().voting_eligibility
        self.status_list = status_list
        self._randomness = randomness
        self.expires_at = expires_at or election.closes_at
        self.oid4vci = CredentialIssuer(
            credential_issuer=credential_issuer,
            configurations=[CredentialConfiguration(id=VOTING_ELIGIBILITY_CREDENTIAL, vct=self.vct)],
            issue=self._issue,
            store=store,
            randomness=randomness,
            batch_size=1,
        )

    def __repr__(self) -> str:
        return f"EligibilityIssuer(election={self.election.election_id!r}, issuer={self.issuer!r})"

    async def offer(self, application: EligibilityApplication, *, now: datetime) -> EligibilityOffered | NotEligible:
        """Check the applicant against the registry and, if eligible, prepare the credential offer.

        :raises ResidentRegistryUnavailableError: if the registry cannot be reached (nothing is guessed).
        :raises ResidentRegistryFaultError: if the registry refuses the request.
        :raises InvalidInputError: if the registered birthdate is after the election day.
        :return: the offer, or why there is none.
        """
        check = await self._registry.check_resident(
            family_name=application.family_name,
            given_name=application.given_name,
            birthdate=application.birthdate,
            address=application.address,
        )
        if check.outcome != "full" or check.record is None:
            return NotEligible("no_match")
        record = check.record
        status = await self._registry.get_resident_status(record.resident_id)
        decision = assess_eligibility(
            self.election, status=status.status, birthdate=record.birthdate, address=record.address
        )
        if not decision.eligible or decision.district is None:
            return NotEligible(decision.reason or "outside_districts")
        if await self.ledger.has_credential(self.election.election_id, record.resident_id):
            return NotEligible("already_issued")
        claims = voting_eligibility_claims(
            election_id=self.election.election_id,
            eligible=True,
            district=decision.district,
            age_over_18=decision.age_over_18,
        )
        ticket = b64url_encode(self._randomness.token_bytes(32))
        await self._store.put(
            "voting_ticket", ticket, {"resident_id": record.resident_id}, expires_at=now + self.oid4vci.offer_ttl
        )
        offer, pin = await self.oid4vci.create_offer(
            VOTING_ELIGIBILITY_CREDENTIAL, {**claims, _TICKET: ticket}, now=now
        )
        uri = await self.oid4vci.publish_offer(offer, now=now)
        return EligibilityOffered(offer, uri, pin, decision.district, record.resident_id)

    async def _issue(self, claims: Mapping[str, Any], holder_key: Key) -> str:
        now = self._clock()
        ticket = claims.get(_TICKET)
        taken = await self._store.take("voting_ticket", str(ticket), now=now) if isinstance(ticket, str) else None
        if taken is None:
            raise ProtocolError("this offer was already redeemed", code="invalid_credential_request")
        resident_id = str(taken["resident_id"])
        election_id = self.election.election_id
        if await self.ledger.has_credential(election_id, resident_id):
            raise ProtocolError(
                "a voting credential for this election was already issued to this resident",
                code="invalid_credential_request",
            )
        status = self.status_list.allocate() if self.status_list is not None else None
        credential = issue_sd_jwt_vc(
            {k: v for k, v in claims.items() if k != _TICKET},
            issuer=self.issuer,
            signer=self._signer,
            vct=self.vct,
            disclosable=disclosable_paths(VOTING_ELIGIBILITY_CREDENTIAL),
            holder_key=holder_key,
            status=status,
            now=now,
            expires_at=self.expires_at,
        )
        try:
            # Recorded before it is handed out: of two racing requests one records, the other fails.
            await self.ledger.record_credential(
                election_id, resident_id, credential_digest=credential_digest(credential, election_id),
                status_index=int(status["status_list"]["idx"]) if status is not None else None,
            )
        except ConflictError:
            raise ProtocolError(
                "a voting credential for this election was already issued to this resident",
                code="invalid_credential_request",
            ) from None
        return credential

    async def revoke(self, resident_id: str, *, now: datetime) -> int:
        """Revoke the resident's credential for this election in the status list (publish it after).

        :raises InvalidInputError: without a status list.
        :raises NotFoundError: if no credential with a status entry was issued to the resident.
        :return: the revoked status index.
        """
        if self.status_list is None:
            raise InvalidInputError("this issuer has no status list; credentials cannot be revoked")
        idx = await self.ledger.status_index(self.election.election_id, resident_id)
        if idx is None:
            raise NotFoundError("no revocable voting credential was issued to this resident")
        self.status_list.revoke(idx)
        return idx
