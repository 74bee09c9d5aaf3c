"""TrustedIssuerRegistry on the embedded py-evm chain: accreditation, events, status digests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from vcsdk.errors import InvalidInputError, IssuerNotAccreditedError, TransactionRevertedError
from vcsdk.registry import EmbeddedChain
from vcsdk.trust import AccreditationPolicy, StatusDigest, TrustRegistry, list_id, text_id

ISSUER = "did:ethr:0x539:0x1111111111111111111111111111111111111111"
VCT = "https://credentials.kaga.example/ResidentIdentityCredential"
OTHER_VCT = "https://credentials.kaga.example/VotingEligibilityCredential"


async def _chain_now(chain: EmbeddedChain) -> datetime:
    return datetime.fromtimestamp((await chain.get_block("latest")).timestamp, UTC)


@pytest.fixture
async def registry(embedded_chain: EmbeddedChain) -> TrustRegistry:
    return await TrustRegistry.deploy(embedded_chain, sender=embedded_chain.dev_keys[0])


async def test_accredit_read_and_window(embedded_chain: EmbeddedChain, registry: TrustRegistry) -> None:
    gov = embedded_chain.dev_keys[0]
    now = await _chain_now(embedded_chain)
    assert await registry.accreditation(ISSUER, VCT) is None
    await registry.accredit(ISSUER, VCT, valid_from=now - timedelta(days=1), valid_until=now + timedelta(days=30),
                            sender=gov)
    acc = await registry.accreditation(ISSUER, VCT)
    assert acc is not None and acc.state == "accredited" and acc.valid_until is not None
    assert await registry.is_accredited(ISSUER, VCT, at=now)
    assert not await registry.is_accredited(ISSUER, VCT, at=now - timedelta(days=2))
    assert not await registry.is_accredited(ISSUER, VCT, at=now + timedelta(days=31))
    assert not await registry.is_accredited(ISSUER, OTHER_VCT, at=now)
    # Python's rule agrees with the contract's view.
    for offset in (-2, 0, 29, 31):
        at = now + timedelta(days=offset)
        assert acc.active_at(at) == await registry.is_accredited(ISSUER, VCT, at=at)
    listed = await registry.list_accreditations()
    assert [(a.issuer, a.credential_type) for a in listed] == [(ISSUER, VCT)]


async def test_only_governance_writes(embedded_chain: EmbeddedChain, registry: TrustRegistry) -> None:
    other = embedded_chain.dev_keys[1]
    now = await _chain_now(embedded_chain)
    with pytest.raises(TransactionRevertedError):
        await registry.accredit(ISSUER, VCT, valid_from=now, sender=other)
    with pytest.raises(TransactionRevertedError):
        await registry.anchor_status_digests([StatusDigest("https://c.example/s/1", b"\x01" * 32, 1)], sender=other)


async def test_bad_window_and_unknown_pair(embedded_chain: EmbeddedChain, registry: TrustRegistry) -> None:
    gov = embedded_chain.dev_keys[0]
    now = await _chain_now(embedded_chain)
    with pytest.raises(TransactionRevertedError):
        await registry.accredit(ISSUER, VCT, valid_from=now, valid_until=now - timedelta(days=1), sender=gov)
    with pytest.raises(TransactionRevertedError):
        await registry.suspend(ISSUER, VCT, sender=gov)
    with pytest.raises(InvalidInputError):
        text_id("")


async def test_suspend_unsuspend_revoke_and_events(embedded_chain: EmbeddedChain, registry: TrustRegistry) -> None:
    gov = embedded_chain.dev_keys[0]
    now = await _chain_now(embedded_chain)
    policy = AccreditationPolicy(registry)
    await registry.accredit(ISSUER, VCT, valid_from=now - timedelta(days=1), sender=gov)
    await policy.check(ISSUER, VCT, issued_at=now, now=now)
    await registry.suspend(ISSUER, VCT, sender=gov)
    with pytest.raises(IssuerNotAccreditedError, match="suspended"):
        await policy.check(ISSUER, VCT, issued_at=now, now=now)
    await registry.unsuspend(ISSUER, VCT, sender=gov)
    await policy.check(ISSUER, VCT, issued_at=now, now=now)
    await registry.revoke(ISSUER, VCT, sender=gov)
    with pytest.raises(IssuerNotAccreditedError, match="revoked"):
        await policy.check(ISSUER, VCT, issued_at=now, now=now)
    with pytest.raises(TransactionRevertedError):
        await registry.revoke(ISSUER, VCT, sender=gov)
    events = [e["event"] for e in await registry.history(ISSUER, VCT)]
    assert events == ["Accredited", "Suspended", "Unsuspended", "Revoked"]
    # Re-accrediting clears the revocation.
    await registry.accredit(ISSUER, VCT, valid_from=now - timedelta(days=1), sender=gov)
    await policy.check(ISSUER, VCT, issued_at=now, now=now)


async def test_policy_issued_outside_window_or_ended(embedded_chain: EmbeddedChain, registry: TrustRegistry) -> None:
    gov = embedded_chain.dev_keys[0]
    now = await _chain_now(embedded_chain)
    policy = AccreditationPolicy(registry)
    with pytest.raises(IssuerNotAccreditedError, match="not accredited"):
        await policy.check(ISSUER, VCT, issued_at=now, now=now)
    await registry.accredit(ISSUER, VCT, valid_from=now - timedelta(days=10), valid_until=now + timedelta(days=10),
                            sender=gov)
    with pytest.raises(IssuerNotAccreditedError, match="when it issued"):
        await policy.check(ISSUER, VCT, issued_at=now - timedelta(days=11), now=now)
    with pytest.raises(IssuerNotAccreditedError, match="ended"):
        await policy.check(ISSUER, VCT, issued_at=now, now=now + timedelta(days=11))


async def test_status_digests_batch_and_no_rollback(embedded_chain: EmbeddedChain, registry: TrustRegistry) -> None:
    gov = embedded_chain.dev_keys[0]
    uris = [f"https://city.example/status/{i}" for i in range(3)]
    assert await registry.status_digest(uris[0]) is None
    tx = await registry.anchor_status_digests(
        [StatusDigest(u, bytes([i + 1]) * 32, 1) for i, u in enumerate(uris)], sender=gov
    )
    assert len(tx.logs) == 3  # one transaction, three lists
    got = await registry.status_digest(uris[2])
    assert got is not None and got.digest == b"\x03" * 32 and got.version == 1
    with pytest.raises(TransactionRevertedError):
        await registry.anchor_status_digests([StatusDigest(uris[0], b"\x09" * 32, 1)], sender=gov)
    await registry.anchor_status_digests([StatusDigest(uris[0], b"\x09" * 32, 2)], sender=gov)
    assert (await registry.status_digest(uris[0])).digest == b"\x09" * 32  # type: ignore[union-attr]
    with pytest.raises(InvalidInputError):
        await registry.anchor_status_digests([], sender=gov)
    with pytest.raises(InvalidInputError):
        await registry.anchor_status_digests([StatusDigest(uris[0], b"short", 3)], sender=gov)
    publisher = embedded_chain.dev_keys[2]
    from vcsdk.registry import key_address
    await registry.set_status_publisher(key_address(publisher), True, sender=gov)
    await registry.anchor_status_digests([StatusDigest(uris[1], b"\x07" * 32, 5)], sender=publisher)
    assert list_id(uris[0]) != list_id(uris[1])


def test_naive_datetime_refused() -> None:
    from vcsdk.trust._registry import _ts
    with pytest.raises(InvalidInputError):
        _ts(datetime(2026, 1, 1))
