"""wallet_server under load on loopback, against a bare aiohttp app measured in the same run.

For each database (SQLite, PostgreSQL) and each number of server processes (1, 2) it starts
``python -m wallet_server --workers N`` on a free 127.0.0.1 port, enrols residents through the
API and measures with a keep-alive HTTP/1.1 load generator (``bench/_http_load.py``):

- ``read``: ``GET /v1/credentials?limit=20`` of a resident holding 20 SD-JWT VCs;
- ``write``: ``POST /v1/credentials`` (a 1 KiB SD-JWT VC);
- ``flow``: one presentation to a third-party service on loopback: start + consent + signature
  (the wallet fetches the signed request, the service verifies the presentation and answers with
  a signed access receipt the wallet checks and stores). The service is an SDK ``Verifier`` and
  ``ReceiptDesk`` in its own process, a did:jwk registered by the city through the back office;
  the resident is the reader's, holding 20 credentials. ``--flow-concurrency`` flows run at once;
- the p99 latency of reads and writes at 70 % of the measured maximum rate (open loop).

Every authenticated request carries its own DPoP proof, signed before the run. The reference is a
bare aiohttp app with the same number of processes answering a GET with the same body and a POST
that reads a JSON body, on aiohttp's default (asyncio) event loop; the wallet server runs on its
default, uvloop (setting ``event_loop``): the ratios ``<route>_vs_bare`` compare the two in the same run (a flow is
compared with three bare requests). The last line is the PostgreSQL, one-process figure:
``read_vs_bare=<r> write_vs_bare=<r> flow_vs_bare=<r>``.

``VCSDK_BENCH_QUICK=1`` runs a short round on both databases with one process.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
from _http_load import LoadResult, closed_loop, open_loop, raw_request  # bench/ is the script's directory

from vcsdk._b64 import b64url_encode
from vcsdk.credentials import issue_sd_jwt_vc
from vcsdk.did import did_jwk_for
from vcsdk.keys import Key, sign_jws
from vcsdk.registry import DevChain, DevNode, deploy_contracts, key_address

QUICK = os.environ.get("VCSDK_BENCH_QUICK") == "1"
PG_DSN = os.environ.get("VCSDK_BENCH_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")
HOST = "127.0.0.1"
CREDENTIALS = 20
ADMIN_TOKEN = "bench-admin-" + secrets.token_urlsafe(16)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


# -- the bare reference ------------------------------------------------------------------------


def serve_bare(port: int, body: bytes, processes: int, floor_schema: str | None = None) -> None:
    """The reference: aiohttp answering a fixed JSON body, and a POST that parses its JSON body;
    ``processes`` processes share the port (``SO_REUSEPORT``), the way the wallet server's workers do.

    With ``floor_schema`` (PostgreSQL) the same app also serves the floor of an authenticated
    request at ``/v1/credentials``: the DPoP proof's ES256 signature checked with the key in its
    header, then one statement that records its ``jti`` and reads 20 rows (GET) or stores the body
    (POST), the fixed body answered. Nothing else a real server does (access token, claims, paging,
    encryption, logs, metrics) is in it."""
    from aiohttp import web

    async def read(request: web.Request) -> web.Response:
        return web.Response(body=body, content_type="application/json")

    async def write(request: web.Request) -> web.Response:
        value = json.loads(await request.read())
        return web.json_response({"id": secrets.token_hex(8), "size": len(value)}, status=201)

    children = []
    for _ in range(processes - 1):
        pid = os.fork()
        if pid == 0:
            break
        children.append(pid)
    app = web.Application()
    app.add_routes([web.get("/bare", read), web.post("/bare", write)])
    if floor_schema is not None:
        _add_floor(app, body, floor_schema)
    try:
        web.run_app(app, host=HOST, port=port, access_log=None, print=None, reuse_port=True)
    finally:
        for pid in children:
            os.kill(pid, signal.SIGINT)
            os.waitpid(pid, 0)


def _add_floor(app: Any, body: bytes, schema: str) -> None:
    from aiohttp import web
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

    from vcsdk._b64 import b64url_decode

    keys: dict[tuple[str, str], ec.EllipticCurvePublicKey] = {}
    ecdsa = ec.ECDSA(hashes.SHA256())

    def checked_jti(request: web.Request) -> str:
        header, payload, signature = request.headers["DPoP"].split(".")
        jwk = json.loads(b64url_decode(header))["jwk"]
        key = keys.get((jwk["x"], jwk["y"]))
        if key is None:
            numbers = ec.EllipticCurvePublicNumbers(
                int.from_bytes(b64url_decode(jwk["x"]), "big"), int.from_bytes(b64url_decode(jwk["y"]), "big"),
                ec.SECP256R1(),
            )  # fmt: skip
            key = keys[(jwk["x"], jwk["y"])] = numbers.public_key()
        raw = b64url_decode(signature)
        der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
        try:
            key.verify(der, f"{header}.{payload}".encode(), ecdsa)
        except InvalidSignature:
            raise web.HTTPUnauthorized() from None
        return str(json.loads(b64url_decode(payload))["jti"])

    async def floor_read(request: web.Request) -> web.Response:
        jti = checked_jti(request)
        async with app["floor_pool"].acquire() as conn:
            rows = await conn.fetch(
                "WITH p AS (INSERT INTO jtis VALUES ($1) ON CONFLICT DO NOTHING RETURNING 1) "
                "SELECT id, format, created_at FROM items WHERE EXISTS (SELECT 1 FROM p) ORDER BY created_at LIMIT 20",
                jti,
            )
        if not rows:
            raise web.HTTPUnauthorized()
        return web.Response(body=body, content_type="application/json")

    async def floor_write(request: web.Request) -> web.Response:
        jti = checked_jti(request)
        value = json.loads(await request.read())
        async with app["floor_pool"].acquire() as conn:
            stored = await conn.execute(
                "WITH p AS (INSERT INTO jtis VALUES ($1) ON CONFLICT DO NOTHING RETURNING 1) "
                "INSERT INTO stored SELECT $2, $3 WHERE EXISTS (SELECT 1 FROM p)",
                jti, secrets.token_hex(8), value["credential"],
            )  # fmt: skip
        if stored != "INSERT 0 1":
            raise web.HTTPUnauthorized()
        return web.json_response({"id": secrets.token_hex(8)}, status=201)

    async def pool(app: web.Application) -> Any:
        async def keep_session(conn: Any) -> None:  # as the server's pool: no RESET ALL per release
            return None

        app["floor_pool"] = await asyncpg.create_pool(PG_DSN, min_size=10, max_size=10, reset=keep_session,
                                                      server_settings={"search_path": schema})  # fmt: skip
        yield
        await app["floor_pool"].close()

    app.cleanup_ctx.append(pool)
    app.add_routes([web.get("/v1/credentials", floor_read), web.post("/v1/credentials", floor_write)])


async def _create_floor_schema(schema: str) -> None:
    conn = await asyncpg.connect(PG_DSN)
    try:
        await conn.execute(f"CREATE SCHEMA {schema}")
        await conn.execute(f"SET search_path TO {schema}")
        await conn.execute("CREATE TABLE jtis (jti text PRIMARY KEY)")
        await conn.execute("CREATE TABLE items (id text PRIMARY KEY, format text, created_at double precision)")
        await conn.execute("CREATE TABLE stored (id text PRIMARY KEY, body text)")
        await conn.executemany("INSERT INTO items VALUES ($1, 'dc+sd-jwt', $2)",
                               [(secrets.token_hex(8), time.time() + n) for n in range(CREDENTIALS)])  # fmt: skip
    finally:
        await conn.close()


@contextlib.contextmanager
def bare_servers(processes: int, body: bytes, *, floor: bool = False) -> Iterator[tuple[int, int]]:
    """``processes`` bare servers sharing one port; yields the port and the first one's process id
    (they are started by one parent, this script, so their CPU is summed through it). With
    ``floor``, they also serve the floor of an authenticated request (see :func:`serve_bare`)."""
    port = free_port()
    body_file = Path(os.environ.get("TMPDIR", "/tmp")) / f"bench-bare-{port}.json"
    body_file.write_bytes(body)
    schema = f"bench_floor_{secrets.token_hex(4)}" if floor else ""
    if floor:
        asyncio.run(_create_floor_schema(schema))
    command = [sys.executable, __file__, "--serve-bare", str(port), str(body_file), str(processes), schema]
    parent = subprocess.Popen(command)
    try:
        asyncio.run(_wait_up(f"http://{HOST}:{port}/bare"))
        yield port, parent.pid
    finally:
        parent.send_signal(signal.SIGINT)
        parent.wait(timeout=30)
        body_file.unlink()
        if floor:
            asyncio.run(_drop_schema(schema))


# -- the third-party service -------------------------------------------------------------------


def serve_service(config_file: Path) -> None:
    """A third-party service built with the SDK, in its own process: a did:jwk, a ``Verifier`` that
    checks each presentation (issuer signature, holder binding, audience and nonce), a receipt
    endpoint signing access receipts with the SDK's ``ReceiptDesk`` (kept until the wallet confirms),
    and ``POST /links`` that makes request links ahead of a measured slice. It reads the wallet's
    consent record without checking the city's signature on it (the bench measures the wallet)."""
    from aiohttp import web

    from vcsdk.credentials import verify_presentation
    from vcsdk.ethr import Resolver
    from vcsdk.oid4vc import InMemoryStateStore, PresentationResult, Verifier, verifier_routes
    from vcsdk.receipts import CONSENT_HEADER, ReceiptDesk, peek_consent_record

    config = json.loads(config_file.read_text())
    did, base = config["did"], f"http://{HOST}:{config['port']}"
    key = Key.from_jwk(config["key"]).with_kid(f"{did}#0")

    def clock() -> datetime:
        return datetime.now(UTC)

    resolver = Resolver(methods=("key", "jwk"))

    async def verify(presentation: str, *, audience: str, nonce: str) -> Any:
        return await verify_presentation(presentation, audience=audience, nonce=nonce, resolver=resolver, now=clock())

    verifier = Verifier(did=did, signer=key, response_uri=f"{base}/response", request_uri_base=f"{base}/request",
                        store=InMemoryStateStore(), verify=verify, name="Bench Shop",
                        registration=config["registration"])  # fmt: skip
    desk = ReceiptDesk(key)

    async def on_result(result: PresentationResult) -> dict[str, Any]:
        return {"receipt_uri": f"{base}/receipts/{result.request_id}"}

    async def receipt(request: web.Request) -> web.Response:
        consent = peek_consent_record((await request.json())["consent_record"])
        token = await desk.receipt(request.match_info["request_id"], consent=consent,
                                   claims=consent.claims_disclosed, purpose=PURPOSE_ID, now=clock())  # fmt: skip
        return web.json_response({"access_receipt": token})

    async def receipt_again(request: web.Request) -> web.Response:
        kept = await desk.again(request.match_info["request_id"], consent_id=request.headers.get(CONSENT_HEADER))
        return web.json_response({"access_receipt": kept})

    async def receipt_confirmed(request: web.Request) -> web.Response:
        await desk.confirmed(request.match_info["request_id"], consent_id=request.headers.get(CONSENT_HEADER))
        return web.Response(status=204)

    async def links(request: web.Request) -> web.Response:
        count = int((await request.json())["n"])
        made = [(await verifier.create_request(FLOW_QUERY, purpose=PURPOSE_ID, now=clock())).deep_link
                for _ in range(count)]  # fmt: skip
        return web.json_response({"links": made})

    app = web.Application()
    app.add_routes([
        *verifier_routes(verifier, clock=clock, on_result=on_result),
        web.post("/receipts/{request_id}", receipt), web.get("/receipts/{request_id}", receipt_again),
        web.delete("/receipts/{request_id}", receipt_confirmed), web.post("/links", links),
    ])  # fmt: skip
    web.run_app(app, host=HOST, port=config["port"], access_log=None, print=None)


