"""``python -m wallet_server --workers 2`` as the load benchmark starts it (an anvil node, the city's
contracts deployed, SQLite or PostgreSQL): a service registered through the back office is answered by
every worker, and no worker stops at start (``database is locked``, ``nonce too low``).

Which worker answers is read from ``/proc``: the worker process that holds the accepted socket of
the test's connection."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import aiohttp
import pytest

from vcsdk._b64 import b64url_encode

pytestmark = [pytest.mark.slow, pytest.mark.integration]

BENCH = Path(__file__).resolve().parents[2] / "bench"


def _bench() -> ModuleType:
    """bench/wallet_server.py (the module name would shadow the wallet_server package)."""
    sys.path.insert(0, str(BENCH))  # its _http_load
    spec = importlib.util.spec_from_file_location("bench_wallet_server", BENCH / "wallet_server.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def _workers(pid: int) -> list[int]:
    return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def _worker_of(workers: list[int], server_port: int, client_port: int) -> int:
    """The worker holding the server side of the TCP connection from ``client_port``."""
    inode = None
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote = int(fields[1].split(":")[1], 16), int(fields[2].split(":")[1], 16)
        if (local, remote) == (server_port, client_port):
            inode = fields[9]
    assert inode is not None, "the connection is not in /proc/net/tcp"
    for pid in workers:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                if os.readlink(fd) == f"socket:[{inode}]":
                    return pid
            except OSError:
                continue
    raise AssertionError("no worker holds the connection")


async def _present(bench: Any, base: str, phone: Any, link: str, workers: list[int], port: int) -> int:
    """One presentation on a kept-alive connection of its own, to the end; returns the worker that
    answered it."""
    client_port = bench.free_port()
    connector = aiohttp.TCPConnector(limit=1, local_addr=(bench.HOST, client_port))
    async with aiohttp.ClientSession(connector=connector) as session:

        async def call(method: str, path: str, body: dict[str, Any]) -> Any:
            async with session.request(method, base + path, json=body, headers=phone.headers(method, path)) as resp:
                answer = await resp.json()
                assert resp.status < 300, answer
                return answer

        screen = await call("POST", "/v1/presentations", {"request_uri": link})
        worker = _worker_of(workers, port, client_port)  # the connection is kept alive
        assert screen["state"] == "consent_required", (worker, screen.get("outcome"))
        path = f"/v1/presentations/{screen['id']}"
        consent = await call("POST", f"{path}/consent", {})
        signatures = [{"query_id": s["query_id"],
                       "signature": b64url_encode(phone.key.sign(s["signing_input"].encode("ascii")))}
                      for s in consent["signing_inputs"]]  # fmt: skip
        final = await call("POST", f"{path}/signature", {"signatures": signatures})
        assert final["state"] == "shared" and "receipt_id" in final["outcome"], final
        return worker


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_every_worker_answers_a_service_registered_through_another(tmp_path: Path, backend: str) -> None:
    bench = _bench()
    log = tmp_path / "server.log"
    real_popen = bench.subprocess.Popen

    def popen(cmd: list[str], **kwargs: Any) -> Any:  # the server's log, which the bench throws away
        if kwargs.get("stderr") is bench.subprocess.DEVNULL:
            kwargs["stderr"] = log_file
        return real_popen(cmd, **kwargs)

    bench.subprocess.Popen = popen
    with log.open("ab") as log_file, bench.wallet_server(backend, 2, tmp_path) as wallet:
        base = f"http://{bench.HOST}:{wallet.port}"
        phone, _, _ = asyncio.run(bench._prepare_wallet(base))
        with bench.service(base, tmp_path) as service_base:  # registered through the back office
            workers = _workers(wallet.pid)
            assert len(workers) == 2
            served: dict[int, int] = {}
            deadline = time.monotonic() + 60
            while len(served) < 2:
                assert time.monotonic() < deadline, f"only workers {served} answered"
                links = asyncio.run(bench._links(service_base, 4))
                for link in links:
                    worker = asyncio.run(_present(bench, base, phone, link, workers, wallet.port))
                    served[worker] = served.get(worker, 0) + 1
            assert _workers(wallet.pid) == workers  # none was replaced
    events = [json.loads(line).get("event") for line in log.read_text().splitlines() if line.startswith("{")]
    assert "worker_failed" not in events and "worker_restarted" not in events, log.read_text()[-3000:]
    assert events.count("city_ready") == 2
