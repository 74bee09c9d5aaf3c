"""Python binding for the ``TrustedIssuerRegistry`` contract: issuer accreditation and status digests."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, Protocol

from eth_utils.crypto import keccak

from vcsdk._time import to_numeric_date
from vcsdk.errors import InvalidInputError, IssuerNotAccreditedError
from vcsdk.registry import Chain, ContractHandle, Sender, TxResult
from vcsdk.status import AnchoredDigest

__all__ = [
    "CONTRACT_NAME",
    "Accreditation",
    "AccreditationPolicy",
    "AccreditationSource",
    "StatusDigest",
    "TrustRegistry",
    "list_id",
    "text_id",
]

CONTRACT_NAME: Final = "TrustedIssuerRegistry"
_MAX_BATCH: Final = 200


def text_id(text: str) -> bytes:
    """The registry's id of an issuer DID, a credential type or a list URL: keccak-256 of its UTF-8."""
    if not isinstance(text, str) or not text:
        raise InvalidInputError("issuer, credential type and list URL must be non-empty strings")
    return bytes(keccak(text.encode("utf-8")))


def list_id(uri: str) -> bytes:
    """The id under which a status list's digests are anchored (keccak-256 of its URL)."""
    return text_id(uri)


def _ts(moment: datetime | None) -> int:
    return 0 if moment is None else to_numeric_date(moment, what="times")


def _dt(seconds: int) -> datetime | None:
    return datetime.fromtimestamp(seconds, UTC) if seconds else None


@dataclass(frozen=True, slots=True)
class Accreditation:
    """An issuer's accreditation for one credential type, as stored on chain.

    :ivar issuer: the issuer DID (known when read from events, else ``None``).
    :ivar credential_type: the ``vct`` or W3C type (known when read from events, else ``None``).
    :ivar valid_from: start of the window.
    :ivar valid_until: end of the window, ``None`` for open-ended.
    :ivar suspended_since: when a current suspension began, else ``None``.
    :ivar revoked_at: when it was revoked, else ``None``.
    """

    valid_from: datetime
    valid_until: datetime | None
    suspended_since: datetime | None
    revoked_at: datetime | None
    issuer: str | None = None
    credential_type: str | None = None

    def active_at(self, at: datetime) -> bool:
        """Whether it covered time ``at`` (the contract's ``isAccredited`` rule)."""
        if at < self.valid_from or (self.valid_until is not None and at >= self.valid_until):
            return False
        if self.revoked_at is not None and at >= self.revoked_at:
            return False
        return not (self.suspended_since is not None and at >= self.suspended_since)

    @property
    def state(self) -> str:
        """``revoked``, ``suspended`` or ``accredited`` (ignoring the window)."""
        if self.revoked_at is not None:
            return "revoked"
        return "suspended" if self.suspended_since is not None else "accredited"


@dataclass(frozen=True, slots=True)
class StatusDigest:
    """One status list version to anchor: its URL, digest and version number."""

    uri: str
    digest: bytes
    version: int