@contextlib.contextmanager
def service(wallet_base: str, workdir: Path) -> Iterator[str]:
    """The service, registered by the city through the wallet's back office; yields its base URL."""
    port = free_port()
    base = f"http://{HOST}:{port}"
    key = Key.generate("P-256")
    did = did_jwk_for(key.public_key())
    registration = asyncio.run(_register(wallet_base, did, base))
    config_file = workdir / f"service-{port}.json"
    config_file.write_text(json.dumps({"did": did, "port": port, "key": key.private_jwk(),
                                       "registration": registration}))  # fmt: skip
    proc = subprocess.Popen([sys.executable, __file__, "--serve-service", str(config_file)])
    try:
        asyncio.run(_wait_up(f"{base}/links"))
        yield base
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)


async def _register(wallet_base: str, did: str, base: str) -> str:
    body = {
        "service_did": did, "name": "Bench Shop", "purposes": [{"id": PURPOSE_ID, "description": "Age check"}],
        "claim_sets": [{"id": "age", "vct": VCT, "paths": [["age_over_20"]]},
                       {"id": "locality", "vct": VCT, "paths": [["address", "locality"]]}],
        "retention_days": 30, "receipt_endpoint": f"{base}/withdrawals", "privacy_policy": f"{base}/privacy",
    }  # fmt: skip
    async with aiohttp.ClientSession() as session:
        headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        async with session.post(f"{wallet_base}/admin/v1/services", json=body, headers=headers) as resp:
            assert resp.status == 201, await resp.text()
            return str((await resp.json())["registration"])


