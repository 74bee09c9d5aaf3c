"""The city and the voting service pool everything they hold, and still link no ballot to a voter.

An election runs end to end over HTTP on 127.0.0.1 with every eligible resident of the seed
registry: each keeps their eligibility credential in the city's wallet server, fetches it from
there, gets a blind-signed ballot token from the city's token issuer and votes at the voting
service, in the order their tokens were issued (the worst case for order and timing attacks).
Then one function, :func:`link`, receives:

* from the city: its issuance ledger (rows and raw files), the KYC registry's log, the wallet
  server's database (rows and raw file), the status lists it published, the chain (every event of
  the election's contract and every transaction's input), the credentials it issued, and everything
  its token issuer received and answered (resident, blinded message, blind signature, in order);
* from the voting service: its ballot database (rows and raw files, after the service closed) and
  the publication;

and tries every linking attack we know. The test asserts that for every ballot the set of voters it
could belong to is still every voter. Each attack is shown to work on a control where the property
it relies on is broken on purpose, so none of them is a check that cannot fail.
"""

from __future__ import annotations

import base64
import logging
import re
import secrets
import sqlite3
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from tests._net import free_port, serve
from tests.wallet_server._helpers import OPERATOR_TOKEN
from tests.wallet_server.conftest import make_settings
from vcsdk.keys import Key
from vcsdk.kyc import LocalResidentRegistry, ResidentRegistryClient
from vcsdk.registry import EmbeddedChain
from vcsdk.status import HttpStatusListFetcher
from vcsdk.voting import (
    BallotStore,
    IssuanceLedger,
    PostgresBallotStore,
    PostgresIssuanceLedger,
    SqliteBallotStore,
    StoredBallot,
    prepare_ballot,
)
from vcsdk.voting._issuer import credential_digest
from wallet_server import create_app

from ._town import Town, build_town
from .conftest import PG_DSN, drop_schema
from .test_store import allocation_order  # the order rows were written in, read from the raw file

VOTERS = {"TK-000203": "Sato", "TK-000204": "Suzuki", "TK-000205": "Sato", "TK-000206": "Takahashi"}


# -- what each party holds ---------------------------------------------------------------------------


@dataclass
class TokenRequestSeen:
    """One token request as a city logging everything at its token issuer would keep it."""

    resident_id: str
    presentation: str
    blinded_msg: bytes
    blind_sig: bytes


@dataclass
class CityHoldings:
    ledger_rows: list[tuple[Any, ...]]
    ledger_raw: bytes
    wallet_rows: list[tuple[Any, ...]]
    wallet_raw: bytes
    kyc_log: list[tuple[float, str]]
    status_lists: list[str]
    chain: list[bytes]
    credentials: dict[str, str]
    token_requests: list[TokenRequestSeen]
    token_key: rsa.RSAPublicKey


@dataclass
class ServiceHoldings:
    ballots: list[StoredBallot]
    raw: bytes
    physical_order: list[bytes]  # serials in the order the rows were written, as read from storage
    canonical_order: list[bytes]  # the same, for the same rows written in serial order and compacted
    row_versions: list[int]  # PostgreSQL xmin of each row (empty on SQLite)
    publication: dict[str, Any]


@dataclass
class Findings:
    candidates: dict[bytes, set[str]]  # ballot serial -> voters it may belong to
    notes: list[str] = field(default_factory=list)

    def narrow(self, serial: bytes, voters: Iterable[str], why: str) -> None:
        before = self.candidates[serial]
        self.candidates[serial] = before & set(voters)
        if self.candidates[serial] != before:
            self.notes.append(why)


def _encodings(value: bytes) -> list[bytes]:
    text = [value.hex(), "0x" + value.hex(), base64.urlsafe_b64encode(value).rstrip(b"=").decode(),
            base64.b64encode(value).decode()]
    return [value, *(t.encode() for t in text)]


