"""Fixtures for the interop tests: our issuer, verifier and wallet served over HTTP on 127.0.0.1
on the real clock (the independent implementations sign with the time of day)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.oid4vc.conftest import city_key, device_key  # noqa: F401  (fixtures)
from vcsdk.keys import Key


def now() -> datetime:
    return datetime.now(UTC)


@pytest.fixture(scope="session")
def p256_city_key() -> Key:
    return Key.generate("P-256")