async def _links(service_base: str, count: int) -> list[str]:
    async with aiohttp.ClientSession() as session, session.post(f"{service_base}/links", json={"n": count}) as resp:
        assert resp.status == 200, await resp.text()
        return list((await resp.json())["links"])


async def run_flows(
    base: str, phone: Phone, links: list[str], *, seconds: float, concurrency: int
) -> tuple[int, float]:
    """Presentation flows (start, consent, signature: the wallet fetches the request, answers the
    service and stores its signed receipt), ``concurrency`` at a time for ``seconds``; returns how
    many ended shared and the time taken."""
    done = 0
    pending = iter(links)
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def call(method: str, path: str, body: dict[str, Any]) -> Any:
            async with session.request(method, base + path, json=body, headers=phone.headers(method, path)) as resp:
                answer = await resp.json()
                if resp.status >= 300:
                    raise RuntimeError(f"flow: {method} {path} answered {resp.status}: {answer}")
                return answer

        async def one(link: str) -> None:
            screen = await call("POST", "/v1/presentations", {"request_uri": link})
            if screen["state"] != "consent_required":
                raise RuntimeError(f"flow: the presentation started {screen['state']}: {screen.get('outcome')}")
            path = f"/v1/presentations/{screen['id']}"
            consent = await call("POST", f"{path}/consent", {})
            signatures = [{"query_id": s["query_id"],
                           "signature": b64url_encode(phone.key.sign(s["signing_input"].encode("ascii")))}
                          for s in consent["signing_inputs"]]  # fmt: skip
            final = await call("POST", f"{path}/signature", {"signatures": signatures})
            if final["state"] != "shared" or "receipt_id" not in (final.get("outcome") or {}):
                raise RuntimeError(f"flow: the presentation ended {final['state']}: {final.get('outcome')}")

        started = time.perf_counter()
        deadline = started + seconds

        async def worker() -> None:
            nonlocal done
            while time.perf_counter() < deadline and (link := next(pending, None)) is not None:
                await one(link)
                done += 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return done, time.perf_counter() - started


