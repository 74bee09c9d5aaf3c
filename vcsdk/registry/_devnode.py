"""A local anvil dev node, started from the npm package in ``tools/node_modules``, for tests and demos."""

from __future__ import annotations

import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Final, Self

from vcsdk.errors import ChainUnavailableError, RegistryError
from vcsdk.registry._solc import COMPILER_SETTINGS, find_tools_dir

__all__ = ["DevNode", "find_anvil", "free_loopback_port"]

DEFAULT_DEV_CHAIN_ID: Final = 31337
_PLATFORMS: Final = {
    ("linux", "x86_64"): "linux-amd64",
    ("linux", "amd64"): "linux-amd64",
    ("linux", "aarch64"): "linux-arm64",
    ("linux", "arm64"): "linux-arm64",
    ("darwin", "x86_64"): "darwin-amd64",
    ("darwin", "arm64"): "darwin-arm64",
    ("win32", "amd64"): "win32-amd64",
}


def find_anvil(tools_dir: Path | None = None) -> Path:
    """The anvil binary shipped by the ``@foundry-rs/anvil-<platform>`` npm package.

    :raises RegistryError: ``code="tools_missing"`` if it is not installed (run ``npm ci`` in tools/).
    """
    tools = tools_dir or find_tools_dir()
    suffix = _PLATFORMS.get((sys.platform, platform.machine().lower()))
    if suffix is None:
        raise RegistryError(f"no anvil build for {sys.platform}/{platform.machine()}", code="tools_missing")
    name = "anvil.exe" if sys.platform == "win32" else "anvil"
    binary = tools / "node_modules" / "@foundry-rs" / f"anvil-{suffix}" / "bin" / name
    if not binary.is_file():
        raise RegistryError(
            f"anvil is not installed under {tools.name}/node_modules; run `npm ci` in the tools folder",
            code="tools_missing",
        )
    return binary


def free_loopback_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _chain_id(url: str, *, timeout: float) -> int | None:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}).encode()
    headers = {"Content-Type": "application/json"}
    request = urllib.request.Request(url, data=body, headers=headers)  # noqa: S310 - loopback http only
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - loopback http only
            answer = json.loads(response.read())
    except (OSError, urllib.error.URLError, ValueError):
        return None
    result = answer.get("result") if isinstance(answer, dict) else None
    return int(result, 16) if isinstance(result, str) else None


class DevNode:
    """An anvil process listening on ``127.0.0.1``; stop it with :meth:`stop` or ``with``.

    Use :attr:`url` with :meth:`vcsdk.registry.Chain.connect` (pass ``mine_to_confirm=True``, since
    anvil makes a block only per transaction unless ``block_time`` is set).
    """

    def __init__(
        self, process: subprocess.Popen[bytes], *, url: str, chain_id: int, log: tempfile._TemporaryFileWrapper[bytes]
    ) -> None:
        self._process = process
        self._log = log
        self.url = url
        self.chain_id = chain_id

    @property
    def pid(self) -> int:
        """The anvil process id."""
        return self._process.pid

    @classmethod
    def start(
        cls,
        *,
        port: int | None = None,
        chain_id: int = DEFAULT_DEV_CHAIN_ID,
        block_time: float | None = None,
        hardfork: str | None = None,
        tools_dir: Path | None = None,
        startup_timeout: float = 30.0,
        extra_args: tuple[str, ...] = (),
    ) -> DevNode:
        """Start anvil on a free loopback port and wait (bounded) until it answers ``eth_chainId``.

        :param port: the port; default: a free one (never assumes 8545).
        :param chain_id: the dev chain id (default 31337).
        :param block_time: seconds between blocks; default: one block per transaction (automine).
        :param hardfork: the EVM hardfork (``"shanghai"``, ``"prague"``, …); default: the one the
            shipped contracts are compiled for, so the dev node behaves like the city's node.
        :param extra_args: more anvil flags (``("--no-mining",)``: blocks only on ``evm_mine``).
        :param startup_timeout: seconds to wait for the node to answer.
        :raises RegistryError: ``code="tools_missing"`` if anvil is not installed.
        :raises ChainUnavailableError: if anvil exits or does not answer within ``startup_timeout``.
        """
        binary = find_anvil(tools_dir)
        chosen = port or free_loopback_port()
        args = [
            str(binary),
            "--host",
            "127.0.0.1",
            "--port",
            str(chosen),
            "--chain-id",
            str(chain_id),
            "--hardfork",
            hardfork or str(COMPILER_SETTINGS["evmVersion"]),
            "--silent",
            *extra_args,
        ]
        if block_time is not None:
            args += ["--block-time", f"{block_time:g}"]
        # Output goes to a temporary file, never a pipe nobody drains (a full pipe would stall the node).
        log = tempfile.NamedTemporaryFile(prefix="anvil-", suffix=".log")
        process = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "NO_COLOR": "1"},
        )
        node = cls(process, url=f"http://127.0.0.1:{chosen}", chain_id=chain_id, log=log)
        deadline = time.monotonic() + startup_timeout
        while True:
            answered = _chain_id(node.url, timeout=1.0)
            if answered is not None:
                if answered != chain_id:
                    node.stop()
                    raise ChainUnavailableError(
                        f"port {chosen} is served by another node (chain id {answered}); try again"
                    )
                return node
            if process.poll() is not None:
                error = node.output()[-500:]
                node.stop()
                raise ChainUnavailableError(f"anvil exited during start-up: {error.strip()}")
            if time.monotonic() >= deadline:
                node.stop()
                raise ChainUnavailableError(f"anvil did not answer within {startup_timeout:g} s")
            try:  # wait for the process a little; returns early if it dies
                process.wait(timeout=0.05)
            except subprocess.TimeoutExpired:
                pass

    def stop(self, *, timeout: float = 10.0) -> None:
        """Stop the process (terminate, then kill after ``timeout``) and reap it."""
        process = self._process
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=timeout)
        self._log.close()

    def output(self) -> str:
        """What anvil printed so far (it runs with ``--silent``: start-up errors only)."""
        if self._log.closed:
            return ""
        self._log.flush()
        with open(self._log.name, "rb") as handle:
            return handle.read().decode(errors="replace")

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"DevNode(url={self.url!r}, chain_id={self.chain_id}, pid={self.pid})"
