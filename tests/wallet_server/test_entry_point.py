"""The entry points: ``python -m wallet_server`` serves on a port; ``vcsdk serve`` has the same flags."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from vcsdk._cli import build_parser
from vcsdk.errors import InvalidInputError


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_vcsdk_serve_is_registered() -> None:
    args = build_parser().parse_args(["serve", "--database", "postgresql://x@127.0.0.1/test", "--port", "1"])
    assert args.database_url == "postgresql://x@127.0.0.1/test" and args.port == 1


@pytest.mark.integration
@pytest.mark.parametrize("loop_args", [[], ["--event-loop", "asyncio"]], ids=["uvloop", "asyncio"])
def test_python_m_wallet_server_serves_health(tmp_path: Path, loop_args: list[str]) -> None:
    port = free_port()
    database = f"sqlite:///{tmp_path / 'w.db'}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "wallet_server", "--database", database, "--port", str(port), *loop_args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:  # poll until the port answers (bounded); this is a readiness wait, not a sync sleep
            try:
                resp = requests.get(f"http://127.0.0.1:{port}/health", timeout=2)
                break
            except requests.ConnectionError:
                assert proc.poll() is None, "server exited early"
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.1)
        assert resp.json() == {"status": "ok"} and resp.headers["X-Request-Id"]
        assert (tmp_path / "w.db.keys.json").exists()
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=30)
    # It says where it listens and where the development admin token is (it was silent).
    assert f"wallet server on http://127.0.0.1:{port} (API page: http://127.0.0.1:{port}/docs)" in out
    assert f"the admin token (dev_admin_token): {(tmp_path / 'w.db.keys.json').resolve()}" in out


def test_rewrap_keys_flag(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "wallet_server", "--database", f"sqlite:///{tmp_path / 'w.db'}", "--rewrap-keys"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert "re-wrapped 0 resident data keys" in out.stdout


def test_several_workers_need_a_chain_node(tmp_path: Path) -> None:
    # The embedded chain lives inside one process: workers would each have their own chain.
    out = subprocess.run(
        [sys.executable, "-m", "wallet_server", "--database", f"sqlite:///{tmp_path / 'w.db'}", "--workers", "2"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 1
    assert "several workers need a chain node (rpc_url)" in out.stderr and "invalid_input" in out.stderr


def test_worker_count_and_timeouts_are_checked() -> None:
    from datetime import timedelta

    from wallet_server.settings import Settings

    with pytest.raises(InvalidInputError):
        Settings(workers=0)
    with pytest.raises(InvalidInputError):
        Settings(database_timeout=timedelta(0))
    assert Settings(workers=3).workers == 3
    with pytest.raises(InvalidInputError, match="event_loop must be uvloop or asyncio"):
        Settings(event_loop="tokio")


def test_the_event_loop_is_uvloop_unless_asyncio_is_asked_for() -> None:
    import asyncio

    import uvloop

    from wallet_server.__main__ import _new_loop
    from wallet_server.settings import Settings

    default, plain = _new_loop(Settings()), _new_loop(Settings(event_loop="asyncio"))
    try:
        assert isinstance(default, uvloop.Loop)
        assert not isinstance(plain, uvloop.Loop) and isinstance(plain, asyncio.BaseEventLoop)
    finally:
        default.close()
        plain.close()


def test_start_up_objects_are_frozen_after_the_city_is_set_up(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # What start-up made lives as long as the process: a full collection must not rescan it while
    # requests wait (it took about 60 ms). The freeze runs last, after the city's set-up.
    import asyncio
    import gc

    from aiohttp import web

    from wallet_server import __main__ as entry
    from wallet_server.settings import Settings

    started: list[web.Application] = []

    def run_app(app: web.Application, *, loop: asyncio.AbstractEventLoop, **kwargs: object) -> None:
        started.append(app)
        loop.close()

    monkeypatch.setattr(entry.web, "run_app", run_app)
    entry._run(Settings(database_url=f"sqlite:///{tmp_path / 'w.db'}", event_loop="asyncio"))
    hooks = list(started[0].on_startup)
    assert hooks[-1] is entry._freeze_startup_objects
    assert hooks.index(entry._set_up_city) < hooks.index(entry._freeze_startup_objects)
    gc.unfreeze()
    before = gc.get_freeze_count()
    try:
        asyncio.run(entry._freeze_startup_objects(started[0]))
        assert gc.get_freeze_count() > before
    finally:
        gc.unfreeze()