# -- the wallet server -------------------------------------------------------------------------


@dataclass
class Wallet:
    port: int
    pid: int


async def _wait_up(url: str, *, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as session:
        while True:
            try:
                async with session.get(url) as resp:
                    if resp.status < 500:
                        return
            except aiohttp.ClientError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url} did not come up")
            await asyncio.sleep(0.2)


async def _deploy_city(url: str, workdir: Path) -> dict[str, str]:
    """Fund a city key on the dev node and deploy the contracts, as ``vcsdk deploy`` does."""
    city_key = Key.generate("secp256k1")
    chain = await DevChain.connect(url, mine_to_confirm=True)
    try:
        await chain.fund(key_address(city_key), 10**20)
    finally:
        await chain.close()
    config = await deploy_contracts(url, city_key)
    path = workdir / f"network-{secrets.token_hex(4)}.json"
    path.write_text(json.dumps(config))
    return {
        "VCSDK_WALLET_RPC_URL": url,
        "VCSDK_WALLET_NETWORK_CONFIG": str(path),
        "VCSDK_WALLET_CITY_KEY": json.dumps(city_key.private_jwk()),
        "VCSDK_WALLET_CITY_SIGNING_KEY": json.dumps(Key.generate("P-256").private_jwk()),
    }


@contextlib.contextmanager
def chain_node(processes: int, workdir: Path) -> Iterator[dict[str, str]]:
    """One process: the embedded chain. Several: every worker must see one chain, so an anvil dev
    node (from tools/node_modules) with the contracts deployed."""
    if processes == 1:
        yield {}
        return
    with DevNode.start(tools_dir=Path(__file__).resolve().parents[1] / "tools", startup_timeout=60.0) as node:
        yield asyncio.run(_deploy_city(node.url, workdir))


