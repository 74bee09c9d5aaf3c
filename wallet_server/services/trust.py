"""Issuer accreditation on the trusted-issuer registry, by the city's governance account."""

from __future__ import annotations

from datetime import datetime, timedelta

from vcsdk.did import parse_did_url
from vcsdk.errors import InvalidInputError, NotFoundError
from vcsdk.trust import Accreditation
from wallet_server.services._common import Clock, require_text
from wallet_server.services.city import CitySetup

__all__ = ["TrustService"]


def _did(value: object) -> str:
    text = require_text(value, "issuer", max_len=300)
    url = parse_did_url(text)  # raises InvalidDidError
    if url.path or url.query is not None or url.fragment is not None:
        raise InvalidInputError("issuer must be a plain DID")
    return text


def _time(value: object, what: str) -> datetime | None:
    if value is None:
        return None
    text = require_text(value, what, max_len=40)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInputError(f"{what} must be an RFC 3339 date-time") from None
    if moment.tzinfo is None:
        raise InvalidInputError(f"{what} must carry a time zone (Z or an offset)")
    return moment


class TrustService:
    """Accredit, suspend and reinstate issuers for credential types (governance transactions).

    :param city: the city's chain set-up (the trusted-issuer registry and the governance key).
    :param clock: returns the current UTC time.
    """

    def __init__(self, *, city: CitySetup, clock: Clock) -> None:
        self._city = city
        self._clock = clock

    async def accredit(
        self, issuer: object, credential_type: object, *, valid_from: object = None, valid_until: object = None
    ) -> Accreditation:
        """Accredit ``issuer`` (a DID) for ``credential_type`` from ``valid_from`` (default: now).

        :raises InvalidInputError: malformed DID, type or times, or an empty window.
        :raises InvalidDidError: a malformed DID.
        """
        did = _did(issuer)
        ctype = require_text(credential_type, "credential_type", max_len=300)
        start = _time(valid_from, "valid_from") or self._clock() - timedelta(seconds=60)
        end = _time(valid_until, "valid_until")
        if end is not None and end <= start:
            raise InvalidInputError("valid_until must be after valid_from")
        city = await self._city.get()
        await city.trust.accredit(did, ctype, valid_from=start, valid_until=end, sender=city.owner)
        return await self.get(did, ctype)

    async def get(self, issuer: object, credential_type: object) -> Accreditation:
        """The stored accreditation.

        :raises NotFoundError: if the issuer was never accredited for the type.
        """
        did = _did(issuer)
        ctype = require_text(credential_type, "credential_type", max_len=300)
        city = await self._city.get()
        found = await city.trust.accreditation(did, ctype)
        if found is None:
            raise NotFoundError("this issuer was never accredited for this credential type")
        return found

    async def suspend(self, issuer: object, credential_type: object) -> Accreditation:
        """Suspend an accreditation from the current block on.

        :raises NotFoundError: if it does not exist. :raises ConflictError: if revoked.
        """
        return await self._change(issuer, credential_type, "suspend")

    async def reinstate(self, issuer: object, credential_type: object) -> Accreditation:
        """Lift a suspension.

        :raises NotFoundError: if it does not exist. :raises ConflictError: if revoked.
        """
        return await self._change(issuer, credential_type, "unsuspend")

    async def _change(self, issuer: object, credential_type: object, action: str) -> Accreditation:
        from vcsdk.errors import ConflictError

        current = await self.get(issuer, credential_type)
        if current.revoked_at is not None:
            raise ConflictError("this accreditation was revoked; accredit the issuer again")
        did, ctype = str(current.issuer), str(current.credential_type)
        if (action == "suspend") == (current.suspended_since is not None):
            return current  # already in the wanted state: nothing to send
        city = await self._city.get()
        if action == "suspend":
            await city.trust.suspend(did, ctype, sender=city.owner)
        else:
            await city.trust.unsuspend(did, ctype, sender=city.owner)
        return await self.get(did, ctype)
