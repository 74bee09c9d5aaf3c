"""Envelope encryption: wrapping, associated data binding, key rotation."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.wallet_server._helpers import sd_jwt
from vcsdk.errors import InvalidInputError, StorageError
from wallet_server.services import CredentialService, LocalKeyProvider, Principal
from wallet_server.services.admin import AdminService
from wallet_server.services.encryption import credential_aad, new_data_key, open_sealed, resident_key_aad, seal
from wallet_server.storage import Store, StoredCredential

NOW = datetime(2026, 1, 1, tzinfo=UTC)
TOKEN = sd_jwt()


async def test_wrap_unwrap_and_associated_data() -> None:
    keys = LocalKeyProvider({"k1": b"\x01" * 32}, current="k1")
    data_key = new_data_key()
    wrapped = await keys.wrap(data_key, aad=resident_key_aad("res_a"))
    assert wrapped.key_id == "k1" and data_key not in wrapped.blob
    assert await keys.unwrap(wrapped, aad=resident_key_aad("res_a")) == data_key
    with pytest.raises(StorageError):
        await keys.unwrap(wrapped, aad=resident_key_aad("res_b"))
    assert "\\x01" not in repr(keys) and "k1" in repr(keys)


async def test_unknown_or_wrong_server_key_is_a_storage_error() -> None:
    old = LocalKeyProvider({"k1": b"\x01" * 32}, current="k1")
    wrapped = await old.wrap(new_data_key(), aad=b"x")
    with pytest.raises(StorageError):
        await LocalKeyProvider({"k2": b"\x02" * 32}, current="k2").unwrap(wrapped, aad=b"x")
    with pytest.raises(StorageError):
        await LocalKeyProvider({"k1": b"\x03" * 32}, current="k1").unwrap(wrapped, aad=b"x")


def test_key_provider_configuration_is_checked() -> None:
    with pytest.raises(InvalidInputError):
        LocalKeyProvider({"k1": b"short"}, current="k1")
    with pytest.raises(InvalidInputError):
        LocalKeyProvider({"k1": b"\x01" * 32}, current="k2")


def test_sealed_records_refuse_tampering_and_truncation() -> None:
    key = new_data_key()
    blob = seal(key, b"secret", aad=b"a")
    assert open_sealed(key, blob, aad=b"a") == b"secret"
    flipped = blob[:-1] + bytes([blob[-1] ^ 1])
    for bad in (flipped, blob[:10]):
        with pytest.raises(StorageError):
            open_sealed(key, bad, aad=b"a")


async def test_rotation_keeps_old_data_readable_and_wraps_new_residents_with_the_new_key(store: Store) -> None:
    old_keys = LocalKeyProvider({"k1": b"\x01" * 32}, current="k1")
    admin = AdminService(store, keys=old_keys, tokens=(), clock=lambda: NOW)
    resident = await admin.create_resident()
    creds = CredentialService(store, keys=old_keys, clock=lambda: NOW)
    me = Principal(resident.id, "dev_x", "jkt")
    stored = await creds.put(me, TOKEN, format="dc+sd-jwt")

    rotated = LocalKeyProvider({"k1": b"\x01" * 32, "k2": b"\x02" * 32}, current="k2")
    assert (await CredentialService(store, keys=rotated, clock=lambda: NOW).get(me, stored.id)).credential == TOKEN
    newcomer = await AdminService(store, keys=rotated, tokens=(), clock=lambda: NOW).create_resident()
    assert newcomer.wrap_key_id == "k2"
    # re-wrap every data key still under k1, then k1 can be retired
    assert await AdminService(store, keys=rotated, tokens=(), clock=lambda: NOW).rewrap_resident_keys(batch=1) == 1
    assert (await store.get_resident(resident.id)).wrap_key_id == "k2"
    only_new = LocalKeyProvider({"k2": b"\x02" * 32}, current="k2")
    assert (await CredentialService(store, keys=only_new, clock=lambda: NOW).get(me, stored.id)).credential == TOKEN


async def test_ciphertext_moved_to_another_record_does_not_decrypt(store: Store) -> None:
    keys = LocalKeyProvider({"k1": b"\x01" * 32}, current="k1")
    resident = await AdminService(store, keys=keys, tokens=(), clock=lambda: NOW).create_resident()
    creds = CredentialService(store, keys=keys, clock=lambda: NOW)
    me = Principal(resident.id, "dev_x", "jkt")
    first = await creds.put(me, TOKEN, format="dc+sd-jwt")
    row = await store.get_credential(resident.id, first.id)
    await store.put_credential(StoredCredential("cred_copy", resident.id, "dc+sd-jwt", NOW, row.ciphertext))
    with pytest.raises(StorageError):
        await creds.get(me, "cred_copy")
    assert credential_aad(resident.id, first.id) != credential_aad(resident.id, "cred_copy")


async def test_sealed_json_reads_back_whatever_encoder_wrote_it(store: Store) -> None:
    """Sealed JSON is written compactly (orjson, or the standard library for what orjson does not
    take) and read back the same; a blob the standard library wrote before (even with NaN) opens."""
    import json

    from wallet_server.services.wallet import ResidentVault
    from wallet_server.storage import WalletDataStore

    keys = LocalKeyProvider({"k1": b"\x01" * 32}, current="k1")
    resident = await AdminService(store, keys=keys, tokens=(), clock=lambda: NOW).create_resident()
    vault = ResidentVault(store, WalletDataStore(store), keys=keys, clock=lambda: NOW)
    values = [
        {"options": {"q": [{"credential_id": "crd_1", "claims": [["address", "locality"], [None, 0]]}]}, "n": 1.5},
        {"big": 2**70 + 1, "negative": -(2**64) - 3, "名前": "花子"},  # beyond 64 bits: read back exactly
        {1: "int key"},  # not a string key: the standard library turns it into "1"
    ]
    for value in values:
        sealed = await vault.seal_json(resident.id, value, kind="presentation", row_id="prs_1")
        opened = await vault.open_json(resident.id, sealed, kind="presentation", row_id="prs_1")
        assert opened == json.loads(json.dumps(value))
        assert json.dumps(opened) == json.dumps(json.loads(json.dumps(value)))  # same types: no int became a float
    cipher = await vault.data_key(resident.id)
    old = seal(cipher, json.dumps({"x": float("nan"), "y": [1]}).encode(), aad=b"vcsdk-wallet/presentation/v1/"
               + resident.id.encode() + b"/prs_2")
    opened = await vault.open_json(resident.id, old, kind="presentation", row_id="prs_2")
    assert opened["y"] == [1] and opened["x"] != opened["x"]  # NaN
    with pytest.raises(StorageError):  # another row's blob does not open here
        await vault.open_json(resident.id, old, kind="presentation", row_id="prs_1")
