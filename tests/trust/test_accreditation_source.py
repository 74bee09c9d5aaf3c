"""AccreditationPolicy reads any AccreditationSource (a protocol), not only the chain's TrustRegistry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from vcsdk.errors import IssuerNotAccreditedError
from vcsdk.trust import Accreditation, AccreditationPolicy, AccreditationSource

NOW = datetime(2026, 4, 1, tzinfo=UTC)
ISSUER = "did:example:city"


class TableSource:
    """Accreditations from a table (a cache of the chain, or a test double)."""

    def __init__(self, table: dict[tuple[str, str], Accreditation]) -> None:
        self.table = table

    async def accreditation(self, issuer: str, credential_type: str) -> Accreditation | None:
        return self.table.get((issuer, credential_type))


async def test_a_table_source_is_an_accreditation_source() -> None:
    source: AccreditationSource = TableSource(
        {(ISSUER, "Resident"): Accreditation(NOW - timedelta(days=10), None, None, None)}
    )
    policy = AccreditationPolicy(source)
    await policy.check(ISSUER, "Resident", issued_at=NOW - timedelta(days=1), now=NOW)
    with pytest.raises(IssuerNotAccreditedError):
        await policy.check(ISSUER, "LibraryCard", issued_at=NOW, now=NOW)
    with pytest.raises(IssuerNotAccreditedError):
        await policy.check(ISSUER, "Resident", issued_at=NOW - timedelta(days=20), now=NOW)