@contextlib.contextmanager
def wallet_server(backend: str, processes: int, workdir: Path) -> Iterator[Wallet]:
    with chain_node(processes, workdir) as chain_env, _wallet_process(backend, processes, workdir, chain_env) as w:
        yield w


@contextlib.contextmanager
def _wallet_process(backend: str, processes: int, workdir: Path, chain_env: dict[str, str]) -> Iterator[Wallet]:
    port = free_port()
    schema = f"bench_{secrets.token_hex(4)}"
    url = f"sqlite:///{workdir / f'wallet-{port}.db'}" if backend == "sqlite" else PG_DSN
    signing = Key.generate("P-256").private_jwk()
    data_key = b64url_encode(os.urandom(32))
    digest = hashlib.sha256(ADMIN_TOKEN.encode()).hexdigest()
    env = {
        **os.environ,
        "VCSDK_WALLET_DATABASE_URL": url,
        "VCSDK_WALLET_TOKEN_SIGNING_KEYS": json.dumps(signing),
        "VCSDK_WALLET_DATA_KEYS": f"bench:{data_key}",
        "VCSDK_WALLET_ADMIN_TOKENS": f"bench:{digest}:operator+issuer",
        "VCSDK_WALLET_IP_RATE_LIMIT": "1000000/1000000",
        "VCSDK_WALLET_DEVICE_RATE_LIMIT": "1000000/1000000",
        "VCSDK_WALLET_ALLOW_LOOPBACK_HTTP": "true",
        "VCSDK_WALLET_HOST": HOST,
        "VCSDK_WALLET_PORT": str(port),
        "VCSDK_WALLET_WORKERS": str(processes),
        **chain_env,
    }
    if backend == "postgres":
        env["VCSDK_WALLET_DATABASE_SCHEMA"] = schema
    proc = subprocess.Popen(
        [sys.executable, "-m", "wallet_server"], env=env, stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL
    )
    try:
        asyncio.run(_wait_up(f"http://{HOST}:{port}/health"))
        yield Wallet(port, proc.pid)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if backend == "postgres":
            asyncio.run(_drop_schema(schema))


async def _drop_schema(schema: str) -> None:
    conn = await asyncpg.connect(PG_DSN)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()


# -- a resident's phone ------------------------------------------------------------------------


def _b64json(value: dict[str, Any]) -> str:
    return b64url_encode(json.dumps(value, separators=(",", ":")).encode())


@dataclass
class Phone:
    base: str
    key: Key
    device_id: str = ""
    resident_id: str = ""
    access_token: str = ""

    def __post_init__(self) -> None:
        self._header = _b64json({"alg": "ES256", "typ": "dpop+jwt", "jwk": self.key.public_jwk()})

    def proof(self, method: str, path: str) -> str:
        """A DPoP proof (RFC 9449) for one request, with the access token's hash."""
        ath = b64url_encode(hashlib.sha256(self.access_token.encode()).digest())
        claims = {"htm": method, "htu": self.base + path.split("?")[0], "iat": int(time.time()),
                  "jti": secrets.token_urlsafe(12), "ath": ath}  # fmt: skip
        signing_input = f"{self._header}.{_b64json(claims)}"
        return f"{signing_input}.{b64url_encode(self.key.sign(signing_input.encode()))}"

    def headers(self, method: str, path: str) -> dict[str, str]:
        return {"Authorization": f"DPoP {self.access_token}", "DPoP": self.proof(method, path)}

    def raw(self, method: str, path: str, body: bytes = b"") -> bytes:
        headers = self.headers(method, path)
        if body:
            headers["Content-Type"] = "application/json"
        return raw_request(method, self.base.removeprefix("http://"), path, headers=headers, body=body)


