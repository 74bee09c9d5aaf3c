"""``vcsdk dev up`` as a developer runs it: a subprocess that prints the city, serves the service
quickstart (docs/quickstart-service.md, examples/quickstart_service.py) unchanged from issue to
refusal, and leaves no process and no open port behind after Ctrl-C."""

from __future__ import annotations

import ast
import asyncio
import inspect
import json
import os
import selectors
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests._net import free_port
from tests.docs._blocks import blocks_of

pytestmark = [pytest.mark.integration, pytest.mark.slow]  # the whole local city in subprocesses

ROOT = Path(__file__).resolve().parents[1]
QUICKSTART = ROOT / "examples" / "quickstart_service.py"
READY_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 30.0


def _first_line(proc: subprocess.Popen[str], timeout: float) -> str:
    """The first stdout line of ``proc``, waiting at most ``timeout`` seconds (select, no sleeps)."""
    assert proc.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdout, selectors.EVENT_READ)
        if not selector.select(timeout):
            return ""
    return proc.stdout.readline()


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    status = Path(f"/proc/{pid}/stat")
    return status.exists() and status.read_text().split()[2] == "Z"  # a zombie is no longer running


def _closed(url: str) -> bool:
    host, port = url.split("//", 1)[1].split("/", 1)[0].rsplit(":", 1)
    with socket.socket() as sock:
        return sock.connect_ex((host, int(port))) != 0


def _run_docs_block(page: Path, start: str, namespace: dict[str, Any]) -> dict[str, Any]:
    """Run the page's Python block that begins with ``start`` (top-level await allowed)."""
    (block,) = [b for b in blocks_of(page) if b.language == "python" and b.source.startswith(start)]
    code = compile("\n" * (block.line - 1) + block.source, str(page), "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)

    async def run() -> None:
        result = eval(code, namespace)
        if inspect.iscoroutine(result):
            await result

    asyncio.run(run())
    return namespace


@pytest.fixture
def dev_city(node_tools: Path, tmp_path: Path) -> Any:
    """``vcsdk dev up`` on free ports in tmp_path/.vcsdk-dev; yields (city, process)."""
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "vcsdk", "dev", "up", "--rpc-port", "0", "--wallet-port", "0", "--kyc-port", "0",
         "--json"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        line = _first_line(proc, READY_TIMEOUT_S)
        assert line, f"vcsdk dev up printed nothing in {READY_TIMEOUT_S:g} s"
        city = json.loads(line)
        city["_startup_s"] = time.monotonic() - started
        yield city, proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


def test_dev_up_runs_the_service_quickstart_and_stops_everything(dev_city: Any, tmp_path: Path) -> None:
    city, proc = dev_city
    city_file = tmp_path / ".vcsdk-dev" / "city.json"
    assert json.loads(city_file.read_text())["wallet_url"] == city["wallet_url"]
    for key in ("rpc_url", "wallet_url", "issuer_url", "kyc_registry_url", "api_docs", "network_config",
                "admin_token", "service_key", "city_did"):
        assert city[key], key
    assert Path(city["network_config"]).is_file() and Path(city["service_key"]).is_file()
    assert city["hardfork"] == "cancun" and city["city_did"].startswith("did:ethr:0x7a69:")

    # The quickstart file, unchanged, from the folder dev up ran in (it finds .vcsdk-dev/city.json).
    run = subprocess.run(
        [sys.executable, str(QUICKSTART)], cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False,
        env={**os.environ, "SHOP_PORT": str(free_port())},
    )
    assert run.returncode == 0, run.stderr[-3000:]
    out = run.stdout
    assert "shop DID: did:ethr:0x7a69:" in out
    assert "the shop learned {'address': {'locality': '加賀市'}, 'age_equal_or_over': {'20': True}}" in out
    assert "the wallet kept the shop's access receipt rcpt-" in out
    assert "receipt final on chain, inclusion proof verified: True" in out
    assert "declined: the shop was told access_denied" in out
    assert ("after revocation: the wallet shows refused (credential_revoked), "
            "the shop was told credential_revoked") in out
    assert "a new request: the wallet has a credential to share: False" in out

    # The wallet quick start (docs/quickstart-wallet.md, examples/quickstart_wallet.py), unchanged.
    wallet = subprocess.run([sys.executable, str(ROOT / "examples" / "quickstart_wallet.py")], cwd=tmp_path,
                            capture_output=True, text=True, timeout=300, check=False)
    assert wallet.returncode == 0, wallet.stderr[-3000:]
    assert "bound to this phone's key: True" in wallet.stdout and "PIN of 6 digits" in wallet.stdout

    # docs/wallet-api.md's client block, as written, against the same city.
    ns = _run_docs_block(ROOT / "docs" / "wallet-api.md", "from wallet_server.client import",
                         {"wallet_url": city["wallet_url"], "admin_token": city["admin_token"]})
    assert ns["issued"]["outcome"] == "verified" and ns["credential"]["vct"] == city["resident_identity_vct"]

    # Ctrl-C: everything it started stops; nothing listens any more.
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=STOP_TIMEOUT_S) == 0
    assert _gone(city["anvil_pid"])
    for url in (city["rpc_url"], city["wallet_url"], city["kyc_registry_url"]):
        assert _closed(url), url


def test_a_taken_port_names_the_flag(node_tools: Path, tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        run = subprocess.run(
            [sys.executable, "-m", "vcsdk", "dev", "up", "--rpc-port", "0", "--wallet-port", str(port)],
            cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False,
        )
    assert run.returncode == 1
    error = json.loads(run.stderr.strip().splitlines()[-1])["error"]
    assert f"port {port}" in error["message"] and "--wallet-port 0" in error["message"]
