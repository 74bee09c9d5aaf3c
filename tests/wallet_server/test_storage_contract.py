"""One contract suite for every store backend (real SQLite file, real PostgreSQL schema)."""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vcsdk.errors import ConflictError, NotFoundError, StorageError
from wallet_server.storage import (
    CredentialKey,
    Device,
    DeviceProof,
    EnrolmentCode,
    Page,
    PresentationRow,
    RefreshToken,
    Resident,
    Store,
    StoredCredential,
    WalletDataStore,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def resident(n: int, *, at: datetime = T0) -> Resident:
    return Resident(f"res_{n}", "active", at, "k1", b"\x00wrapped" + bytes([n]))


def device(n: int, resident_id: str, *, jkt: str | None = None) -> Device:
    return Device(f"dev_{n}", resident_id, jkt or f"jkt_{n}", '{"kty":"EC"}', f"phone {n}", T0)


async def test_migrate_is_idempotent(store: Store) -> None:
    assert await store.migrate() == []


async def test_residents_roundtrip_and_conflict(store: Store) -> None:
    await store.create_resident(resident(1))
    got = await store.get_resident("res_1")
    assert got == resident(1)
    assert isinstance(got.wrapped_key, bytes)
    with pytest.raises(ConflictError):
        await store.create_resident(resident(1))
    with pytest.raises(NotFoundError):
        await store.get_resident("res_missing")


async def test_list_residents_paginates_without_gaps(store: Store) -> None:
    for n in range(7):
        # two share a timestamp, so the id breaks the tie
        await store.create_resident(resident(n, at=T0 + timedelta(seconds=n // 2)))
    seen: list[str] = []
    after = None
    while True:
        page = await store.list_residents(limit=3, after=after)
        seen.extend(r.id for r in page.items)
        if page.next_after is None:
            break
        after = page.next_after
    assert seen == [f"res_{n}" for n in range(7)]


async def test_replace_resident_key_is_compare_and_set(store: Store) -> None:
    await store.create_resident(resident(1))
    await store.replace_resident_key("res_1", old_key_id="k1", new_key_id="k2", wrapped_key=b"new")
    got = await store.get_resident("res_1")
    assert (got.wrap_key_id, got.wrapped_key) == ("k2", b"new")
    with pytest.raises(ConflictError):
        await store.replace_resident_key("res_1", old_key_id="k1", new_key_id="k3", wrapped_key=b"x")


async def test_enrolment_code_is_single_use_and_expires(store: Store) -> None:
    await store.create_resident(resident(1))
    code = EnrolmentCode("h1", "res_1", T0, T0 + timedelta(hours=1), "admin")
    await store.add_enrolment_code(code)
    stored = await store.enrol_device("h1", device(1, "ignored"), now=T0)
    assert stored.resident_id == "res_1"
    assert await store.get_device("dev_1") == stored
    with pytest.raises(NotFoundError):
        await store.enrol_device("h1", device(2, "ignored"), now=T0)
    await store.add_enrolment_code(EnrolmentCode("h2", "res_1", T0, T0 + timedelta(hours=1), "admin"))
    with pytest.raises(NotFoundError):
        await store.enrol_device("h2", device(3, "ignored"), now=T0 + timedelta(hours=2))
    with pytest.raises(NotFoundError):
        await store.enrol_device("unknown", device(4, "ignored"), now=T0)


async def test_enrolment_with_a_known_key_keeps_the_code(store: Store) -> None:
    await store.create_resident(resident(1))
    await store.add_enrolment_code(EnrolmentCode("h1", "res_1", T0, T0 + timedelta(hours=1), "admin"))
    await store.add_enrolment_code(EnrolmentCode("h2", "res_1", T0, T0 + timedelta(hours=1), "admin"))
    await store.enrol_device("h1", device(1, "x", jkt="same"), now=T0)
    with pytest.raises(ConflictError):
        await store.enrol_device("h2", device(2, "x", jkt="same"), now=T0)
    # the failed enrolment rolled back: h2 still works with another key
    await store.enrol_device("h2", device(3, "x", jkt="other"), now=T0)


async def test_devices_are_scoped_to_their_resident(store: Store) -> None:
    await store.create_resident(resident(1))
    await store.create_resident(resident(2))
    await store.add_device(device(1, "res_1"))
    await store.add_device(device(2, "res_1"))
    await store.add_device(device(3, "res_2"))
    with pytest.raises(ConflictError):
        await store.add_device(device(9, "res_2", jkt="jkt_1"))
    assert [d.id for d in await store.list_devices("res_1")] == ["dev_1", "dev_2"]
    with pytest.raises(NotFoundError):
        await store.delete_device("res_2", "dev_1")
    await store.delete_device("res_1", "dev_1")
    with pytest.raises(NotFoundError):
        await store.get_device("dev_1")
    assert [d.id for d in await store.list_devices("res_1")] == ["dev_2"]


async def test_credentials_crud_and_scoping(store: Store) -> None:
    await store.create_resident(resident(1))
    await store.create_resident(resident(2))
    for n in range(5):
        await store.put_credential(StoredCredential(f"c{n}", "res_1", "dc+sd-jwt", T0, bytes([n]) * 40))
    with pytest.raises(ConflictError):
        await store.put_credential(StoredCredential("c0", "res_2", "dc+sd-jwt", T0, b"x"))
    got = await store.get_credential("res_1", "c3")
    assert got.ciphertext == bytes([3]) * 40 and got.format == "dc+sd-jwt"
    with pytest.raises(NotFoundError):
        await store.get_credential("res_2", "c3")
    with pytest.raises(NotFoundError):
        await store.delete_credential("res_2", "c3")
    first = await store.list_credentials("res_1", limit=2)
    assert [c.id for c in first.items] == ["c0", "c1"] and first.next_after is not None
    rest = await store.list_credentials("res_1", limit=10, after=first.next_after)
    assert [c.id for c in rest.items] == ["c2", "c3", "c4"] and rest.next_after is None
    assert (await store.list_credentials("res_2", limit=10)).items == ()
    # The keys listing pages exactly like the full one, without the ciphertexts.
    keys = await store.list_credential_keys("res_1", limit=2)
    assert keys.items == tuple(CredentialKey(c.id, c.format, c.created_at) for c in first.items)
    assert keys.next_after == first.next_after
    more = await store.list_credential_keys("res_1", limit=10, after=keys.next_after)
    assert [k.id for k in more.items] == ["c2", "c3", "c4"] and more.next_after is None
    assert (await store.list_credential_keys("res_2", limit=10)).items == ()
    await store.delete_credential("res_1", "c3")
    assert [k.id for k in (await store.list_credential_keys("res_1", limit=10)).items] == ["c0", "c1", "c2", "c4"]
    with pytest.raises(NotFoundError):
        await store.get_credential("res_1", "c3")


async def test_challenges_are_single_use_and_expire(store: Store) -> None:
    await store.add_challenge("n1", expires_at=T0 + timedelta(minutes=2))
    assert await store.consume_challenge("n1", now=T0)
    assert not await store.consume_challenge("n1", now=T0)
    await store.add_challenge("n2", expires_at=T0 + timedelta(minutes=2))
    assert not await store.consume_challenge("n2", now=T0 + timedelta(minutes=3))
    assert not await store.consume_challenge("never", now=T0)


async def test_concurrent_challenge_consumption_succeeds_once(store: Store) -> None:
    await store.add_challenge("n1", expires_at=T0 + timedelta(minutes=2))
    results = await asyncio.gather(*(store.consume_challenge("n1", now=T0) for _ in range(5)))
    assert sorted(results) == [False, False, False, False, True]


async def test_jti_replay_cache(store: Store) -> None:
    assert await store.remember_jti("j1", expires_at=T0 + timedelta(minutes=1))
    assert not await store.remember_jti("j1", expires_at=T0 + timedelta(minutes=1))
    assert await store.purge_expired(now=T0 + timedelta(minutes=2)) >= 1
    assert await store.remember_jti("j1", expires_at=T0 + timedelta(minutes=3))


async def test_purge_in_batches_removes_every_expired_row_and_no_live_one(store: Store) -> None:
    now = T0 + timedelta(minutes=10)
    # 53 expired (the last one ends exactly now) and 20 live proof ids, across batches of 7.
    expired = [f"old_{n}" for n in range(53)]
    live = [f"new_{n}" for n in range(20)]
    for n, jti in enumerate(expired):
        assert await store.remember_jti(jti, expires_at=now - timedelta(seconds=52 - n))
    for n, jti in enumerate(live):
        assert await store.remember_jti(jti, expires_at=now + timedelta(seconds=1 + n))
    await store.add_challenge("old_nonce", expires_at=now)
    await store.add_challenge("new_nonce", expires_at=now + timedelta(seconds=1))

    assert await store.purge_expired(now=now, batch=7, pause=0) == len(expired) + 1
    assert await store.purge_expired(now=now, batch=7, pause=0) == 0
    # Replay protection stays exact: every proof id still within its window is refused.
    for jti in live:
        assert not await store.remember_jti(jti, expires_at=now + timedelta(minutes=1))
    for jti in expired:
        assert await store.remember_jti(jti, expires_at=now + timedelta(minutes=1))
    assert await store.consume_challenge("new_nonce", now=now)
    assert not await store.consume_challenge("old_nonce", now=now)


async def test_purge_refuses_an_empty_batch_or_a_negative_pause(store: Store) -> None:
    with pytest.raises(ValueError, match="at least one row"):
        await store.purge_expired(now=T0, batch=0)
    with pytest.raises(ValueError, match="pause not negative"):
        await store.purge_expired(now=T0, pause=-1.0)


async def test_device_proof_is_recorded_only_while_the_device_holds_the_key(store: Store) -> None:
    await store.create_resident(resident(1))
    await store.create_resident(resident(2))
    await store.add_device(device(1, "res_1"))
    exp = T0 + timedelta(minutes=1)
    proof = DeviceProof("j1", exp, "dev_1", "res_1", "jkt_1", None)
    assert await store.use_device_proof(proof) == "ok"
    assert await store.use_device_proof(proof) == "replay"
    # Another resident, another key or a removed device: refused, and the proof id is not spent.
    j2 = replace(proof, jti_hash="j2")
    for wrong in (replace(j2, resident_id="res_2"), replace(j2, jkt="jkt_9"), replace(j2, device_id="dev_9")):
        assert await store.use_device_proof(wrong) == "no_device"
    assert await store.use_device_proof(j2) == "ok"
    await store.delete_device("res_1", "dev_1")
    assert await store.use_device_proof(replace(proof, jti_hash="j3")) == "no_device"
    assert await store.remember_jti("j3", expires_at=exp)


async def test_device_proof_is_refused_once_its_login_ended(store: Store) -> None:
    await store.create_resident(resident(1))
    await store.add_device(device(1, "res_1"))
    await store.add_refresh_token(RefreshToken("r1", "fam_a", "res_1", "dev_1", T0, T0 + timedelta(days=1)))
    await store.add_refresh_token(RefreshToken("r2", "fam_b", "res_1", "dev_1", T0, T0 + timedelta(days=1)))
    proof = DeviceProof("j1", T0 + timedelta(minutes=1), "dev_1", "res_1", "jkt_1", "fam_a")
    assert await store.use_device_proof(proof) == "ok"
    await store.revoke_refresh_family("fam_a", now=T0)
    assert await store.use_device_proof(replace(proof, jti_hash="j2")) == "logged_out"
    assert await store.use_device_proof(replace(proof, jti_hash="j2", family_id="fam_b")) == "ok"
    assert await store.use_device_proof(replace(proof, jti_hash="j3", family_id=None)) == "ok"


async def test_proof_and_credential_listing_in_one_call(store: Store) -> None:
    """The listing is read only when the proof is recorded; a refused proof gives its reason and
    no rows, and (unlike a replay) does not spend the proof id."""
    await store.create_resident(resident(1))
    await store.create_resident(resident(2))
    await store.add_device(device(1, "res_1"))
    await store.add_refresh_token(RefreshToken("r1", "fam_a", "res_1", "dev_1", T0, T0 + timedelta(days=1)))
    for n in range(3):
        at = T0 + timedelta(seconds=3 - n)  # stored newest first: the listing orders by created_at
        await store.put_credential(StoredCredential(f"c{n}", "res_1", "dc+sd-jwt", at, bytes([n]) * 40))
    await store.put_credential(StoredCredential("c9", "res_2", "vc+jwt", T0, b"x"))

    def proof(jti: str, **changes: str) -> DeviceProof:
        values = {"device_id": "dev_1", "resident_id": "res_1", "jkt": "jkt_1", "family_id": "fam_a", **changes}
        return DeviceProof(jti, T0 + timedelta(minutes=1), **values)  # type: ignore[arg-type]

    outcome, first = await store.prove_and_list_credential_keys(proof("j1"), limit=2)
    assert outcome == "ok"
    assert first.items == (
        CredentialKey("c2", "dc+sd-jwt", T0 + timedelta(seconds=1)),
        CredentialKey("c1", "dc+sd-jwt", T0 + timedelta(seconds=2)),
    )
    assert first.next_after is not None
    outcome, rest = await store.prove_and_list_credential_keys(proof("j2"), limit=2, after=first.next_after)
    assert outcome == "ok" and [k.id for k in rest.items] == ["c0"] and rest.next_after is None
    # The same proof again, another resident's or key's proof, a removed device, an ended login.
    assert await store.prove_and_list_credential_keys(proof("j1"), limit=5) == ("replay", Page((), None))
    for jti, wrong in (("j3", {"resident_id": "res_2"}), ("j4", {"jkt": "jkt_9"}), ("j5", {"device_id": "dev_9"})):
        outcome, page = await store.prove_and_list_credential_keys(proof(jti, **wrong), limit=5)
        assert (outcome, page.items) == ("no_device", ())
    assert await store.remember_jti("j3", expires_at=T0 + timedelta(minutes=1))  # not spent by the refusal
    await store.revoke_refresh_family("fam_a", now=T0)
    outcome, page = await store.prove_and_list_credential_keys(proof("j6"), limit=5)
    assert (outcome, page.items) == ("logged_out", ())
    outcome, page = await store.prove_and_list_credential_keys(proof("j7", family_id="fam_b"), limit=5)
    assert outcome == "ok" and len(page.items) == 3
    await store.delete_device("res_1", "dev_1")
    outcome, page = await store.prove_and_list_credential_keys(proof("j8", family_id="fam_b"), limit=5)
    assert (outcome, page.items) == ("no_device", ())


async def test_proof_and_presentation_read_in_one_call(store: Store) -> None:
    """A presentation is read only when the proof is recorded; a refused proof gives its reason and
    no row, and another resident's presentation is not found."""
    await store.create_resident(resident(1))
    await store.create_resident(resident(2))
    await store.add_device(device(1, "res_1"))
    await store.add_device(device(2, "res_2"))
    await store.add_refresh_token(RefreshToken("r1", "fam_a", "res_1", "dev_1", T0, T0 + timedelta(days=1)))
    data = WalletDataStore(store)
    mine = PresentationRow("prs_1", "res_1", "consent_required", T0, T0 + timedelta(minutes=10), T0, b"sealed-1")
    await data.add_presentation(mine)
    await data.add_presentation(replace(mine, id="prs_2", resident_id="res_2", body=b"sealed-2"))

    def proof(jti: str, **changes: str) -> DeviceProof:
        values = {"device_id": "dev_1", "resident_id": "res_1", "jkt": "jkt_1", "family_id": "fam_a", **changes}
        return DeviceProof(jti, T0 + timedelta(minutes=1), **values)  # type: ignore[arg-type]

    assert await data.prove_and_get_presentation(proof("j1"), "prs_1") == ("ok", mine)
    assert await data.prove_and_get_presentation(proof("j2"), "prs_2") == ("ok", None)  # res_2's
    assert await data.prove_and_get_presentation(proof("j3"), "prs_9") == ("ok", None)
    assert await data.prove_and_get_presentation(proof("j1"), "prs_1") == ("replay", None)
    assert await data.prove_and_get_presentation(proof("j4", jkt="jkt_9"), "prs_1") == ("no_device", None)
    assert await store.remember_jti("j4", expires_at=T0 + timedelta(minutes=1))  # not spent by the refusal
    await store.revoke_refresh_family("fam_a", now=T0)
    assert await data.prove_and_get_presentation(proof("j5"), "prs_1") == ("logged_out", None)
    assert await data.prove_and_get_presentation(proof("j6", family_id="fam_b"), "prs_1") == ("ok", mine)


async def test_proof_and_credential_upload_in_one_call(store: Store) -> None:
    """The credential is stored only with a recorded proof; a refused proof stores nothing."""
    await store.create_resident(resident(1))
    await store.add_device(device(1, "res_1"))
    await store.add_refresh_token(RefreshToken("r1", "fam_a", "res_1", "dev_1", T0, T0 + timedelta(days=1)))

    def proof(jti: str, **changes: str) -> DeviceProof:
        values = {"device_id": "dev_1", "resident_id": "res_1", "jkt": "jkt_1", "family_id": "fam_a", **changes}
        return DeviceProof(jti, T0 + timedelta(minutes=1), **values)  # type: ignore[arg-type]

    def cred(n: int) -> StoredCredential:
        return StoredCredential(f"c{n}", "res_1", "dc+sd-jwt", T0 + timedelta(seconds=n), bytes([n]) * 40)

    assert await store.prove_and_put_credential(proof("j1"), cred(1)) == "ok"
    assert (await store.get_credential("res_1", "c1")).ciphertext == bytes([1]) * 40
    assert await store.prove_and_put_credential(proof("j1"), cred(2)) == "replay"
    assert await store.prove_and_put_credential(proof("j2", jkt="jkt_9"), cred(3)) == "no_device"
    with pytest.raises(ConflictError):  # an existing id: nothing stored, the proof not spent
        await store.prove_and_put_credential(proof("j4"), cred(1))
    assert await store.prove_and_put_credential(proof("j4"), cred(4)) == "ok"
    await store.revoke_refresh_family("fam_a", now=T0)
    assert await store.prove_and_put_credential(proof("j5"), cred(5)) == "logged_out"
    await store.delete_device("res_1", "dev_1")
    assert await store.prove_and_put_credential(proof("j6", family_id="fam_b"), cred(6)) == "no_device"
    assert [c.id for c in (await store.list_credentials("res_1", limit=10)).items] == ["c1", "c4"]


async def test_lease_has_one_holder_until_it_expires_or_is_released(store: Store) -> None:
    t1 = T0 + timedelta(seconds=10)
    assert await store.take_lease("job", "a", until=t1, now=T0)
    assert not await store.take_lease("job", "b", until=t1, now=T0)  # held by a
    assert await store.take_lease("job", "a", until=t1 + timedelta(seconds=10), now=T0 + timedelta(seconds=5))
    assert await store.take_lease("other", "b", until=t1, now=T0)  # leases are per name
    # a stops renewing: once its lease has expired, b takes over, and a cannot renew any more.
    later = t1 + timedelta(seconds=11)
    assert await store.take_lease("job", "b", until=later + timedelta(seconds=10), now=later)
    assert not await store.take_lease("job", "a", until=later + timedelta(seconds=10), now=later)
    await store.release_lease("job", "a")  # not a's to release: no effect
    assert not await store.take_lease("job", "c", until=later + timedelta(seconds=10), now=later)
    await store.release_lease("job", "b")
    assert await store.take_lease("job", "c", until=later + timedelta(seconds=10), now=later)


async def test_concurrent_lease_takers_get_one_holder(store: Store) -> None:
    until = T0 + timedelta(seconds=10)
    got = await asyncio.gather(*(store.take_lease("job", f"h{n}", until=until, now=T0) for n in range(6)))
    assert sorted(got) == [False] * 5 + [True]


async def test_ping_answers(store: Store) -> None:
    await store.ping()


async def test_refresh_token_use_marks_reuse_and_family_revocation(store: Store) -> None:
    await store.create_resident(resident(1))
    await store.add_device(device(1, "res_1"))
    tok = RefreshToken("r1", "fam", "res_1", "dev_1", T0, T0 + timedelta(days=1))
    await store.add_refresh_token(tok)
    await store.add_refresh_token(RefreshToken("r2", "fam", "res_1", "dev_1", T0, T0 + timedelta(days=1)))
    first = await store.use_refresh_token("r1", now=T0)
    assert first.used_at is None and first.revoked_at is None
    again = await store.use_refresh_token("r1", now=T0)
    assert again.used_at is not None
    await store.revoke_refresh_family("fam", now=T0)
    assert (await store.use_refresh_token("r2", now=T0)).revoked_at is not None
    with pytest.raises(NotFoundError):
        await store.use_refresh_token("nope", now=T0)


async def test_deleting_a_device_deletes_its_refresh_tokens(store: Store) -> None:
    await store.create_resident(resident(1))
    await store.add_device(device(1, "res_1"))
    await store.add_refresh_token(RefreshToken("r1", "fam", "res_1", "dev_1", T0, T0 + timedelta(days=1)))
    await store.delete_device("res_1", "dev_1")
    with pytest.raises(NotFoundError):
        await store.use_refresh_token("r1", now=T0)


async def test_foreign_key_violation_is_a_conflict(store: Store) -> None:
    with pytest.raises(ConflictError):
        await store.add_device(device(1, "res_missing"))
    assert issubclass(ConflictError, StorageError)


@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(offsets=st.lists(st.integers(min_value=0, max_value=3), min_size=0, max_size=12), limit=st.integers(1, 5))
async def test_keyset_pagination_returns_every_credential_once_in_order(store: Store, offsets, limit) -> None:
    owner = f"res_{secrets.token_hex(6)}"
    await store.create_resident(Resident(owner, "active", T0, "k1", b"x"))
    expected = []
    for offset in offsets:
        row = StoredCredential(f"c_{secrets.token_hex(6)}", owner, "dc+sd-jwt", T0 + timedelta(seconds=offset), b"x")
        await store.put_credential(row)
        expected.append((row.created_at, row.id))
    seen = []
    after = None
    for _ in range(len(offsets) + 2):  # bounded: one page per item at most, plus the last
        page = await store.list_credentials(owner, limit=limit, after=after)
        seen += [(c.created_at, c.id) for c in page.items]
        if page.next_after is None:
            break
        after = page.next_after
    assert seen == sorted(expected)
