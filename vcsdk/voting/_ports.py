"""What the voting core needs from outside, as protocols (the stores in ``_ledger`` implement them)."""

from __future__ import annotations

from typing import Protocol

__all__ = ["IssuanceLedger"]


class IssuanceLedger(Protocol):
    """What :class:`EligibilityIssuer` and :class:`BallotTokenIssuer` need to remember, durably."""

    async def record_credential(
        self, election_id: str, resident_id: str, *, credential_digest: bytes, status_index: int | None
    ) -> None:
        """Remember the resident's eligibility credential.

        :raises ConflictError: (``already_issued``) if the resident already has one for the election.
        """
        ...

    async def has_credential(self, election_id: str, resident_id: str) -> bool: ...

    async def status_index(self, election_id: str, resident_id: str) -> int | None:
        """The status-list index of the resident's credential (``None`` if none or without status)."""
        ...

    async def resident_of(self, election_id: str, credential_digest: bytes) -> str | None:
        """The resident an eligibility credential was issued to, or ``None`` if this ledger never saw it."""
        ...

    async def claim_token(self, election_id: str, resident_id: str, *, scope: str, blinded_msg: bytes) -> None:
        """Claim the resident's one blind signature for this blinded message.

        A repeat with the same blinded message succeeds again (the answer is the same signature).

        :raises TokenAlreadyIssuedError: if the resident's signature went to another blinded message.
        """
        ...

    async def tokens_issued(self, election_id: str) -> int:
        """How many residents received a ballot token (the city may publish it)."""
        ...

    async def close(self) -> None: ...