def _timestamps_near(raw: bytes, around: float) -> list[bytes]:
    """Every 10-digit unix time within a day of ``around``, and ISO dates of that day, found in ``raw``."""
    found = [m.group() for m in re.finditer(rb"\d{10}", raw) if abs(int(m.group()) - around) < 86_400]
    day = __import__("datetime").datetime.fromtimestamp(around, __import__("datetime").UTC).date().isoformat()
    return found + ([day.encode()] if day.encode() in raw else [])


def link(city: CityHoldings, service: ServiceHoldings, *, election_time: float) -> Findings:
    """Every linking attack we know; returns, per ballot, the voters it may still belong to."""
    voters = {r.resident_id for r in city.token_requests}
    findings = Findings({b.token.serial: set(voters) for b in service.ballots})
    city_bytes = b"".join([city.ledger_raw, city.wallet_raw, *city.chain,
                           *(s.encode() for s in city.status_lists), *(m.encode() for _, m in city.kyc_log),
                           *(repr(r).encode() for r in city.ledger_rows + city.wallet_rows)])
    n, e = city.token_key.public_numbers().n, city.token_key.public_numbers().e
    for ballot in service.ballots:
        token = ballot.token
        # 1. Anything of the ballot (serial, prefix, signature, commitment, salt) in the city's data.
        for value in (token.serial, token.prefix, token.signature, ballot.commitment, ballot.salt):
            if any(enc in city_bytes for enc in _encodings(value)):
                findings.narrow(token.serial, set(), "a ballot value appears in the city's data")
        # 2. Recompute what the city can compute per credential (nullifier-style values, holder keys,
        # status indices) and look for it next to the ballot.
        ballot_bytes = b"".join(_encodings(token.serial) + _encodings(token.prefix) + _encodings(token.signature))
        for rid, credential in city.credentials.items():
            jwt = credential.split("~", 1)[0]
            signing_input, signature = jwt.rsplit(".", 1)
            derived = [credential_digest(credential, service.publication["election"]["election_id"]),
                       __import__("hashlib").sha256(signing_input.encode()).digest(),
                       __import__("hashlib").sha256(signature.encode()).digest(), signing_input.encode()]
            if any(d in ballot_bytes or d in service.raw for d in derived):
                findings.narrow(token.serial, {rid}, "a credential-derived value sits next to a ballot")
        # 3. Match signatures: the city's blind signatures and blinded messages against the token.
        m = pow(int.from_bytes(token.signature, "big"), e, n)  # the PSS-encoded message, public
        s = int.from_bytes(token.signature, "big")
        consistent = set()
        for seen in city.token_requests:
            z, bs = int.from_bytes(seen.blinded_msg, "big"), int.from_bytes(seen.blind_sig, "big")
            if bs == s or z == m or seen.blinded_msg in ballot_bytes:
                findings.narrow(token.serial, {seen.resident_id}, "a blind signature equals a token's signature")
            # The blinding factor this pairing would imply, r = blind_sig / sig; does r^e * m give z?
            try:
                r = bs * pow(s, -1, n) % n
            except ValueError:
                continue
            if pow(r, e, n) * m % n == z:
                consistent.add(seen.resident_id)
        findings.narrow(token.serial, consistent, "the blinding relation holds for only some voters")
    # 4. Order: if the storage order is not the one these rows get anyway when written canonically
    # (so it depends on history), align it with the order the city issued tokens in.
    issued = [r.resident_id for r in city.token_requests]
    if service.physical_order != service.canonical_order:
        for position, serial in enumerate(service.physical_order):
            findings.narrow(serial, {issued[position]}, "the storage order follows the arrival order")
    if service.row_versions and len(set(service.row_versions)) > 1:
        by_version = [b.token.serial for _, b in sorted(zip(service.row_versions, service.ballots, strict=True),
                                                          key=lambda pair: pair[0])]
        for position, serial in enumerate(by_version):
            findings.narrow(serial, {issued[position]}, "row versions (xmin) follow the arrival order")
    # 5. Timestamps the ballot store keeps: any time near the election in its file or rows.
    if _timestamps_near(service.raw, election_time):
        for serial in findings.candidates:
            findings.narrow(serial, set(), "the ballot store keeps times")
    return findings


