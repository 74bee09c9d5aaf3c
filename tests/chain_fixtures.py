"""Chain fixtures: the embedded py-evm chain and a real local anvil node.

- ``embedded_chain``: a fresh in-process chain per test (no set-up, fast).
- ``anvil_node``: one anvil process per test session, from ``tools/node_modules`` (``npm ci`` runs
  first if the tools are missing), on a free loopback port, stopped by its process id at the end.
- ``anvil_chain``: a :class:`~vcsdk.registry.Chain` connected to that node, per test.
- ``any_chain``: parametrized over both; the anvil case carries the ``integration`` marker.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from vcsdk.registry import Chain, DevChain, DevNode, EmbeddedChain, JsonRpcChain

REPO_ROOT = Path(__file__).resolve().parent.parent
TOOLS_DIR = REPO_ROOT / "tools"
_NPM_CI_TIMEOUT_S = 600


def ensure_node_tools() -> Path:
    """Return the tools folder, running ``npm ci`` there once if its node_modules is missing."""
    if (TOOLS_DIR / "node_modules" / "@foundry-rs").is_dir() and (TOOLS_DIR / "node_modules" / "solc").is_dir():
        return TOOLS_DIR
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail("tools/node_modules is missing and npm is not installed; install Node.js 20+ and run `make setup`")
    proc = subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=TOOLS_DIR,
        capture_output=True,
        timeout=_NPM_CI_TIMEOUT_S,
        check=False,
    )
    if proc.returncode != 0:
        pytest.fail(f"`npm ci` in tools/ failed:\n{proc.stderr.decode(errors='replace')[-2000:]}")
    return TOOLS_DIR


@pytest.fixture(scope="session")
def node_tools() -> Path:
    """The npm tools folder, installed."""
    return ensure_node_tools()


@pytest.fixture(scope="session")
def anvil_node(node_tools: Path) -> Iterator[DevNode]:
    """One anvil dev node for the whole session on a free 127.0.0.1 port."""
    node = DevNode.start(tools_dir=node_tools, startup_timeout=60.0)
    try:
        yield node
    finally:
        node.stop()


@pytest.fixture
def anvil_url(anvil_node: DevNode) -> str:
    """The JSON-RPC URL of the session's anvil node."""
    return anvil_node.url


@pytest.fixture
async def anvil_chain(anvil_node: DevNode) -> AsyncIterator[JsonRpcChain]:
    """A chain connected to the session's anvil node; it mines blocks to reach confirmations."""
    async with await DevChain.connect(
        anvil_node.url, chain_id=anvil_node.chain_id, timeout=10.0, poll_interval=0.05, mine_to_confirm=True
    ) as chain:
        yield chain


@pytest.fixture
async def embedded_chain() -> AsyncIterator[EmbeddedChain]:
    """A fresh embedded py-evm chain."""
    async with Chain.embedded() as chain:
        yield chain


@pytest.fixture(params=["embedded", pytest.param("anvil", marks=pytest.mark.integration)])
async def any_chain(request: pytest.FixtureRequest) -> AsyncIterator[Chain]:
    """The embedded chain and an anvil-backed chain, in turn."""
    if request.param == "embedded":
        async with Chain.embedded() as chain:
            yield chain
    else:
        node: DevNode = request.getfixturevalue("anvil_node")
        async with await DevChain.connect(
            node.url, chain_id=node.chain_id, timeout=10.0, poll_interval=0.05, mine_to_confirm=True
        ) as chain:
            yield chain


async def as_dev_chain(chain: Chain) -> AsyncIterator[DevChain]:
    """The dev helpers for a chain the code under test opened as a production ``Chain`` (the wallet
    server's): itself if it is a dev chain (embedded), else a ``DevChain`` on the same node."""
    if isinstance(chain, DevChain):
        yield chain
        return
    async with await DevChain.connect(chain.endpoint, chain_id=int(chain.chain_id)) as dev:
        yield dev


async def mine(chain: Chain, blocks: int = 1) -> None:
    """Mine ``blocks`` on the dev node behind ``chain``."""
    async for dev in as_dev_chain(chain):
        await dev.mine(blocks)


async def fund(chain: Chain, address: str, amount_wei: int) -> None:
    """Fund ``address`` from the dev node's first unlocked account."""
    async for dev in as_dev_chain(chain):
        await dev.fund(address, amount_wei)