class TrustRegistry:
    """The city's trusted-issuer registry on a :class:`~vcsdk.registry.Chain`.

    Writes (accredit, suspend, revoke, anchor) need the governance account or a status publisher
    as ``sender`` and wait for the chain's confirmations. Reads return our own values.

    :param chain: the chain adapter.
    :param address: the deployed ``TrustedIssuerRegistry`` address.
    """

    def __init__(self, chain: Chain, address: str) -> None:
        self.chain = chain
        self.contract: ContractHandle = chain.contract(CONTRACT_NAME, address)

    @property
    def address(self) -> str:
        """The contract address."""
        return self.contract.address

    @classmethod
    async def deploy(cls, chain: Chain, *, sender: Sender) -> TrustRegistry:
        """Deploy a new registry; ``sender`` becomes governance and a status publisher.

        :raises RegistryError: if the deployment fails.
        """
        return cls(chain, await chain.deploy(CONTRACT_NAME, sender=sender))

    # -- governance ----------------------------------------------------------------------------

    async def accredit(
        self,
        issuer: str,
        credential_type: str,
        *,
        valid_from: datetime,
        valid_until: datetime | None = None,
        sender: Sender,
    ) -> TxResult:
        """Accredit ``issuer`` (a DID) for ``credential_type`` (a ``vct`` or W3C type) in a window.

        Re-accrediting replaces the window and clears a suspension or revocation.

        :raises TransactionRevertedError: ``NotGovernance``, ``BadWindow`` or ``EmptyText``.
        """
        text_id(issuer), text_id(credential_type)
        return await self.contract.transact(
            "accredit", issuer, credential_type, _ts(valid_from), _ts(valid_until), sender=sender
        )

    async def suspend(self, issuer: str, credential_type: str, *, sender: Sender) -> TxResult:
        """Suspend an accreditation from the current block on.

        :raises TransactionRevertedError: ``NotGovernance`` or ``NotAccredited``.
        """
        return await self.contract.transact("suspend", text_id(issuer), text_id(credential_type), sender=sender)

    async def unsuspend(self, issuer: str, credential_type: str, *, sender: Sender) -> TxResult:
        """Lift a suspension.

        :raises TransactionRevertedError: ``NotGovernance`` or ``NotAccredited``.
        """
        return await self.contract.transact("unsuspend", text_id(issuer), text_id(credential_type), sender=sender)

    async def revoke(self, issuer: str, credential_type: str, *, sender: Sender) -> TxResult:
        """Withdraw an accreditation from the current block on.

        :raises TransactionRevertedError: ``NotGovernance``, ``NotAccredited`` or ``AlreadyRevoked``.
        """
        return await self.contract.transact("revoke", text_id(issuer), text_id(credential_type), sender=sender)

    async def set_status_publisher(self, account: str, allowed: bool, *, sender: Sender) -> TxResult:
        """Allow or disallow ``account`` to anchor status-list digests (governance only)."""
        return await self.contract.transact("setStatusPublisher", account, allowed, sender=sender)

    # -- reads ---------------------------------------------------------------------------------

    async def accreditation(self, issuer: str, credential_type: str) -> Accreditation | None:
        """The stored accreditation, or ``None`` if there never was one."""
        vf, vu, sus, rev = await self.contract.call("accreditation", text_id(issuer), text_id(credential_type))
        if vf == 0:
            return None
        return Accreditation(
            valid_from=datetime.fromtimestamp(vf, UTC),
            valid_until=_dt(vu),
            suspended_since=_dt(sus),
            revoked_at=_dt(rev),
            issuer=issuer,
            credential_type=credential_type,
        )

    async def is_accredited(self, issuer: str, credential_type: str, *, at: datetime) -> bool:
        """The contract's view: was ``issuer`` accredited for ``credential_type`` at ``at``?"""
        return bool(
            await self.contract.call("isAccredited", text_id(issuer), text_id(credential_type), _ts(at))
        )

    async def list_accreditations(self, *, from_block: int = 0) -> list[Accreditation]:
        """Every issuer/type pair ever accredited (from ``Accredited`` events), with its current state."""
        events = await self.contract.get_events("Accredited", from_block=from_block)
        seen: dict[tuple[str, str], None] = {}
        for ev in events:
            seen[(str(ev.args["issuer"]), str(ev.args["credentialType"]))] = None
        out: list[Accreditation] = []
        for issuer, ctype in seen:
            acc = await self.accreditation(issuer, ctype)
            if acc is not None:
                out.append(acc)
        return out

    async def history(self, issuer: str, credential_type: str, *, from_block: int = 0) -> list[dict[str, Any]]:
        """Every change to one accreditation, oldest first: ``{"event", "block", …args}``."""
        topics = (text_id(issuer), text_id(credential_type))
        out: list[dict[str, Any]] = []
        for name in ("Accredited", "Suspended", "Unsuspended", "Revoked"):
            for ev in await self.contract.get_events(name, topics=topics, from_block=from_block):
                out.append({"event": ev.event, "block": ev.log.block_number, "log_index": ev.log.log_index,
                            **{k: v for k, v in ev.args.items() if not isinstance(v, bytes)}})
        out.sort(key=lambda e: (e["block"], e["log_index"]))
        return out

    # -- status digests --------------------------------------------------------------------------

    async def anchor_status_digests(self, digests: Sequence[StatusDigest], *, sender: Sender) -> TxResult:
        """Anchor several status list versions in one transaction.

        :raises InvalidInputError: for an empty batch, more than 200 lists, or a digest not 32 bytes.
        :raises TransactionRevertedError: ``NotStatusPublisher`` or ``StaleVersion`` (a version that
            does not increase: a rollback).
        """
        if not digests or len(digests) > _MAX_BATCH:
            raise InvalidInputError(f"anchor between 1 and {_MAX_BATCH} status lists per transaction")
        for d in digests:
            if len(d.digest) != 32 or d.version < 0:
                raise InvalidInputError("a status digest is 32 bytes with a non-negative version")
        return await self.contract.transact(
            "anchorStatusDigests",
            [list_id(d.uri) for d in digests],
            [d.digest for d in digests],
            [d.version for d in digests],
            sender=sender,
        )

    async def status_digest(self, uri: str) -> AnchoredDigest | None:
        """The latest anchored digest of the list at ``uri`` (the status checker's digest source)."""
        digest, version, anchored_at = await self.contract.call("statusDigest", list_id(uri))
        if not anchored_at:
            return None
        return AnchoredDigest(bytes(digest), int(version), datetime.fromtimestamp(anchored_at, UTC))


class AccreditationSource(Protocol):
    """Where a verifier reads accreditations: the chain's :class:`TrustRegistry`, or any store with
    the same one read (a cached copy, a test table)."""

    async def accreditation(self, issuer: str, credential_type: str) -> Accreditation | None:
        """The stored accreditation of ``issuer`` for ``credential_type``, or ``None`` if there never was one."""
        ...


class AccreditationPolicy:
    """The verifier's accreditation check over an :class:`AccreditationSource` (a :class:`TrustRegistry`).

    An issuer passes when it was accredited for the credential type when the credential was issued
    *and* still is now: inside the window at both times, not revoked, not currently suspended.
    Implements :class:`vcsdk.credentials.IssuerAccreditationChecker`.
    """

    def __init__(self, registry: AccreditationSource) -> None:
        self.registry = registry

    async def check(self, issuer: str, credential_type: str, *, issued_at: datetime, now: datetime) -> None:
        """:raises IssuerNotAccreditedError: naming which condition failed (never personal data)."""
        acc = await self.registry.accreditation(issuer, credential_type)
        if acc is None:
            raise IssuerNotAccreditedError(
                "issuer is not accredited by the city's trusted-issuer registry for this credential type"
            )
        if acc.revoked_at is not None:
            raise IssuerNotAccreditedError("issuer's accreditation for this credential type has been revoked")
        if acc.suspended_since is not None:
            raise IssuerNotAccreditedError("issuer's accreditation for this credential type is suspended")
        if not acc.active_at(issued_at):
            raise IssuerNotAccreditedError("issuer was not accredited for this credential type when it issued it")
        if not acc.active_at(now):
            raise IssuerNotAccreditedError("issuer's accreditation for this credential type has ended")