# -- the election -----------------------------------------------------------------------------------


@dataclass
class Phone:
    """A voter's phone: its device key, and its account at the city's wallet server."""

    key: Key
    token: str = ""
    credential_id: str = ""


async def _wallet_server(tmp_path: Path, stack: Any, session: aiohttp.ClientSession) -> tuple[str, Path]:
    from wallet_server.services.auth import access_token_hash  # noqa: F401 - the server's auth path is real

    port = free_port()
    db = tmp_path / "wallet.db"
    app = create_app(make_settings((f"sqlite:///{db}", None), public_base_url=f"http://127.0.0.1:{port}",
                                   city_signing_key=Key.generate("P-256"), status_list_size=1024,
                                   allow_loopback_http=True))
    await stack.enter_async_context(serve(app, port=port))
    return f"http://127.0.0.1:{port}", db


async def _keep_in_wallet(session: aiohttp.ClientSession, wallet: str, credential: str) -> tuple[Any, str]:
    """The phone enrols at the wallet server and stores its credential there; returns the phone and the id."""
    from tests.e2e._parties import HttpPhone
    from tests.wallet_server._helpers import Clock

    headers = {"Authorization": f"Bearer {OPERATOR_TOKEN}"}
    async with session.post(f"{wallet}/admin/v1/enrolment-codes", json={}, headers=headers) as resp:
        code = (await resp.json())["code"]
    phone = HttpPhone(session, wallet, Clock())
    await phone.enrol(code)
    status, stored = await phone.call("POST", "/v1/credentials", {"format": "dc+sd-jwt", "credential": credential})
    assert status == 201, stored
    return phone, str(stored["id"])


def _rows_sqlite(path: Path) -> list[tuple[Any, ...]]:
    with sqlite3.connect(path) as db:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return [(t, *row) for t in tables for row in db.execute(f'SELECT * FROM "{t}"')]


def _raw(path: Path) -> bytes:
    return b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists())


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def schema(backend: str) -> AsyncIterator[str | None]:
    """A fresh PostgreSQL schema for both stores (dropped after), or None on SQLite."""
    if backend == "sqlite":
        yield None
        return
    name = f"vtcoll_{secrets.token_hex(6)}"
    yield name
    await drop_schema(name)


@pytest.fixture
async def pooled(schema: str | None, aiohttp_server: Any, embedded_chain: EmbeddedChain, tmp_path: Path,
                 caplog: pytest.LogCaptureFixture) -> AsyncIterator[Any]:
    from contextlib import AsyncExitStack

    caplog.set_level(logging.INFO, logger="vcsdk.kyc")
    async with AsyncExitStack() as stack:
        local = await stack.enter_async_context(LocalResidentRegistry(port=0))
        registry = await stack.enter_async_context(ResidentRegistryClient(local.url))
        session = await stack.enter_async_context(aiohttp.ClientSession())
        fetcher = await stack.enter_async_context(HttpStatusListFetcher(allow_loopback_http=True))
        store: BallotStore | None = None
        ledger: IssuanceLedger | None = None
        if schema is not None:
            store = await PostgresBallotStore.open(PG_DSN, schema=schema, max_size=4)
            ledger = await PostgresIssuanceLedger.open(PG_DSN, schema=schema, max_size=4)
        town = await build_town(aiohttp_server, embedded_chain, tmp_path, registry, session, fetcher,
                                store=store, ledger=ledger)
        town.service.min_batch_size = len(VOTERS)  # one batch: the chain says nothing of who voted when
        wallet, wallet_db = await _wallet_server(tmp_path, stack, session)
        yield town, wallet, wallet_db, session, schema, caplog
        await town.resolver.close()