async def enrol(session: aiohttp.ClientSession, base: str) -> Phone:
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    async with session.post(f"{base}/admin/v1/enrolment-codes", json={}, headers=admin) as resp:
        assert resp.status == 201, await resp.text()
        code = (await resp.json())["code"]
    phone = Phone(base, Key.generate("P-256"))
    body = {"code": code, "public_jwk": phone.key.public_jwk(), "name": "bench"}
    async with session.post(f"{base}/v1/enrolment", json=body) as resp:
        assert resp.status == 201, await resp.text()
        enrolled = await resp.json()
    phone.device_id, phone.resident_id = enrolled["device"]["id"], enrolled["resident_id"]
    async with session.post(f"{base}/v1/auth/challenge") as resp:
        nonce = (await resp.json())["nonce"]
    # The server's issuer (access-token aud) is its default; the login assertion names it.
    assertion = sign_jws({"nonce": nonce, "aud": "vcsdk-wallet", "iat": int(time.time())}, phone.key,
                         typ="wallet-auth+jwt")  # fmt: skip
    async with session.post(f"{base}/v1/auth/token", json={"device_id": phone.device_id, "assertion": assertion}) as r:
        assert r.status == 200, await r.text()
        phone.access_token = (await r.json())["access_token"]
    return phone


ISSUER_KEY = Key.generate("P-256")
ISSUER_DID = did_jwk_for(ISSUER_KEY.public_key())
VCT = "https://credentials.city.test/ResidentIdentityCredential"
PURPOSE_ID = "age_check"
#: What the service asks of a presentation: two claims of the resident credential.
FLOW_QUERY: dict[str, Any] = {
    "credentials": [{"id": "resident", "format": "dc+sd-jwt", "meta": {"vct_values": [VCT]},
                     "claims": [{"path": ["age_over_20"]}, {"path": ["address", "locality"]}]}]
}  # fmt: skip


def credential(n: int, holder: Key) -> str:
    """A real SD-JWT VC of about 1 KiB, different for every ``n``."""
    return issue_sd_jwt_vc(
        {"given_name": "Hanako", "family_name": "Kaga", "age_over_20": True, "card_number": n,
         "address": {"locality": "Kaga", "postal_code": "922-0000"}},
        issuer=ISSUER_DID, signer=ISSUER_KEY.with_kid(f"{ISSUER_DID}#0"), vct=VCT,
        disclosable=[("given_name",), ("family_name",), ("age_over_20",), ("address", "locality"),
                     ("address", "postal_code")],
        holder_key=holder.public_key(), now=datetime.now(UTC), expires_at=datetime.now(UTC) + timedelta(days=30),
    )  # fmt: skip


def store_body(n: int, holder: Key) -> bytes:
    return json.dumps({"credential": credential(n, holder), "format": "dc+sd-jwt",
                       "metadata": {"display": f"card {n}"}}).encode()  # fmt: skip


