"""vcsdk: decentralized identity and verifiable credentials for a city, its residents and services."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
