"""``vcsdk receipts verify-proof`` against a real anvil node, and ``vcsdk receipts export``."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from datetime import timedelta
from pathlib import Path

import pytest

from tests.receipts._factories import SERVICE_DID, T0, make_consent, make_receipt, service_key
from tests.registration._factories import registration_token
from vcsdk._cli import main
from vcsdk.outbox import AccessReceiptRegistry, ReceiptOutbox, ResidentView, SqliteReceiptStore
from vcsdk.registry import DevChain, DevNode

KEY = service_key()
NOW = T0 + timedelta(hours=1)


async def _anchor(url: str, db: Path, n: int) -> tuple[str, list[dict[str, object]]]:
    store = await SqliteReceiptStore.open(str(db))
    async with await DevChain.connect(url, timeout=10.0) as chain:
        sender = (await chain.dev_accounts())[0]
        registry = await AccessReceiptRegistry.deploy(chain, sender=sender)
        consent = make_consent()
        await store.put_consent(consent)
        outbox = ReceiptOutbox(store, registry, batch_size=4, confirmations=1)
        for i in range(n):
            token = make_receipt(KEY, consent, receipt_id=f"cli-{i}", at=T0 + timedelta(minutes=i))
            await outbox.accept(token, service_key=KEY.public_key(), now=NOW)
        report = await outbox.drain(now=NOW + timedelta(days=1))
        assert report.open_batches == 0
        view = ResidentView(store, registry)
        entries = [
            dict((await view.get(e.receipt.receipt_id, pseudonyms=[consent.resident_pseudonym])).to_json())
            for e in await view.list([consent.resident_pseudonym])
        ]
    await store.close()
    return registry.address, entries


@pytest.mark.integration
def test_verify_proof(anvil_node: DevNode, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    address, entries = asyncio.run(_anchor(anvil_node.url, tmp_path / "outbox.db", 5))
    receipt_file = tmp_path / "RECEIPT.json"
    receipt_file.write_text(json.dumps(entries[4]))
    assert (
        main(["receipts", "verify-proof", str(receipt_file), "--rpc-url", anvil_node.url, "--registry", address]) == 0
    )
    shown = json.loads(capsys.readouterr().out)
    assert shown["anchored"] is True and shown["receipt_id"] == "cli-4" and shown["tree_size"] == 1
    # Another receipt's salt: the leaf changes, the proof fails, exit 1 with a JSON error.
    forged = {**entries[4], "salt": entries[3]["salt"]}
    receipt_file.write_text(json.dumps(forged))
    assert (
        main(["receipts", "verify-proof", str(receipt_file), "--rpc-url", anvil_node.url, "--registry", address]) == 1
    )
    assert json.loads(capsys.readouterr().err)["error"]["code"] == "proof_invalid"
    # A registry that never saw the batch.
    receipt_file.write_text(json.dumps(entries[0]))
    other = "0x" + "00" * 19 + "01"
    assert main(["receipts", "verify-proof", str(receipt_file), "--rpc-url", anvil_node.url, "--registry", other]) == 1
    capsys.readouterr()


def test_verify_proof_needs_proof_material(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    receipt_file = tmp_path / "RECEIPT.json"
    receipt_file.write_text(json.dumps({"receipt": "a.b.c", "salt": "AA", "state": "queued"}))
    code = main(
        [
            "receipts",
            "verify-proof",
            str(receipt_file),
            "--rpc-url",
            "http://127.0.0.1:9",
            "--registry",
            "0x" + "00" * 20,
        ]
    )
    assert code == 1 and json.loads(capsys.readouterr().err)["error"]["code"] == "invalid_input"


def test_export_csv_and_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    async def fill() -> None:
        store = await SqliteReceiptStore.open(str(tmp_path / "outbox.db"))
        from vcsdk.outbox import StoredReceipt
        from vcsdk.receipts import peek_access_receipt, receipt_leaf

        for r in range(40):
            consent = make_consent(record_id=f"c{r}", secret=bytes([r + 1]) * 32)
            token = make_receipt(KEY, consent, receipt_id=f"x{r}", at=T0 + timedelta(minutes=r))
            salt = bytes(32)
            await store.add_receipt(
                StoredReceipt(
                    receipt=peek_access_receipt(token),
                    salt=salt,
                    leaf=receipt_leaf(token.encode(), salt),
                    stored_at=NOW,
                )
            )
        await store.close()

    asyncio.run(fill())
    db = str(tmp_path / "outbox.db")
    regs = tmp_path / "registrations.txt"
    regs.write_text("# the city's registrations\n" + registration_token(SERVICE_DID) + "\n\n")
    ledger = str(tmp_path / "ledger.json")
    common = ["receipts", "export", "--period", "2026-11", "--registrations", str(regs), "--ledger", ledger, "--db", db]
    assert main([*common, "--epsilon", "10", "--budget", "12", "--release-id", "nov-1"]) == 0
    text = capsys.readouterr().out
    assert "# epsilon=10.0" in text and "# k_threshold=10" in text and "# sensitivity=1" in text
    rows = list(csv.DictReader(io.StringIO("\n".join(x for x in text.splitlines() if not x.startswith("#")))))
    assert [(r["claim_set"], r["period"]) for r in rows] == [("age", "2026-11"), ("name", "2026-11")]
    assert 35 <= int(rows[0]["count"]) <= 45 and rows[1]["suppressed"] == "true"
    out = tmp_path / "stats.json"
    assert main([*common, "--epsilon", "1", "--format", "json", "--out", str(out)]) == 0
    body = json.loads(out.read_text())
    assert body["parameters"]["epsilon"] == 1.0 and body["parameters"]["sensitivity"] == 1
    assert json.loads(Path(ledger).read_text())["budget_per_period"] == "12"
    # The ledger has 1 left of 12: a release of 2 is refused and nothing is written.
    assert main([*common, "--epsilon", "2", "--out", str(tmp_path / "refused.csv")]) == 1
    assert json.loads(capsys.readouterr().err)["error"]["code"] == "privacy_budget_exceeded"
    assert not (tmp_path / "refused.csv").exists()
    assert main([*common, "--epsilon", "1", "--k", "5"]) == 1  # k below 10
    assert main([*common, "--epsilon", "0"]) == 1
    assert main([*common[:-1], str(tmp_path / "missing.db"), "--epsilon", "1"]) == 1
    fresh = [*common[:-3], str(tmp_path / "new-ledger.json"), "--db", db, "--epsilon", "1"]
    assert main(fresh) == 1  # a new ledger needs its budget
    capsys.readouterr()
