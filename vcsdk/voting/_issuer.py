"""The city's side: check the resident registry, then issue a ``VotingEligibilityCredential``
through OpenID4VCI (pre-authorized code with a transaction code).

One credential per resident per election: the OpenID4VCI issuer runs with ``batch_size=1``, each
offer carries a single-use ticket (a second Credential Request with the same access token gets
nothing), and a ledger refuses a second credential for the same resident. The ballot box relies on
this: its double-vote key is derived from the credential, so a second credential would be a second
vote.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
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
from vcsdk.errors import InvalidInputError, NotFoundError, ProtocolError
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

__all__ = ["EligibilityApplication", "EligibilityIssuer", "EligibilityOffered", "NotEligible"]

_TICKET: Final = "__vcsdk_voting_ticket"
#: How long after the election the issuance ledger is kept (the credential's lifetime is shorter).
LEDGER_RETENTION: Final = timedelta(days=90)
_SYSTEM_RANDOMNESS: Final = SystemRandomness()


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
    :param store: offers, tokens, tickets and the issuance ledger (a shared database in production).
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

    def _ledger_key(self, resident_id: str) -> str:
        return f"{self.election.election_id}:{resident_id}"

    def _retention(self) -> datetime:
        return self.election.closes_at + LEDGER_RETENTION

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
        if await self._store.get("voting_issued", self._ledger_key(record.resident_id), now=now) is not None:
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
        count = await self._store.incr(
            "voting_issued", self._ledger_key(resident_id), expires_at=self._retention(), now=now
        )
        if count != 1:
            raise ProtocolError(
                "a voting credential for this election was already issued to this resident",
                code="invalid_credential_request",
            )
        status = self.status_list.allocate() if self.status_list is not None else None
        if status is not None:
            await self._store.put(
                "voting_status",
                self._ledger_key(resident_id),
                {"idx": int(status["status_list"]["idx"])},
                expires_at=self._retention(),
            )
        return issue_sd_jwt_vc(
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

    async def revoke(self, resident_id: str, *, now: datetime) -> int:
        """Revoke the resident's credential for this election in the status list (publish it after).

        :raises InvalidInputError: without a status list.
        :raises NotFoundError: if no credential with a status entry was issued to the resident.
        :return: the revoked status index.
        """
        if self.status_list is None:
            raise InvalidInputError("this issuer has no status list; credentials cannot be revoked")
        entry = await self._store.get("voting_status", self._ledger_key(resident_id), now=now)
        if entry is None:
            raise NotFoundError("no revocable voting credential was issued to this resident")
        idx = int(entry["idx"])
        self.status_list.revoke(idx)
        return idx
