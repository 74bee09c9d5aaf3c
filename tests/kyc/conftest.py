"""Fixtures: the local SOAP registry on 127.0.0.1 and clients with fast, bounded settings."""

from __future__ import annotations

import pytest

from tests._net import free_port
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
    return f"http://127.0.0.1:{free_port()}/resident-registry"