# -- measuring ---------------------------------------------------------------------------------


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its children (the worker processes), from /proc."""
    total = 0.0
    pids = [pid]
    with contextlib.suppress(OSError):
        pids += [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    ticks = os.sysconf("SC_CLK_TCK")
    for one in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{one}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / ticks
    return total


@dataclass
class Tally:
    """Answers, time and server CPU summed over the slices of one kind of request on one server."""

    ok: int = 0
    elapsed: float = 0.0
    cpu: float = 0.0

    @property
    def rate(self) -> float:
        return self.ok / self.elapsed if self.elapsed else 0.0

    @property
    def cpu_us(self) -> float:
        """Server CPU microseconds per answer."""
        return self.cpu / self.ok * 1e6 if self.ok else 0.0


def _check(result: LoadResult, what: str) -> None:
    bad = {s: n for s, n in result.statuses.items() if not 200 <= s < 400}
    if bad:
        raise RuntimeError(f"{what}: unexpected answers {bad}")


@dataclass
class Target:
    """One server and one kind of request: how to make the n-th request, and whose CPU to count."""

    port: int
    pid: int
    make: Any
    tally: Tally


def _slice(target: Target, *, seconds: float, connections: int, expected: float, what: str) -> None:
    requests = [target.make(i) for i in range(int(expected * seconds * 1.5) + 300)]
    cpu = _cpu_seconds(target.pid)
    result = asyncio.run(closed_loop(HOST, target.port, iter(requests), connections=connections, duration=seconds))
    _check(result, what)
    target.tally.cpu += _cpu_seconds(target.pid) - cpu
    target.tally.ok += result.ok
    target.tally.elapsed += result.elapsed


def interleave(targets: list[Target], *, rounds: int, seconds: float, connections: int, what: str) -> None:
    """Maximum rates, slice by slice in turn, so that load from others on the machine hits every
    server alike."""
    for _ in range(rounds):
        for target in targets:
            expected = target.tally.rate or 3000.0
            _slice(target, seconds=seconds, connections=connections, expected=expected, what=what)


def p99_at(target: Target, *, fraction: float, seconds: float, connections: int, what: str) -> float:
    """The p99 latency in ms at ``fraction`` of the measured maximum rate (open loop)."""
    rate = fraction * target.tally.rate
    requests = [target.make(i) for i in range(int(rate * seconds * 1.1) + 200)]
    paced = asyncio.run(open_loop(HOST, target.port, iter(requests), rate=rate, connections=connections,
                                  duration=seconds))  # fmt: skip
    _check(paced, what)
    return paced.percentile(0.99) * 1000


async def _prepare_wallet(base: str) -> tuple[Phone, Phone, bytes]:
    async with aiohttp.ClientSession() as session:
        reader = await enrol(session, base)
        for n in range(CREDENTIALS):
            async with session.post(f"{base}/v1/credentials", data=store_body(n, reader.key),
                                    headers={**reader.headers("POST", "/v1/credentials"),
                                             "Content-Type": "application/json"}) as resp:  # fmt: skip
                assert resp.status == 201, await resp.text()
        path = f"/v1/credentials?limit={CREDENTIALS}"
        async with session.get(f"{base}{path}", headers=reader.headers("GET", path)) as resp:
            assert resp.status == 200, await resp.text()
            listing = await resp.read()
        writer = await enrol(session, base)
    return reader, writer, listing


@dataclass
class Row:
    backend: str
    processes: int
    tallies: dict[str, Tally]
    p99: dict[str, float]

    def ratio(self, kind: str) -> float:
        if kind == "flow":  # one flow against three bare requests (the POST, which reads a body)
            return self.tallies["flow"].rate * 3 / self.tallies["bare_write"].rate
        return self.tallies[kind].rate / self.tallies[f"bare_{kind}"].rate

    def ratios(self) -> str:
        return " ".join(f"{kind}_vs_bare={self.ratio(kind):.3f}" for kind in ("read", "write", "flow"))

    def describe(self) -> str:
        parts = [f"{self.backend} processes={self.processes}:"]
        for kind in ("read", "write"):
            mine, bare = self.tallies[kind], self.tallies[f"bare_{kind}"]
            floor = self.tallies[f"floor_{kind}"]
            shown_floor = (f", floor {floor.rate:.0f}/s ({floor.cpu_us:.0f} us, {floor.rate / bare.rate:.3f} of bare)"
                           if floor.ok else "")  # fmt: skip
            parts.append(f"{kind} {mine.rate:.0f}/s ({mine.cpu_us:.0f} us CPU each, p99 {self.p99[kind]:.1f} ms at 70%)"
                         f" vs bare {bare.rate:.0f}/s ({bare.cpu_us:.0f} us){shown_floor};")  # fmt: skip
        flow = self.tallies["flow"]
        parts.append(f"flow {flow.rate:.1f}/s ({flow.cpu_us / 1000:.1f} ms CPU each);")
        parts.append(self.ratios())
        return " ".join(parts)


def measure_pair(backend: str, processes: int, workdir: Path, args: argparse.Namespace) -> Row:
    seconds = 1.0 if QUICK else args.seconds
    rounds = 1 if QUICK else args.rounds
    write_body = store_body(0, Key.generate("P-256"))
    kinds = ("read", "bare_read", "floor_read", "write", "bare_write", "floor_write", "flow")
    tallies = {k: Tally() for k in kinds}
    p99: dict[str, float] = {}
    floor = backend == "postgres"
    with wallet_server(backend, processes, workdir) as wallet:
        base = f"http://{HOST}:{wallet.port}"
        reader, writer, listing = asyncio.run(_prepare_wallet(base))
        path = f"/v1/credentials?limit={CREDENTIALS}"
        with bare_servers(processes, listing, floor=floor) as (bare_port, bare_pid):
            get = raw_request("GET", f"{HOST}:{bare_port}", "/bare")
            post = raw_request("POST", f"{HOST}:{bare_port}", "/bare", headers={"Content-Type": "application/json"},
                               body=write_body)  # fmt: skip
            reads = [Target(wallet.port, wallet.pid, lambda i: reader.raw("GET", path), tallies["read"]),
                     Target(bare_port, bare_pid, lambda i: get, tallies["bare_read"])]  # fmt: skip
            writes = [Target(wallet.port, wallet.pid, lambda i: writer.raw("POST", "/v1/credentials", write_body),
                             tallies["write"]),
                      Target(bare_port, bare_pid, lambda i: post, tallies["bare_write"])]  # fmt: skip
            if floor:  # the same requests (their own proofs) to the floor on the bare server
                floor_reader = Phone(f"http://{HOST}:{bare_port}", reader.key, access_token=reader.access_token)
                floor_writer = Phone(f"http://{HOST}:{bare_port}", writer.key, access_token=writer.access_token)
                floor_get = lambda i: floor_reader.raw("GET", path)  # noqa: E731
                floor_post = lambda i: floor_writer.raw("POST", "/v1/credentials", write_body)  # noqa: E731
                reads.append(Target(bare_port, bare_pid, floor_get, tallies["floor_read"]))
                writes.append(Target(bare_port, bare_pid, floor_post, tallies["floor_write"]))
            interleave(reads, rounds=rounds, seconds=seconds, connections=args.connections, what="read")
            interleave(writes, rounds=rounds, seconds=seconds, connections=args.connections, what="write")
            for kind, target in (("read", reads[0]), ("write", writes[0])):
                p99[kind] = p99_at(target, fraction=0.7, seconds=seconds * 2, connections=args.connections, what=kind)
        with service(base, workdir) as service_base:
            flow = tallies["flow"]
            for _ in range(rounds):
                links = asyncio.run(_links(service_base, int((flow.rate or 100.0) * seconds * 1.5) + 20))
                cpu = _cpu_seconds(wallet.pid)
                done, elapsed = asyncio.run(run_flows(base, reader, links, seconds=seconds,
                                                      concurrency=args.flow_concurrency))  # fmt: skip
                flow.cpu += _cpu_seconds(wallet.pid) - cpu
                flow.ok += done
                flow.elapsed += elapsed
    return Row(backend, processes, tallies, p99)


def run(args: argparse.Namespace) -> None:
    backends = ["sqlite", "postgres"] if not args.backends else args.backends.split(",")
    process_counts = [1] if QUICK else [int(p) for p in args.processes.split(",")]
    rows: list[Row] = []
    workdir = Path(os.environ.get("TMPDIR", "/tmp")) / f"bench-wallet-{secrets.token_hex(4)}"
    workdir.mkdir()
    print(f"load: {args.connections} keep-alive connections, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f} at start; the server on uvloop, bare aiohttp on asyncio's loop",
          flush=True)  # fmt: skip
    try:
        for backend in backends:
            for processes in process_counts:
                row = measure_pair(backend, processes, workdir, args)
                rows.append(row)
                print(row.describe(), flush=True)
    finally:
        for path in workdir.iterdir():
            path.unlink()
        workdir.rmdir()
    main_row = next((r for r in rows if (r.backend, r.processes) == ("postgres", 1)), rows[0])
    print(main_row.ratios())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="length of each measured slice")
    parser.add_argument("--rounds", type=int, default=3, help="slices per server and kind of request")
    parser.add_argument("--connections", type=int, default=32, help="keep-alive connections of the load generator")
    parser.add_argument("--backends", default="", help="sqlite,postgres (default both)")
    parser.add_argument("--processes", default="1,2", help="server process counts to measure")
    parser.add_argument("--flow-concurrency", type=int, default=8, help="presentation flows run at once")
    parser.add_argument("--serve-service", metavar="CONFIG_FILE", help=argparse.SUPPRESS)
    parser.add_argument("--serve-bare", nargs=4, metavar=("PORT", "BODY_FILE", "PROCESSES", "FLOOR_SCHEMA"),
                        help=argparse.SUPPRESS)  # fmt: skip
    args = parser.parse_args()
    if args.serve_service:
        serve_service(Path(args.serve_service))
        return
    if args.serve_bare:
        port, body_file, processes, floor_schema = args.serve_bare
        serve_bare(int(port), Path(body_file).read_bytes(), int(processes), floor_schema or None)
        return
    run(args)


if __name__ == "__main__":
    main()