async def test_pooled_city_and_voting_service_data_link_no_ballot(pooled: Any) -> None:
    town, wallet, wallet_db, session, schema, caplog = pooled
    town: Town
    election = town.service.election

    # The city logs everything its token issuer receives and answers (the strongest city).
    seen: list[TokenRequestSeen] = []
    real_issue = town.token_issuer.issue

    async def logging_issue(presentation: str, *, nonce: str, blinded_msg: bytes, now: Any) -> bytes:
        blind_sig = await real_issue(presentation, nonce=nonce, blinded_msg=blinded_msg, now=now)
        resident = await town.ledger.resident_of(election.election_id,
                                                 credential_digest(presentation, election.election_id))
        seen.append(TokenRequestSeen(str(resident), presentation, blinded_msg, blind_sig))
        return blind_sig

    town.token_issuer.issue = logging_issue  # type: ignore[method-assign]

    # Every eligible resident gets a credential and keeps it in the wallet server.
    devices = {rid: Key.generate("P-256") for rid in VOTERS}
    credentials, phones = {}, {}
    for rid in VOTERS:
        credentials[rid] = await town.get_credential(rid, devices[rid])
        phones[rid] = await _keep_in_wallet(session, wallet, credentials[rid])
    town.publish_status()
    town.clock.now = election.opens_at
    # Each votes right after getting the token, in issuance order: the device fetches its credential
    # from the wallet server, then talks to the token issuer and the voting service directly.
    arrival: list[bytes] = []
    for rid, choice in VOTERS.items():
        phone, credential_id = phones[rid]
        status, fetched = await phone.call("GET", f"/v1/credentials/{credential_id}")
        assert status == 200
        token = await town.ballot_token(fetched["credential"], devices[rid])
        await town.cast(token, prepare_ballot(election, choice))
        arrival.append(token.serial)
    town.clock.now = election.closes_at
    publication = dict(await town.service.close(now=town.clock()))

    # -- what the voting service holds, after closing -------------------------------------------
    ballots = await town.store.ballots(election.election_id)
    row_versions: list[int] = []
    tokens = [b.token for b in ballots]
    if schema is None:
        await town.store.close()
        raw = _raw(town.db_path)
        physical = allocation_order(raw, tokens)
        # What the attacker can do with the rows it holds: write them again in serial order, compact.
        replay = await SqliteBallotStore.open(str(town.db_path.with_name("replay.db")))
        for b in sorted(ballots, key=lambda b: b.token.serial):
            await replay.cast(election.election_id, token=b.token, commitment=b.commitment, choice=b.choice,
                              salt=b.salt)
        await replay.close()
        canonical = allocation_order(_raw(town.db_path.with_name("replay.db")), tokens)
    else:
        conn = await asyncpg.connect(PG_DSN, server_settings={"search_path": schema})
        try:
            rows = await conn.fetch("SELECT serial, xmin::text::bigint, ctid::text FROM voting_ballots")
            raw = b"".join(repr(tuple(r)).encode() for r in await conn.fetch("SELECT * FROM voting_ballots"))
        finally:
            await conn.close()
        rows = sorted(rows, key=lambda r: tuple(int(x) for x in r[2].strip("()").split(",")))
        physical = [bytes(r[0]) for r in rows]
        canonical = sorted(physical)  # a compacted table is written in serial order
        by_serial = {bytes(r[0]): int(r[1]) for r in rows}
        row_versions = [by_serial[b.token.serial] for b in ballots]
        await town.store.close()
    service = ServiceHoldings(ballots, raw, physical, canonical, row_versions, publication)

    # -- what the city holds ---------------------------------------------------------------------
    chain_data: list[bytes] = []
    for batch in await town.anchor.batches():
        chain_data += [batch.batch_id, batch.root, batch.tx_hash.encode()]
    for number in range(await town.chain.block_number() + 1):
        block = await town.chain.get_block(number)
        chain_data.append(block.hash)
    if schema is None:
        await town.ledger.close()
        ledger_rows, ledger_raw = _rows_sqlite(town.ledger_path), _raw(town.ledger_path)
    else:
        conn = await asyncpg.connect(PG_DSN, server_settings={"search_path": schema})
        try:
            ledger_rows = [tuple(r) for t in ("voting_credentials", "voting_tokens")
                           for r in await conn.fetch(f"SELECT * FROM {t}")]
        finally:
            await conn.close()
        ledger_raw = repr(ledger_rows).encode()
        await town.ledger.close()
    city = CityHoldings(
        ledger_rows=ledger_rows, ledger_raw=ledger_raw, wallet_rows=_rows_sqlite(wallet_db),
        wallet_raw=_raw(wallet_db), kyc_log=[(r.created, r.getMessage()) for r in caplog.records],
        status_lists=[town.status_list.publish(town.city_key, now=town.clock(), iss=town.city_did)],
        chain=chain_data, credentials=credentials, token_requests=seen,
        token_key=town.token_issuer.token_keys[None].public_key,
    )
    assert [r.resident_id for r in seen] == list(VOTERS)  # the city knows the issuance order
    # The holdings are real: the KYC log, the wallet server's credentials, the ledger's rows.
    assert any("CheckResident" in message for _, message in city.kyc_log)
    assert sum(1 for row in city.wallet_rows if row[0] == "credentials") == len(VOTERS)
    assert len(city.ledger_rows) >= 2 * len(VOTERS) and len(service.ballots) == len(VOTERS)

    findings = link(city, service, election_time=election.opens_at.timestamp())
    assert findings.notes == []
    assert all(c == set(VOTERS) for c in findings.candidates.values()), findings.candidates
    assert len(findings.candidates) == len(VOTERS)

    # -- the controls: each attack does link when its property is broken ---------------------------
    # Storage in arrival order (an uncompacted store): the order attack links every ballot.
    arrival_store = ServiceHoldings(ballots, b"", arrival, canonical, [], publication)
    if arrival != canonical:
        linked = link(city, arrival_store, election_time=0)
        assert all(linked.candidates[serial] == {rid} for serial, rid in zip(arrival, VOTERS, strict=True))
    # An unblinded request (blinded_msg = the encoded message itself): signature matching links it.
    token_of = {b.token.serial: b for b in ballots}
    first = token_of[arrival[0]].token
    n, e = city.token_key.public_numbers().n, city.token_key.public_numbers().e
    leaky = TokenRequestSeen(seen[0].resident_id, "", pow(int.from_bytes(first.signature, "big"), e, n).to_bytes(
        256, "big"), first.signature)
    linked = link(CityHoldings(**{**city.__dict__, "token_requests": [leaky, *seen[1:]]}), service,
                  election_time=0)
    assert linked.candidates[first.serial] == {seen[0].resident_id}
    # A ballot store that keeps a credential-derived value (the old nullifier) next to the ballot.
    old = credential_digest(credentials[seen[1].resident_id], election.election_id)
    linked = link(city, ServiceHoldings(ballots, service.raw + old, physical, canonical, [], publication),
                  election_time=0)
    assert all(c <= {seen[1].resident_id} for c in linked.candidates.values())
    # A ballot store that keeps times.
    # (set apart from whatever the file ends with: trailing digits of the raw bytes would otherwise
    # shift where a ten-digit match starts, and the control would fail at random)
    stamp = b" " + str(int(election.opens_at.timestamp()) + 60).encode() + b" "
    linked = link(city, ServiceHoldings(ballots, service.raw + stamp, physical, canonical, [], publication),
                  election_time=election.opens_at.timestamp())
    assert all(c == set() for c in linked.candidates.values())
