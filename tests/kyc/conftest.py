"""Fixtures: the local SOAP registry on 127.0.0.1 and clients with fast, bounded settings."""

from __future__ import annotations

import socket

import pytest

from vcsdk.kyc import LocalResidentRegistry, RegistryClientConfig, ResidentRegistryClient

#: Fast but real: every call is bounded by these timeouts; backoff waits are zero.
FAST = RegistryClientConfig(timeout=2.0, connect_timeout=1.0, max_attempts=3, backoff_initial=0.0, jitter=False)


@pytest.fixture
async def registry():
    async with LocalResidentRegistry(port=0) as reg:
        yield reg


@pytest.fixture
async def client(registry):
    async with ResidentRegistryClient(registry.url, config=FAST) as c:
        yield c


@pytest.fixture
def closed_port_url():
    """A loopback URL on which nothing listens (the port was bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/resident-registry"
