"""One source-of-randomness protocol for every package (nonces, codes, blinding): the operating
system's by default, fixed values in tests."""

from __future__ import annotations

import secrets
from typing import Protocol

__all__ = ["Randomness", "SystemRandomness"]


class Randomness(Protocol):
    """Source of unpredictable bytes (nonces, codes, state, blinding). Production: :class:`SystemRandomness`."""

    def token_bytes(self, n: int) -> bytes: ...


class SystemRandomness:
    """Randomness from the operating system (``secrets``)."""

    def token_bytes(self, n: int) -> bytes:
        return secrets.token_bytes(n)

    def __repr__(self) -> str:
        return "SystemRandomness()"
